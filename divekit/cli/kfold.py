"""``divekit kfold``: k-fold cross-validation of any ``divekit train`` command (``divekit.api.kfold``).

The training examples are cut into k folds; each round trains a fresh model on k-1 folds and validates on the
remaining one (the test set is never touched). No torch import at module level.
"""

from __future__ import annotations

import argparse

from divekit.cli.train import BOOL, add_training_arguments, settings_from_args
from divekit.options import RANGES, parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_training_arguments(p)
    g = p.add_argument_group("k-fold")
    g.add_argument("--k", type=parse("k"), default=5,
                   help=f"number of folds, {RANGES['k'].describe()} and at most the training examples "
                        f"(default: %(default)s; 10 is also common)")
    g.add_argument("--stratify", action=BOOL, default=None,
                   help="keep each class's share in every fold (default: on for classification)")
    g.add_argument("--patience", type=parse("patience"),
                   help="early stopping: end a fold after this many epochs without a better --monitor value "
                        "and restore its best weights")
    g.add_argument("--monitor", help="metric for --patience (default: valid_log_rmse for tabular data, else "
                                     "valid_loss)")
    g.add_argument("--verbose", action="store_true", help="print every epoch of every fold")


def run(args: argparse.Namespace) -> int:
    from divekit import api

    run = api.kfold(k=args.k, recipe=args.recipe, stratify=args.stratify, patience=args.patience,
                    monitor=args.monitor, runs_dir=args.runs_dir, name=args.name, verbose=args.verbose,
                    **settings_from_args(args))
    print(f"run: {run.path}")
    return 0
