"""Model registry and builders (torch is imported on first use)."""

from __future__ import annotations

_LAZY = {
    "build_model": "divekit.models.registry",
    "list_models": "divekit.models.registry",
    "register": "divekit.models.registry",
    "MODELS": "divekit.models.registry",
    "summary": "divekit.models.summarize",
}
__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'divekit.models' has no attribute {name!r}")
