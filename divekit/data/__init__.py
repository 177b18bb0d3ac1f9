"""Datasets: IDX reader, registry with verified downloads, tensor-resident loaders, splits.

Heavy imports (torch) happen on first use of the names below.
"""

from __future__ import annotations

from divekit._lazy import lazy_getattr

_LAZY = {
    "load_dataset": "divekit.data.images",
    "ImageDataset": "divekit.data.images",
    "TensorLoader": "divekit.data.loader",
    "DataLoaderAdapter": "divekit.data.loader",
    "Augment": "divekit.data.loader",
    "train_valid_split": "divekit.data.split",
    "read_idx": "divekit.data.idx",
    "write_idx": "divekit.data.idx",
    "DATASETS": "divekit.data.registry",
    "locate": "divekit.data.registry",
}
__all__ = list(_LAZY)

__getattr__ = lazy_getattr("divekit.data", _LAZY)
