"""Diagnostics: ``divekit doctor`` (the environment), ``divekit inspect`` (initialisation and gradient flow)
and the mistake checks that run during training.

Importing this package is cheap; each name loads its module (and torch) on first use.
"""

from __future__ import annotations

from divekit._lazy import lazy_getattr

_EXPORTS = {
    "MistakeChecks": "divekit.diagnose.checks",
    "MistakeWarning": "divekit.diagnose.checks",
    "ShuffledLoaderError": "divekit.diagnose.checks",
    "check_ordered_loader": "divekit.diagnose.checks",
    "warn_if_training": "divekit.diagnose.checks",
    "run_doctor": "divekit.diagnose.doctor",
    "inspect_model": "divekit.diagnose.inspect_run",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr("divekit.diagnose", _EXPORTS)
