"""divekit: a hands-on deep learning toolkit for PyTorch.

    import divekit
    run = divekit.train(model="lenet", epochs=10, lr=0.9)
    print(run.final["test_acc"], divekit.load_run(run.path).evaluate())

Importing the package is cheap: the API (``divekit.api``) and torch load when a name below is first used.
"""

from divekit._lazy import lazy_getattr

__version__ = "0.1.0"
_LAZY = {name: "divekit.api" for name in ("train", "resume", "kfold", "lr_find", "load_run", "config", "Run")}
_LAZY["TrainConfig"] = "divekit.training.config"
_LAZY["tune"] = "divekit.tuning"
__all__ = ["__version__", *_LAZY]

__getattr__ = lazy_getattr("divekit", _LAZY)
