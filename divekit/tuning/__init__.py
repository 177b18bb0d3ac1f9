"""Hyperparameter search on Optuna: ``divekit tune`` and ``divekit.tune`` (see docs/tuning.md).

    space.py      the search space, from --param flags or a TOML file
    spec.py       the study's definition (recorded in the study), its sampler and pruner
    storage.py    the journal in a study folder or PostgreSQL; the budget lock; dead workers noticed
    objective.py  one trial = one divekit run, reporting its validation metric every epoch
    worker.py     the loop each worker process runs
    study.py      tune(): the study set up or rejoined, its workers run, its report written
    report.py     the self-contained HTML study report

Importing this package does not import Optuna; running a study does.
"""

from divekit._lazy import lazy_getattr

_LAZY = {"tune": "divekit.tuning.study", "best_config": "divekit.tuning.study", "StudyResult": "divekit.tuning.study"}
__all__ = list(_LAZY)

__getattr__ = lazy_getattr("divekit.tuning", _LAZY)
