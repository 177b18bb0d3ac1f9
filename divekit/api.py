"""divekit's Python API: everything the command line does, as functions. The CLI itself calls these.

    import divekit

    run = divekit.train(model="lenet", epochs=10, lr=0.9)   # a recipe with settings changed, or a TrainConfig
    print(run.final["test_acc"], run.path)
    run = divekit.load_run(run.path)                       # any finished run directory
    print(run.evaluate())                                  # {'split': 'test', 'loss': …, 'acc': …}
    run.predict().rows[:3]                                 # one row per test example
    divekit.kfold(data="house-prices", k=5)                # cross-validation, mean ± std per metric
    divekit.lr_find(model="lenet").suggestion              # a learning rate read off a range test

Settings are ``TrainConfig`` field names (``model``, ``epochs``, ``lr``, ``data`` …). Without a ``recipe`` a run
starts from the recipe for its kind of data (``divekit.training.recipes``): ``fast`` for images without a model
named, ``plain`` with one, ``house-prices`` for tables, ``imdb-bilstm``/``imdb-textcnn`` for text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from divekit.errors import ConfigError
from divekit.runs import read_json, resolve_run_dir, write_text
from divekit.training.config import TrainConfig, ensure_config
from divekit.training.recipes import RECIPES, VARIANTS, default_recipe, recipe_config
from divekit.training.tasks import PredictionTable, kind_of, task_for


def config(recipe: str | None = None, **settings: Any) -> TrainConfig:
    """The complete configuration of a run: ``recipe`` (default: the one for the data's kind; a recipe with
    variants: the variant for this machine, ``recipe_variant``) with ``settings`` (TrainConfig field names)
    applied. Checked once, here."""
    if recipe in VARIANTS:
        recipe = recipe_variant(recipe, settings)[0]
    if recipe is not None and recipe not in RECIPES:
        names = [*RECIPES, *VARIANTS]
        raise ConfigError(f"--recipe {recipe}: unknown recipe; choose one of {', '.join(names)}")
    data = settings.get("data") or (RECIPES[recipe]["data"] if recipe else RECIPES["fast"]["data"])
    kind = kind_of(data, settings.get("data_options"))
    return recipe_config(recipe or default_recipe(kind, settings.get("model")), settings)


def recipe_variant(recipe: str, settings: dict[str, Any]) -> tuple[str, str]:
    """``(variant, why)``: the variant of ``recipe`` (``recipes.VARIANTS``) for the precision this run will have —
    the ``precision`` setting if given, else native bf16 on this machine's CPU or a GPU."""
    variants = VARIANTS[recipe]
    precision = settings.get("precision", "auto")
    if precision != "auto":
        kind = "fp32" if precision == "fp32" else "bf16"
        return variants[kind], f"--precision {precision}"
    from divekit import machine

    device = settings.get("device", "auto")
    if device != "cpu" and (device != "auto" or machine.gpu_driver()):
        import torch

        if torch.cuda.is_available():
            return variants["bf16"], "a GPU"
    if machine.cpu_bf16_native():
        return variants["bf16"], "a CPU with native bf16"
    return variants["fp32"], "a CPU without native bf16"


def _config(cfg: TrainConfig | dict | None, recipe: str | None, settings: dict[str, Any]) -> TrainConfig:
    if cfg is None:
        return config(recipe, **settings)
    if recipe is not None:
        raise ConfigError("give either a config or a recipe, not both")
    cfg = ensure_config(cfg)
    return cfg.replace(**settings) if settings else cfg


def train(cfg: TrainConfig | dict | None = None, *, recipe: str | None = None, runs_dir: str | Path = "runs",
          name: str | None = None, callbacks: list[Any] | None = None, progress: bool = False,
          checkpoint_every: int | None = None, on_nan: str | None = None, ddp: bool = False,
          test_set: bool = True, **settings: Any) -> Run | None:
    """Train a model and write its run directory; returns the finished ``Run``.

    Args:
        cfg: a ``TrainConfig`` (or a dict of its fields) to run as it is; or None to start from ``recipe``.
        settings: TrainConfig fields that change the config or recipe (``epochs=5``, ``model="lenet"`` …).
        callbacks: objects with ``on_train_start/on_step_end/on_epoch_end/on_train_end(state)`` methods.
        progress: print one line per epoch (the command line also draws RUN/live.png).
        checkpoint_every: also checkpoint every N steps (default: at each epoch end).
        on_nan: ``stop`` (default) or ``skip`` a step whose loss or gradient is not finite.
        ddp: data-parallel training in the processes ``torchrun`` started (see docs/distributed.md); the
            other processes than rank 0 return None.
        test_set: False never evaluates the test set (the run's summary has no test metrics): for choosing
            hyperparameters on validation rows.
    """
    resolved = _config(cfg, recipe, settings)
    _prefetch(resolved)
    options = dict(runs_dir=runs_dir, name=name, checkpoint_every=checkpoint_every, on_nan=on_nan,
                   **({} if test_set else {"test_set": False}))
    return _train(resolved, options, _with_progress(callbacks, progress), ddp)


def resume(run: str | Path, *, runs_dir: str | Path = "runs", callbacks: list[Any] | None = None,
           progress: bool = False, ddp: bool = False) -> Run | None:
    """Continue the unfinished run ``run`` (a path, or a name under ``runs_dir``) from its last checkpoint, with
    its own config.json; it ends bit for bit where an uninterrupted run ends."""
    from divekit.training.rundir import read_config

    run_dir = resolve_run_dir(run, runs_dir)
    return _train(read_config(run_dir)[0], dict(runs_dir=runs_dir, resume=run_dir), _with_progress(callbacks, progress),
                  ddp)


def _train(cfg: TrainConfig, options: dict[str, Any], callbacks: list[Any], ddp: bool) -> Run | None:
    """``train_run`` in this process, or in the process group torchrun set up (callbacks on rank 0 only)."""
    from divekit.training import distributed
    from divekit.training.run import train_run

    resumed = options.get("resume")
    if not ddp:
        return Run(train_run(None if resumed else cfg, callbacks=callbacks, **options)[0])
    world = distributed.launch_world()
    if kind_of(cfg.data, cfg.data_options) != "image":
        raise ConfigError(f"--ddp: supported for image data only so far, not {kind_of(cfg.data, cfg.data_options)} "
                          f"data")
    if cfg.freeze_epochs:  # DDP's gradient exchange is set up for the parameters that train at its start
        raise ConfigError("--freeze-epochs is not supported with --ddp; fine-tune with --init alone, or in one process")
    if options.get("checkpoint_every"):
        # a mid-epoch checkpoint would hold only rank 0's share of the epoch's running sums
        raise ConfigError("--checkpoint-every is not supported with --ddp (checkpoints are written at each epoch end)")
    distributed.check_batch(cfg.batch_size, world)
    distributed.init(cfg.device)
    try:
        main = distributed.is_main()
        run_dir, _ = train_run(None if resumed else cfg, callbacks=callbacks if main else [], **options)
        return Run(run_dir) if main else None
    finally:
        distributed.teardown()


def _prefetch(cfg: TrainConfig) -> None:
    """Start reading an image dataset's files while torch is being imported (the first import of torch comes
    next); anything unusual is left to the real load, which reports it."""
    from divekit.data.idx import prefetch_idx
    from divekit.data.registry import locate
    from divekit.errors import DivekitError

    if kind_of(cfg.data, cfg.data_options) != "image":
        return
    try:
        _, files = locate(cfg.data, cfg.data_dir, download=False)
    except (DivekitError, OSError):
        return
    prefetch_idx(files.values())


def kfold(cfg: TrainConfig | dict | None = None, *, k: int = 5, recipe: str | None = None,
          stratify: bool | None = None, patience: int | None = None, monitor: str | None = None,
          runs_dir: str | Path = "runs", name: str | None = None, verbose: bool = False,
          callbacks: list[Any] | None = None, say: Any = print, **settings: Any) -> Run:
    """k-fold cross-validation (``divekit.training.kfold.run_kfold``); the run's ``summary`` has the per-fold
    metrics and their mean ± std. ``callbacks`` join every fold's training; ``say`` prints the per-fold lines."""
    from divekit.options import check
    from divekit.training.kfold import run_kfold

    check("k", k)
    run_dir, _ = run_kfold(_config(cfg, recipe, settings), k, stratify, patience, monitor, runs_dir, name, verbose,
                           say, callbacks)
    return Run(run_dir)


def lr_find(cfg: TrainConfig | dict | None = None, *, recipe: str | None = None, start_lr: float = 1e-7,
            end_lr: float = 10.0, steps: int = 100, diverge: float = 4.0, out: str | Path | None = None,
            **settings: Any):
    """The learning-rate range test (``divekit.training.lr_find``) of a config or recipe: its net trained on the
    training split only, at rates growing exponentially from ``start_lr`` to ``end_lr`` over ``steps`` steps
    (stopping when the loss passes ``diverge`` × its minimum). Returns the result (``.suggestion``, ``.low``,
    ``.high``, ``.lines()``, the curve); ``out``: also draw it there as PNG. No run directory is written, and a
    run started afterwards is bit for bit the run started without it."""
    from divekit.options import check
    from divekit.training.lr_find import lr_find as range_test
    from divekit.training.lr_find import plot_lr_find

    check("sweep_steps", steps, "--steps")
    check("lr", start_lr, "--start-lr")
    check("lr", end_lr, "--end-lr")
    check("diverge", diverge, "--diverge")
    resolved = _config(cfg, recipe, settings)
    result = range_test(resolved, start_lr, end_lr, steps, diverge)
    if out is not None:
        plot_lr_find(result, out, f"lr-find: {resolved.model} on {resolved.data}, {resolved.opt}")
    return result


def load_run(run: str | Path, runs_dir: str | Path = "runs") -> Run:
    """A run directory (a path, or a name under ``runs_dir``) as a ``Run``."""
    return Run(resolve_run_dir(run, runs_dir))


def _with_progress(callbacks: list[Any] | None, progress: bool) -> list[Any]:
    from divekit.training.progress import Progress

    return [*(callbacks or []), *([Progress()] if progress else [])]


@dataclass
class Run:
    """A run directory: its config, metrics and summary; ``evaluate``, ``predict`` and ``report`` on it."""

    path: Path
    _opened: dict[tuple, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @cached_property
    def _saved(self) -> tuple[TrainConfig, dict[str, Any]]:
        from divekit.training.rundir import read_config

        return read_config(self.path)

    @property
    def config(self) -> TrainConfig:
        """The run's configuration (config.json), checked as any config."""
        return self._saved[0]

    @property
    def meta(self) -> dict[str, Any]:
        """What was resolved when the run started: shapes, classes, dataset, counts, device …"""
        return self._saved[1]

    @property
    def kind(self) -> str:
        """``image``, ``image-folder``, ``tabular``, ``text`` (the data the model learned from), or ``kfold``."""
        raw = read_json(self.path / "config.json")
        meta = raw.get("meta") if isinstance(raw, dict) else None
        if isinstance(meta, dict) and meta.get("kind") in ("kfold", "image-folder"):  # as recorded: the folder
            return meta["kind"]  # may have moved (--data-dir finds it)
        return kind_of(self.config.data, self.config.data_options)

    @property
    def kind_phrase(self) -> str:
        """``an image run``, ``a text run``, ``a kfold run`` …: the kind, for messages."""
        kind = self.kind
        return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} run"

    @cached_property
    def summary(self) -> dict[str, Any]:
        path = self.path / "summary.json"
        return read_json(path) if path.is_file() else {}

    @property
    def history(self) -> list[dict[str, Any]]:
        from divekit.training.rundir import read_metrics

        return read_metrics(self.path) if (self.path / "metrics.csv").is_file() else []

    @property
    def final(self) -> dict[str, Any]:
        """The final metrics (for k-fold: the mean over the folds)."""
        if self.kind == "kfold":
            return dict(self.summary.get("mean") or {})
        return dict(self.summary.get("final") or (self.history[-1] if self.history else {}))

    def open(self, device: str = "auto", data_dir: str | None = None, command: str = "use"):
        """The finished run's model and data (``divekit.training.tasks.Finished``), opened once per setting."""
        key = (device, data_dir)
        if key not in self._opened:
            self._check_finished(command)
            cfg = relocated(self.config, data_dir)
            self._opened[key] = task_for(self.kind).open_run(self.path, cfg, self.meta, device, data_dir)
        return self._opened[key]

    def evaluate(self, data_dir: str | None = None, device: str = "auto") -> dict[str, Any]:
        """Loss and metrics of the saved model on the test set (tabular runs without test labels: the run's
        validation rows, else its training rows; the result's ``split`` says which)."""
        return self.open(device, data_dir, "evaluate").evaluate()

    def predict(self, inputs: Any = None, data_dir: str | None = None, device: str = "auto",
                skip_bad: bool = False) -> PredictionTable:
        """Predictions of the saved model: on the test set in its stored order, or on ``inputs`` (image files or
        folders, one path or a list, for an image run; texts for a text run; a CSV for a tabular run).
        ``skip_bad``: image files that are not usable images are left out (named on stderr) instead of stopping."""
        if skip_bad and (inputs is None or self.kind not in ("image", "image-folder")):
            raise ConfigError("--skip-bad leaves bad files out of the image files to predict on (skip_bad in Python); "
                              "give some, after the run")
        finished = self.open(device, data_dir, "predict with")
        return finished.predict_files(inputs, skip_bad=True) if skip_bad else finished.predict(inputs)

    def write_predictions(self, out: str | Path | None = None, inputs: Any = None, data_dir: str | None = None,
                          device: str = "auto", skip_bad: bool = False) -> tuple[Path, PredictionTable]:
        """``predict`` written as CSV to ``out`` (default ``RUN/predictions.csv``)."""
        table = self.predict(inputs, data_dir, device, skip_bad)
        return write_text(Path(out) if out else self.path / "predictions.csv", table.csv()), table

    def export(self, format: str = "onnx", out: str | Path | None = None, samples: int = 256,
               data_dir: str | None = None):
        """Write the model of an image run as ``format`` (``onnx``, ``torchscript`` or ``pt2``) to ``out``
        (default ``RUN/model.onnx`` …) with a sidecar ``<out>.json`` (input, preprocessing, classes), checked
        against the run on ``samples`` test images first (``divekit.training.export``); returns how it went."""
        from divekit.training.export import export_run

        if self.kind not in ("image", "image-folder"):
            raise ConfigError(f"{self.path} is {self.kind_phrase}; export is for image runs")
        return export_run(self.open("cpu", data_dir, "export"), self.path, format, out, samples)

    def report(self, out: str | Path | None = None, predictions: bool = True, device: str = "cpu") -> Path:
        """Write the run's self-contained HTML report (``RUN/report.html`` unless ``out``); ``predictions``:
        rerun the model over the test set for the confusion matrix and the misclassified examples."""
        from divekit.report.single import write_report

        shown = None
        if predictions and (self.path / "model.safetensors").is_file() and self.kind != "kfold":
            shown = self.open(device).report_predictions()
        return write_report(self.path, out, predictions=shown)

    def _check_finished(self, command: str) -> None:
        if self.kind == "kfold":
            raise ConfigError(f"{self.path} is a k-fold run: it keeps each fold's metrics, not a model to {command}; "
                              f"train one with 'divekit train' (same flags, no --k) for that")
        if not (self.path / "model.safetensors").exists():
            if (self.path / "summary.json").exists():  # finished, then its weights went missing
                raise ConfigError(f"{self.path}: model.safetensors is missing, though the run finished (it has "
                                  f"summary.json); the weights were deleted or moved, so train the run again")
            resume = (f"; continue it with 'divekit train --resume {self.path}'"
                      if (self.path / "checkpoint").is_dir() else "")
            raise ConfigError(f"{self.path} has no model.safetensors: the run did not finish{resume}")


def relocated(cfg: TrainConfig, data_dir: str | None) -> TrainConfig:
    """``cfg`` with its data looked up in ``data_dir`` first: a dataset given as a path that no longer exists
    (moved with its folder) is looked for as ``data_dir`` itself or the same name inside ``data_dir``."""
    if data_dir is None:
        return cfg
    if not Path(data_dir).exists():
        raise ConfigError(f"--data-dir {data_dir}: no such folder or file")
    data = Path(cfg.data)
    if data.is_absolute() and not data.exists():
        inside = Path(data_dir) / data.name
        moved = inside if inside.exists() else Path(data_dir)
        return cfg.replace(data=str(moved.resolve()), data_dir=data_dir)
    return cfg.replace(data_dir=data_dir)
