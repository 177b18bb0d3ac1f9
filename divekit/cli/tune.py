"""``divekit tune``: hyperparameter search on Optuna (``divekit.tuning.tune``); see docs/tuning.md.

Each trial is a ``divekit train`` run of the flags given with the values the sampler draws, chosen on validation
rows (k-fold for tabular data); the test set is never touched. No torch or Optuna import at module level.
"""

from __future__ import annotations

import argparse

from divekit.cli.train import add_training_arguments, settings_from_args
from divekit.options import parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_training_arguments(p)
    g = p.add_argument_group("search")
    g.add_argument("--param", action="append", default=[], metavar="NAME=SPEC",
                   help="a setting to search: lr=log:1e-3..1 (log scale), weight_decay=float:0..1e-3, "
                        "epochs=int:2..6, width=0.5,0.75,1 (one of these); repeat for more")
    g.add_argument("--space", metavar="TOML", help="a TOML file whose [params] table gives more, e.g. "
                                                   "lr = \"log:1e-3..1\" and width = [0.5, 0.75, 1]")
    g.add_argument("--trials", type=parse("trials"),
                   help="the budget of trials, all workers and machines together (default 20; grid: all points)")
    g.add_argument("--timeout", type=parse("timeout"), metavar="SECONDS",
                   help="start no new trial after this many seconds (running trials finish)")
    g.add_argument("--sampler", choices=("tpe", "random", "grid"), default="tpe",
                   help="how values are drawn (default: %(default)s)")
    g.add_argument("--pruner", choices=("median", "halving", "hyperband", "none"), default="median",
                   help="stop poor trials early: below the median of earlier trials at the same epoch, or by "
                        "successive halving / Hyperband over the epochs (default: %(default)s)")
    g.add_argument("--metric", help="validation metric to optimise (default: valid_acc; tabular: valid_log_rmse)")
    g.add_argument("--k", type=parse("k"), help="k-fold trials, the objective the mean over the folds (default: 5 "
                                                "for tabular data; other data holds out --valid-fraction, 0.1 "
                                                "unless given)")
    g = p.add_argument_group("study")
    g.add_argument("--study", metavar="NAME", help="the study's name (default: MODEL-DATA); the same command "
                                                   "again resumes it")
    g.add_argument("--studies-dir", default="studies", help="where study folders go (default: %(default)s)")
    g.add_argument("--workers", type=parse("workers"), default=1,
                   help="worker processes on this machine, sharing its cores (default: %(default)s)")
    g.add_argument("--storage", metavar="URL",
                   help="postgresql://USER@HOST/DB: keep the study there; the same command on other machines "
                        "joins it (needs pip install 'divekit[postgres]')")


def run(args: argparse.Namespace) -> int:
    from divekit.errors import ConfigError
    from divekit.tuning.study import tune

    if args.name is not None or args.runs_dir != "runs":
        raise ConfigError("--name/--runs-dir: a study keeps its trial runs in STUDIES/NAME/runs; use --study and "
                          "--studies-dir")
    result = tune(recipe=args.recipe, params=args.param, space=args.space, study=args.study,
                  studies_dir=args.studies_dir, storage=args.storage, trials=args.trials, timeout=args.timeout,
                  workers=args.workers, sampler=args.sampler, pruner=args.pruner, metric=args.metric, k=args.k,
                  say=lambda line: print(line, flush=True), **settings_from_args(args))
    print("\n".join(result.lines()))
    return 0 if result.spent or args.timeout else 1
