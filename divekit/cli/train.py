"""``divekit train``: flags → settings → ``divekit.api.train``. No torch import at module level."""

from __future__ import annotations

import argparse
from typing import Any

from divekit.options import RANGES, parse

BOOL = argparse.BooleanOptionalAction
# flags whose values are TrainConfig fields of the same name
CONFIG_KEYS = ("data", "data_dir", "valid_fraction", "resize", "augment_crop", "augment_flip", "tta_flip", "tta_shift",
               "model", "epochs", "batch_size", "opt", "lr", "momentum", "nesterov", "weight_decay", "schedule",
               "warmup", "step_size", "gamma", "label_smoothing", "clip_grad", "precision", "fast_paths", "device",
               "threads", "seed", "test_every", "init", "freeze_epochs", "finetune_lr_ratio")
TABULAR_FLAGS = ("target", "id_column", "test_csv", "target_transform")
TEXT_FLAGS = ("text_column", "label_column")
VOCAB_FLAGS = ("min_freq", "max_len")  # any text data: IMDb, a CSV, a folder of .txt files
FOLDER_FLAGS = ("image_size", "skip_bad")


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data",
                   help="dataset: fashion-mnist, mnist, kmnist, fashion-mnist-mini, house-prices, imdb, a folder "
                        "holding the four IDX files, a folder of images in class folders (or train/, val/, test/ "
                        "of them), or a .csv file (default: fashion-mnist)")
    g.add_argument("--data-dir", help="folder searched first for datasets (then $DIVEKIT_DATA, the user cache, "
                                      "/usr/share/datasets, then download)")
    g.add_argument("--valid-fraction", type=parse("valid_fraction"),
                   help="hold out this share of the training data for validation, in [0, 1)")
    g.add_argument("--resize", type=parse("resize"), metavar="SIZE",
                   help="resize each batch to SIZE×SIZE pixels (for models built for larger images)")
    g.add_argument("--augment-crop", type=parse("augment_crop"), metavar="PAD",
                   help="random crop after PAD pixels of zero padding")
    g.add_argument("--flip", dest="augment_flip", action=BOOL, default=None,
                   help="random horizontal flips (default: on for Fashion-MNIST in the fast recipe)")
    g.add_argument("--tta", dest="tta_flip", action=BOOL, default=None,
                   help="evaluate on each image and its mirror image (default: as --flip)")
    g.add_argument("--tta-shift", type=parse("tta_shift"), metavar="PIXELS",
                   help="also evaluate on the views moved PIXELS up, down, left and right (each weighing a quarter "
                        "of the unmoved view; default 0: none)")
    g.add_argument("--image-size", type=parse("image_size"), metavar="N",
                   help="image folders: decode every image at N×N, scaled to cover it and centre-cropped (default: "
                        "the images' own size when they all share one up to 64×64, else their median shorter side, "
                        "at most 64)")
    g.add_argument("--skip-bad", action="store_true", default=None,
                   help="image folders: leave out unreadable or unusable files and classes, listed in RUN/skipped.csv "
                        "(default: stop at the first, naming it)")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", help="model name, see 'divekit models' (default: the recipe's)")
    g.add_argument("--width", type=parse("width"), help="channel-width multiplier for models that take one")
    g.add_argument("--hidden", type=parse("hidden"), nargs="+", metavar="WIDTH", help="hidden layer widths of mlp")
    g.add_argument("--dropout", type=parse("dropout"), help="dropout after each hidden layer of mlp models")
    g.add_argument("--embedding", help="pretrained word vectors for text models: glove-50d, glove-100d or a file")
    g = p.add_argument_group("tabular data (CSV)")
    g.add_argument("--target", help="column to predict (default: SalePrice for house-prices, else the last column)")
    g.add_argument("--id-column", help="an identifier column, kept out of the features (house-prices: Id)")
    g.add_argument("--test-csv", help="test CSV for a .csv dataset (tabular: read by 'divekit predict'; text: "
                                      "evaluated after training)")
    g.add_argument("--target-transform", choices=("none", "log", "standard", "log-standard"),
                   help="what the model learns: the target itself (none, the book's MSE on prices), its log, "
                        "or either standardised with training-row statistics (default: none)")
    g = p.add_argument_group("text data (CSV, or a folder of .txt files per class)")
    g.add_argument("--text-column", help="the CSV column holding the texts: makes --data FILE.csv text data")
    g.add_argument("--label-column", help="the CSV column holding each text's class (default: the other column "
                                          "of a two-column file)")
    g.add_argument("--min-freq", type=parse("min_freq"), metavar="N",
                   help="a word enters the vocabulary when the training texts hold it N times (default: 5, as in "
                        "the book; 1 or 2 for a few hundred short texts)")
    g.add_argument("--max-len", type=parse("max_len"), metavar="N",
                   help="tokens kept per text, the rest cut, shorter ones padded (default: 500)")


def add_optimisation_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("optimisation")
    g.add_argument("--recipe", choices=("fast", "plain", "fmnist-93", "fmnist-93-bf16", "fmnist-93-fp32",
                                        "house-prices", "imdb-bilstm", "imdb-textcnn"),
                   help="the complete starting configuration that flags change: 'fast' (image data without "
                        "--model: fastcnn, muon, 3 epochs), 'plain' (image data with --model: the book's "
                        "constant-rate SGD, 10 epochs), 'fmnist-93' (93.5 %% on Fashion-MNIST in minutes: its "
                        "variant for this machine, 'fmnist-93-bf16' where bf16 is native, else 'fmnist-93-fp32'; "
                        "see docs/benchmarks.md), 'house-prices' (tabular data), 'imdb-bilstm'/'imdb-textcnn' "
                        "(text); divekit/training/recipes.py lists every setting"),
    g.add_argument("--epochs", type=parse("epochs"))
    g.add_argument("--batch-size", type=parse("batch_size"),
                   help="examples per step; with --ddp the GLOBAL batch: each of the N processes takes batch-size/N")
    g.add_argument("--opt", choices=("sgd", "muon", "adam", "adamw", "rmsprop"),
                   help="optimizer; muon is SGD with Nesterov momentum whose hidden conv/linear weights take "
                        "orthogonalized steps at 0.2 × --lr")
    g.add_argument("--lr", type=parse("lr"), help="(peak) learning rate")
    g.add_argument("--momentum", type=parse("momentum"))
    g.add_argument("--nesterov", action=BOOL, default=None)
    g.add_argument("--weight-decay", type=parse("weight_decay"), help="L2 penalty (decoupled for adamw)")
    g.add_argument("--schedule", choices=("constant", "step", "cosine", "onecycle"))
    g.add_argument("--warmup", type=parse("warmup"), help="warm-up: a share of all steps (<1) or a number of steps")
    g.add_argument("--step-size", type=parse("step_size"),
                   help="optimizer steps between decays for --schedule step (needed with it)")
    g.add_argument("--gamma", type=parse("gamma"), help="decay factor for --schedule step, in (0, 1]")
    g.add_argument("--label-smoothing", type=parse("label_smoothing"))
    g.add_argument("--clip-grad", type=parse("clip_grad"), metavar="NORM", help="clip the gradient norm to NORM")
    g = p.add_argument_group("fine-tuning")
    g.add_argument("--init", metavar="RUN|WEIGHTS",
                   help="start from earlier weights: a finished run (a path, or a name under --runs-dir), a "
                        ".safetensors file or a .pth state dict (loaded with weights_only=True); the output layer "
                        "starts afresh when the classes differ")
    g.add_argument("--freeze-epochs", type=parse("freeze_epochs"), metavar="N",
                   help="with --init: train only the output layer for N epochs, then the whole net")
    g.add_argument("--finetune-lr-ratio", type=parse("finetune_lr_ratio"), metavar="R",
                   help="with --init: the first layer's rate as a share of the output layer's, the layers between "
                        "in geometric steps (default 0.1; 1: one rate for all)")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("run")
    g.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                   help="auto: bf16 where the hardware has it natively, else fp32 (tabular data, and lenet on the CPU "
                        "with its fp32-only fast path: fp32)")
    g.add_argument("--fast-paths", action=BOOL, default=None,
                   help="the same maths computed faster (divekit.speed: fused LeNet kernels, divekit's SGD step, "
                        "glibc keeping freed memory); --no-fast-paths trains on plain PyTorch (default: on)")
    g.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: auto)")
    g.add_argument("--threads", type=parse("threads"),
                   help=f"CPU threads, {RANGES['threads'].describe()} (default: all cores available)")
    g.add_argument("--seed", type=parse("seed"))
    g.add_argument("--test-every", type=parse("test_every"), metavar="N",
                   help="evaluate the test set every N epochs; 0: only after the last (the fast recipe's default)")
    g.add_argument("--runs-dir", default="runs", help="where run directories go (default: %(default)s)")
    g.add_argument("--name", help="run name (default: MODEL-DATA-TIMESTAMP); never overwrites an existing run")


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """The options that make a training configuration, shared by train, kfold, lr-find and tune."""
    add_data_arguments(p)
    add_model_arguments(p)
    add_optimisation_arguments(p)
    add_run_arguments(p)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_training_arguments(p)
    g = p.add_argument_group("checkpoints and extras")
    g.add_argument("--resume", metavar="RUN",
                   help="continue the unfinished run RUN (a path, or a name under --runs-dir) from its last "
                        "checkpoint, with its own config.json; ends exactly where an uninterrupted run ends")
    g.add_argument("--checkpoint-every", type=parse("checkpoint_every"), metavar="N",
                   help="also checkpoint every N steps (default: at each epoch end only)")
    g.add_argument("--on-nan", choices=("stop", "skip"),
                   help="when a loss or gradient is NaN/Inf: stop, naming the step (default), or skip the step")
    g.add_argument("--ddp", action="store_true",
                   help="data-parallel training over the processes torchrun starts (gloo on CPU, NCCL on CUDA): "
                        "'torchrun --nproc_per_node=2 -m divekit train … --ddp'; only rank 0 writes the run and "
                        "prints (see docs/distributed.md)")
    g.add_argument("--tensorboard", action="store_true",
                   help="also log scalars, learning rate and weight/gradient histograms to RUN/tensorboard "
                        "(view with 'tensorboard --logdir runs'; needs pip install tensorboard)")
    g = p.add_argument_group("from a study")
    g.add_argument("--from-study", metavar="STUDY",
                   help="train the best configuration of a 'divekit tune' study (its folder, or its name with "
                        "--storage) on all training rows and evaluate it on the test set once; flags given change it")
    g.add_argument("--storage", metavar="URL", help="the postgresql:// URL of a --from-study study kept there")


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig settings the user gave, as the API takes them (data paths made absolute, so that
    ``eval``, ``predict`` and ``report`` find the data from any working directory)."""
    from divekit.errors import ConfigError
    from divekit.training.tasks import kind_of

    settings = {k: getattr(args, k) for k in CONFIG_KEYS if getattr(args, k, None) is not None}
    for key in ("data", "data_dir"):
        if key in settings:
            settings[key] = absolute_path(settings[key])
    if "init" in settings:
        settings["init"] = init_path(settings["init"], args.runs_dir)
    if "data_dir" in settings and not _exists(settings["data_dir"]):
        raise ConfigError(f"--data-dir {settings['data_dir']}: no such folder or file (it is searched first for "
                          f"datasets)")
    model = {k: v for k, v in (("width", args.width), ("hidden", tuple(args.hidden or ()) or None),
                               ("dropout", args.dropout)) if v is not None}
    tabular = {k: v for k, v in (("target", args.target), ("id_column", args.id_column),
                                 ("target_transform", args.target_transform)) if v is not None}
    text = {k: getattr(args, k) for k in TEXT_FLAGS if getattr(args, k, None) is not None}
    data = settings.get("data") or "fashion-mnist"
    kind = kind_of(data, text)
    if tabular and kind != "tabular":
        raise ConfigError(f"--target, --id-column and --target-transform are for tabular (CSV) data, not {kind} data")
    if text and kind != "text":
        raise ConfigError(f"--text-column and --label-column are for texts in a CSV (--data FILE.csv), not {kind} data")
    test = {"test": absolute_path(args.test_csv)} if args.test_csv else {}
    if test and not data.endswith(".csv"):
        raise ConfigError(f"--test-csv is for a .csv dataset, not {data}")
    if args.embedding and kind != "text":
        raise ConfigError(f"--embedding: for text data (--data imdb), not {kind} data")
    vocab = {k: getattr(args, k) for k in VOCAB_FLAGS if getattr(args, k, None) is not None}
    if vocab and kind != "text":
        raise ConfigError(f"--min-freq and --max-len are for text data, not {kind} data")
    if model:
        settings["model_options"] = model
    folder = {k: getattr(args, k) for k in FOLDER_FLAGS if getattr(args, k, None) is not None}
    if folder and kind != "image-folder":
        raise ConfigError(f"--image-size and --skip-bad are for image folders, not {kind} data")
    data_options = {**tabular, **text, **vocab, **test, **folder,
                    **({"embedding": args.embedding} if args.embedding else {})}
    if data_options:
        settings["data_options"] = data_options
    return settings


def config_from_args(args: argparse.Namespace):
    """The TrainConfig ``divekit train`` runs for ``args``: its recipe with the flags given applied."""
    from divekit import api

    return api.config(args.recipe, **settings_from_args(args))


def _exists(path: str) -> bool:
    from pathlib import Path

    return Path(path).exists()


def absolute_path(value: str) -> str:
    """``value`` made absolute when it names an existing file or folder (not a known dataset name)."""
    from pathlib import Path

    from divekit.data.registry import DATASETS
    from divekit.training.tasks import DATASET_KINDS

    if value in DATASETS or value in DATASET_KINDS or not Path(value).exists():
        return value
    return str(Path(value).resolve())


def init_path(value: str, runs_dir: str) -> str:
    """``--init`` as an absolute path: a file or run directory as given, else a run name under ``runs_dir``."""
    from pathlib import Path

    from divekit.errors import ConfigError

    for path in (Path(value), Path(runs_dir) / value):
        if path.exists():
            return str(path.resolve())
    raise ConfigError(f"--init {value}: no such run, folder or weights file (a run name is looked for in "
                      f"{runs_dir})")


def run(args: argparse.Namespace) -> int:
    from divekit import api

    callbacks = output_callbacks(args)
    if args.resume:
        refuse_config_flags(args)
        result = api.resume(args.resume, runs_dir=args.runs_dir, callbacks=callbacks, ddp=args.ddp)
    elif args.from_study or args.storage:
        result = train_from_study(args, callbacks)
    else:
        say_recipe_variant(args)
        result = api.train(recipe=args.recipe, runs_dir=args.runs_dir, name=args.name, callbacks=callbacks,
                           checkpoint_every=args.checkpoint_every, on_nan=args.on_nan, ddp=args.ddp,
                           **settings_from_args(args))
    if result is not None:  # None on the other processes of a data-parallel run
        print_result(result)
    return 0


def train_from_study(args: argparse.Namespace, callbacks: list):
    """``--from-study``: the study's best trial retrained on all training rows, the test set evaluated once."""
    from divekit import api
    from divekit.errors import ConfigError
    from divekit.tuning.study import best_config

    if not args.from_study:
        raise ConfigError("--storage names where a --from-study study is kept; give --from-study NAME too")
    if args.recipe or args.ddp:
        raise ConfigError("--from-study trains the study's own configuration; drop --recipe and --ddp")
    cfg, chosen = best_config(args.from_study, args.storage)
    values = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in chosen["params"].items())
    print(f"study {chosen['study']}: trial {chosen['trial']} ({chosen['metric']} {chosen['value']:.4f} on validation "
          f"rows)  {values}; trained on all training rows, tested once")
    return api.train(cfg, runs_dir=args.runs_dir, name=args.name, callbacks=callbacks,
                     checkpoint_every=args.checkpoint_every, on_nan=args.on_nan, **settings_from_args(args))


def say_recipe_variant(args: argparse.Namespace) -> None:
    """A recipe with a variant per precision says which one this run takes, and why."""
    from divekit import api
    from divekit.training.recipes import VARIANTS

    if args.recipe in VARIANTS:
        variant, why = api.recipe_variant(args.recipe, settings_from_args(args))
        others = ", ".join(v for v in VARIANTS[args.recipe].values() if v != variant)
        print(f"recipe {args.recipe}: {variant}, for {why} (--recipe {others} picks the other)", flush=True)


def refuse_config_flags(args: argparse.Namespace) -> None:
    """``--resume`` continues a run with its own config.json: settings given with it are refused, not ignored."""
    from divekit.errors import ConfigError

    given = [f"--{k.replace('_', '-')}" for k in (*CONFIG_KEYS, "width", "hidden", "dropout", "embedding", "recipe",
                                                  "name", *TABULAR_FLAGS, *TEXT_FLAGS, *VOCAB_FLAGS,
                                                  *FOLDER_FLAGS)
             if getattr(args, k, None) is not None]
    if given:
        raise ConfigError(f"--resume continues a run with its own config.json; drop {', '.join(given)}")


def output_callbacks(args: argparse.Namespace) -> list:
    """What shows progress: the epoch lines, RUN/live.png redrawn during training, TensorBoard if asked."""
    from divekit.report.live import LivePlot
    from divekit.training.progress import Progress

    callbacks = [Progress(), LivePlot()]
    if args.tensorboard:
        from divekit.training.tensorboard import TensorBoardLogger

        callbacks.append(TensorBoardLogger(fallback_root=args.runs_dir))
    return callbacks


def print_result(run) -> None:
    final = run.final
    print(f"run: {run.path}")
    if "test_acc" in final:
        print(f"test accuracy: {final['test_acc']:.4f}  ({run.summary.get('train_seconds', 0):.1f}s training)")
    else:
        shown = {k: v for k, v in final.items() if k not in ("epoch", "step", "lr") and isinstance(v, (int, float))}
        print("final: " + "  ".join(f"{k} {v:.4f}" for k, v in shown.items())
              + f"  ({run.summary.get('train_seconds', 0):.1f}s training)")
