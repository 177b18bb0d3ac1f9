"""Model registry and builders (torch is imported on first use)."""

from __future__ import annotations

from divekit._lazy import lazy_getattr

_LAZY = {
    "build_model": "divekit.models.registry",
    "list_models": "divekit.models.registry",
    "register": "divekit.models.registry",
    "MODELS": "divekit.models.registry",
    "summary": "divekit.models.summarize",
}
__all__ = list(_LAZY)

__getattr__ = lazy_getattr("divekit.models", _LAZY)
