"""``divekit kfold``: k-fold cross-validation of any ``divekit train`` command. No torch import at module level.

The training examples are cut into k folds; each round trains a fresh model on k-1 folds and validates on
the remaining one (the test set is never touched). The run directory gets ``config.json``,
``fold-I/metrics.csv`` per fold, ``curves.png`` (train vs validation, each fold and the mean) and
``summary.json`` (per-fold final metrics, mean ± std over the folds, and a sentence on overfitting).

For tabular data (``--data house-prices`` or a ``.csv``) unset options default to the book's
house-prices recipe: linear model, Adam, lr 5, no weight decay, batch 64, 100 epochs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BOOL = argparse.BooleanOptionalAction


def add_tabular_arguments(p: argparse.ArgumentParser) -> None:
    """Options for CSV data and tabular models (also fit for ``divekit train``)."""
    g = p.add_argument_group("tabular data (CSV) and models")
    g.add_argument("--target", help="column to predict (default: SalePrice for house-prices, else the last column)")
    g.add_argument("--id-column", help="an identifier column, kept out of the features (house-prices: Id)")
    g.add_argument("--test-csv", help="test CSV for a .csv dataset, read by 'divekit predict' (which also takes "
                                      "--test-csv)")
    g.add_argument("--target-transform", choices=("none", "log", "standard", "log-standard"),
                   help="what the model learns: the target itself (none, the book's MSE on prices), its log, "
                        "or either standardised with training-row statistics (default: none)")
    g.add_argument("--hidden", type=int, nargs="+", metavar="WIDTH", help="hidden layer widths of mlp models")
    g.add_argument("--dropout", type=float, help="dropout after each hidden layer of mlp models")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from divekit.cli.train import add_arguments as add_train_arguments

    add_train_arguments(p, single_run=False)
    g = p.add_argument_group("k-fold")
    g.add_argument("--k", type=int, default=5, help="number of folds (default: %(default)s; 10 is also common)")
    g.add_argument("--stratify", action=BOOL, default=None,
                   help="keep each class's share in every fold (default: on for classification)")
    g.add_argument("--patience", type=int,
                   help="early stopping: end a fold after this many epochs without a better --monitor value "
                        "and restore its best weights")
    g.add_argument("--monitor", help="metric for --patience (default: valid_log_rmse for tabular data, else "
                                     "valid_loss)")
    g.add_argument("--verbose", action="store_true", help="print every epoch of every fold")


def tabular_options(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(data_options, model_options)`` from the tabular flags that were given."""
    from divekit.cli.train import absolute_path

    test = absolute_path(args.test_csv) if args.test_csv else None
    data = {k: v for k, v in (("target", args.target), ("id_column", args.id_column), ("test", test),
                              ("target_transform", args.target_transform)) if v is not None}
    model = {k: v for k, v in (("hidden", tuple(args.hidden) if args.hidden else None),
                               ("dropout", args.dropout)) if v is not None}
    return data, model


def kfold_config(args: argparse.Namespace):
    """The TrainConfig of every fold: ``divekit train``'s, with tabular defaults for CSV data."""
    from divekit.errors import ConfigError

    if args.valid_fraction:
        raise ConfigError("--valid-fraction does not apply to kfold: each fold is the validation set of one round")
    return training_config(args)


def training_config(args: argparse.Namespace):
    """The TrainConfig of ``divekit train`` (and of each k-fold round): the recipe, the flags given, and for
    tabular data the book's house-prices defaults for flags not given."""
    from dataclasses import replace

    from divekit.cli.train import CONFIG_KEYS, config_from_args
    from divekit.errors import ConfigError
    from divekit.train.config import TrainConfig
    from divekit.train.tasks import kind_of

    data_options, model_options = tabular_options(args)
    kind = kind_of(args.data or TrainConfig.data)
    given = {k for k in CONFIG_KEYS if getattr(args, k, None) is not None}
    image_only = sorted(given & {"resize", "augment_crop", "augment_flip", "tta_flip", "tta_shift"})
    if kind != "image" and image_only:
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in image_only)
        raise ConfigError(f"{flags}: for image data, not {kind} data")
    if getattr(args, "embedding", None) and kind != "text":
        raise ConfigError(f"--embedding: for text data (--data imdb), not {kind} data")
    if kind != "tabular":
        config = config_from_args(args)
        if data_options:
            raise ConfigError("--target, --id-column, --test-csv and --target-transform are for tabular (CSV) data")
        return replace(config, model_options={**config.model_options, **model_options})
    from divekit.train.tabular import TABULAR_RECIPE, tabular_config

    config = config_from_args(argparse.Namespace(**{**vars(args), "recipe": args.recipe or "plain"}))
    defaults = {k: v for k, v in TABULAR_RECIPE.items() if k not in given}
    return tabular_config(replace(config, **defaults, data_options=data_options,
                                  model_options={**config.model_options, **model_options}))


@dataclass
class FoldPlan:
    """What k-fold needs to know about a dataset: its size, class labels (for stratification, or None),
    how to train one round ``run(train_idx, valid_idx, callbacks) -> State``, and the default monitor."""

    name: str
    n: int
    labels: Any
    run: Callable
    monitor: str


def tabular_plan(config) -> FoldPlan:
    from divekit.train.tabular import fit_fold, load_tabular_data

    data = load_tabular_data(config)
    return FoldPlan(data.name, len(data.train), None,
                    lambda tr, va, cbs: fit_fold(config, data, tr, va, cbs).state, "valid_log_rmse")


def image_plan(config) -> FoldPlan:
    from dataclasses import replace

    from divekit.data.images import load_dataset
    from divekit.train.device import resolve_device
    from divekit.train.fit import fit
    from divekit.train.run import build_data, image_shape, prepare_model, seed_everything

    train_set = load_dataset(config.data, "train", config.data_dir)
    device = resolve_device(config.device)
    in_shape = image_shape(config, train_set)

    def run(train_idx, valid_idx, callbacks):
        seed_everything(config.seed)
        model, channels_last = prepare_model(config, in_shape, train_set.num_classes, device)
        # build_data's "test" loader is an ordered evaluation loader: here it serves the validation fold
        data = build_data(replace(config, valid_fraction=0.0), train_set.subset(train_idx),
                          train_set.subset(valid_idx, "valid"), device, channels_last)
        return fit(model, data.train, config, data.test, None, callbacks)

    return FoldPlan(train_set.name, len(train_set), train_set.labels, run, "valid_loss")


def mean_std(rows: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and standard deviation (ddof 1) over folds of every train_/valid_ metric."""
    import statistics

    keys = [k for k in rows[0] if k.startswith(("train_", "valid_"))]
    return ({k: statistics.fmean(r[k] for r in rows) for k in keys},
            {k: statistics.stdev(r[k] for r in rows) for k in keys})


def _fmt(row: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v:.4g}" for k, v in row.items() if k.startswith(("train_", "valid_")))


def run_folds(plan: FoldPlan, splits: list, args: argparse.Namespace, run_dir) -> tuple[list[dict], list[list]]:
    """Train one fresh model per fold; write ``fold-I/metrics.csv``; print each fold's final metrics."""
    from divekit.train.callbacks import EarlyStopping, final_row, overfitting_sentence
    from divekit.train.progress import Progress
    from divekit.train.rundir import write_metrics

    folds, histories = [], []
    for i, (train_idx, valid_idx) in enumerate(splits, start=1):
        callbacks: list[Any] = [Progress()] if args.verbose else []
        if args.patience:
            callbacks.insert(0, EarlyStopping(args.monitor or plan.monitor, args.patience))
        state = plan.run(train_idx, valid_idx, callbacks)
        write_metrics(run_dir / f"fold-{i}", state.history)
        final = final_row(state)
        folds.append({"fold": i, "train_examples": len(train_idx), "valid_examples": len(valid_idx),
                      "epochs_run": len(state.history), "final": final,
                      "early_stopping": state.extra.get("early_stopping"),
                      "overfitting": overfitting_sentence(state.history)})
        histories.append(state.history)
        print(f"fold {i}: {_fmt(final)}")
    return folds, histories


def run(args: argparse.Namespace) -> int:
    import time

    from divekit.data.kfold import KFold, StratifiedKFold
    from divekit.errors import ConfigError
    from divekit.runs import default_run_name, new_run_dir, write_json
    from divekit.train.callbacks import EarlyStopping, mean_history, overfitting_sentence, pick_metric, plot_train_valid
    from divekit.train.device import set_threads
    from divekit.train.run import write_run_report
    from divekit.train.rundir import write_config
    from divekit.train.tasks import kind_of

    t0 = time.perf_counter()
    config = kfold_config(args)
    kind = kind_of(config.data)
    if kind not in ("tabular", "image"):
        raise ConfigError(f"divekit kfold handles image and tabular data; {config.data} is {kind} data")
    threads = set_threads(config.threads)
    plan = tabular_plan(config) if kind == "tabular" else image_plan(config)
    stratify = config.task == "classification" if args.stratify is None else args.stratify
    if stratify and plan.labels is None:
        raise ConfigError(f"--stratify needs class labels; {plan.name} is a regression dataset")
    if args.patience is not None:
        EarlyStopping(args.monitor or plan.monitor, args.patience)  # refuses a bad --patience before any writing
    if args.monitor and not args.monitor.startswith(("train_", "valid_")):
        raise ConfigError(f"--monitor {args.monitor}: expected a train_ or valid_ metric, e.g. {plan.monitor}")
    splits = list(StratifiedKFold(args.k, config.seed).split(plan.labels) if stratify
                  else KFold(args.k, seed=config.seed).split(plan.n))
    run_dir = new_run_dir(args.runs_dir, args.name or default_run_name(f"kfold{args.k}-{config.model}-{plan.name}"))
    write_config(run_dir, config, {"kind": "kfold", "k": args.k, "stratified": stratify, "dataset": plan.name,
                                   "examples": plan.n, "valid_sizes": [len(v) for _, v in splits],
                                   "patience": args.patience, "monitor": args.monitor or plan.monitor,
                                   "threads": threads})
    print(f"{args.k}-fold cross-validation of {config.model} on {plan.name}: {plan.n} training examples, "
          f"{'stratified ' if stratify else ''}folds of {len(splits[0][1])}; the test set is not used")
    folds, histories = run_folds(plan, splits, args, run_dir)
    mean, std = mean_std([f["final"] for f in folds])
    sentence = overfitting_sentence(mean_history(histories))
    metric = pick_metric(histories[0]) or "loss"
    plot_train_valid(run_dir / "curves.png", histories, metric, f"{args.k}-fold {config.model} on {plan.name}",
                     log_scale=metric == "log_rmse" or (metric == "loss" and config.task == "regression"))
    write_json(run_dir / "summary.json", {"k": args.k, "stratified": stratify, "metric": metric, "mean": mean,
                                          "std": std, "overfitting": sentence, "folds": folds,
                                          "seconds": round(time.perf_counter() - t0, 3)})
    print(f"mean ± std over {args.k} folds: " + "  ".join(f"{k} {mean[k]:.4g} ± {std[k]:.2g}" for k in mean))
    print(sentence)
    write_run_report(run_dir)
    print(f"run: {run_dir}")
    return 0
