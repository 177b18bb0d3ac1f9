"""``divekit train``: arguments → TrainConfig → ``train_run``. No torch import at module level."""

from __future__ import annotations

import argparse

BOOL = argparse.BooleanOptionalAction


def add_arguments(p: argparse.ArgumentParser, single_run: bool = True) -> None:
    """The options of ``divekit train``; ``single_run=False`` (``divekit kfold``) leaves out those of one run
    only: --ddp, --tensorboard and the checkpoint options."""
    g = p.add_argument_group("data")
    g.add_argument("--data",
                   help="dataset name (fashion-mnist, mnist, kmnist, fashion-mnist-mini) or a directory holding "
                        "the four IDX files (default: fashion-mnist)")
    g.add_argument("--data-dir", help="folder searched first for datasets (then $DIVEKIT_DATA, the user cache, "
                                      "/usr/share/datasets, then download)")
    g.add_argument("--valid-fraction", type=float, help="hold out this share of training data for validation")
    g.add_argument("--resize", type=int, metavar="SIZE",
                   help="resize each batch to SIZE×SIZE pixels (for models built for larger images)")
    g.add_argument("--augment-crop", type=int, metavar="PAD", help="random crop after PAD pixels of zero padding")
    g.add_argument("--flip", dest="augment_flip", action=BOOL, default=None,
                   help="random horizontal flips (default: on for Fashion-MNIST in the fast recipe)")
    g.add_argument("--tta", dest="tta_flip", action=BOOL, default=None,
                   help="evaluate on each image and its mirror image (default: as --flip)")
    g.add_argument("--tta-shift", type=int, metavar="PIXELS",
                   help="also evaluate on the views moved PIXELS up, down, left and right (each weighing a quarter "
                        "of the unmoved view; default 0: none)")
    g = p.add_argument_group("model")
    g.add_argument("--model", help="model name, see 'divekit models' (default: fastcnn with the fast recipe)")
    g.add_argument("--width", type=float, help="channel-width multiplier for models that take one")
    g.add_argument("--embedding", help="pretrained word vectors for text models: glove-50d, glove-100d or a file")
    g = p.add_argument_group("optimisation")
    g.add_argument("--recipe", choices=("fast", "plain", "fmnist-93"),
                   help="starting defaults: 'fast' (tuned: fastcnn, muon, 3 epochs; the default without --model), "
                        "'plain' (book style: constant-rate SGD, 10 epochs; the default with --model) or 'fmnist-93' "
                        "(longer Fashion-MNIST run: 94 %% in ~2¼ min on 2 CPU cores with native bf16, see "
                        "docs/benchmarks.md)")
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int,
                   help="examples per step; with --ddp the GLOBAL batch: each of the N processes takes batch-size/N")
    g.add_argument("--opt", choices=("sgd", "muon", "adam", "adamw", "rmsprop"),
                   help="optimizer (default: muon with the fast recipe, sgd otherwise); muon is SGD with Nesterov "
                        "momentum whose hidden conv/linear weights take orthogonalized steps at 0.2 × --lr")
    g.add_argument("--lr", type=float, help="(peak) learning rate")
    g.add_argument("--momentum", type=float)
    g.add_argument("--nesterov", action=BOOL, default=None)
    g.add_argument("--weight-decay", type=float, help="L2 penalty (decoupled for adamw)")
    g.add_argument("--schedule", choices=("constant", "step", "cosine", "onecycle"))
    g.add_argument("--warmup", type=float, help="warm-up: a share of all steps (<1) or a number of steps")
    g.add_argument("--step-size", type=int, help="optimizer steps between decays for --schedule step (needed with it)")
    g.add_argument("--gamma", type=float, help="decay factor for --schedule step")
    g.add_argument("--label-smoothing", type=float)
    g.add_argument("--clip-grad", type=float, metavar="NORM", help="clip the gradient norm to NORM")
    g = p.add_argument_group("run")
    g.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                   help="auto: bf16 where the hardware has it natively, else fp32")
    g.add_argument("--device", help="auto, cpu or cuda (default: auto)")
    g.add_argument("--threads", type=int, help="CPU threads (default: all cores available)")
    g.add_argument("--seed", type=int)
    g.add_argument("--test-every", type=int, metavar="N",
                   help="evaluate the test set every N epochs; 0: only after the last (the fast recipe's default)")
    g.add_argument("--runs-dir", default="runs", help="where run directories go (default: %(default)s)")
    g.add_argument("--name", help="run name (default: MODEL-DATA-TIMESTAMP); never overwrites an existing run")
    if single_run:
        g.add_argument("--ddp", action="store_true",
                       help="data-parallel training over the processes torchrun starts (DistributedDataParallel; "
                            "gloo on CPU, NCCL on CUDA): 'torchrun --nproc_per_node=2 -m divekit train … --ddp'; only "
                            "rank 0 writes the run and prints (see docs/distributed.md)")
        g.add_argument("--tensorboard", action="store_true",
                       help="also log scalars, learning rate and weight/gradient histograms to RUN/tensorboard "
                            "(view with 'tensorboard --logdir runs'; needs pip install tensorboard)")
        g = p.add_argument_group("checkpoints")
        g.add_argument("--resume", metavar="RUN",
                       help="continue the unfinished run RUN (a path, or a name under --runs-dir) from its last "
                            "checkpoint, with its own config.json; ends exactly where an uninterrupted run ends")
        g.add_argument("--checkpoint-every", type=int, metavar="N",
                       help="also checkpoint every N steps (default: at each epoch end only)")
        g.add_argument("--on-nan", choices=("stop", "skip"),
                       help="when a loss or gradient is NaN/Inf: stop, naming the step (default), or skip the step")
    from divekit.cli.kfold import add_tabular_arguments

    add_tabular_arguments(p)


CONFIG_KEYS = ("data", "data_dir", "valid_fraction", "resize", "augment_crop", "augment_flip", "tta_flip", "tta_shift",
               "model",
               "epochs", "batch_size", "opt", "lr", "momentum", "nesterov", "weight_decay", "schedule", "warmup",
               "step_size", "gamma", "label_smoothing", "clip_grad", "precision", "device", "threads", "seed",
               "test_every")


def absolute_path(value: str) -> str:
    """``value`` made absolute when it names an existing file or folder (not a known dataset name), so that
    ``eval``, ``predict`` and ``report`` find the data from any working directory, as the run's config.json
    keeps it."""
    from pathlib import Path

    from divekit.data.registry import DATASETS
    from divekit.train.tasks import DATASET_KINDS

    if value in DATASETS or value in DATASET_KINDS or not Path(value).exists():
        return value
    return str(Path(value).resolve())


def config_from_args(args: argparse.Namespace):
    """Start from the recipe, then apply every flag the user gave."""
    import math
    from pathlib import Path

    from divekit.errors import ConfigError
    from divekit.train.config import TrainConfig
    from divekit.train.recipes import FLIP_SAFE, RECIPES

    recipe = args.recipe or ("plain" if args.model else "fast")
    values = dict(RECIPES[recipe])
    if recipe == "fast":
        flips = (args.data or TrainConfig.data) in FLIP_SAFE
        values.update(augment_flip=flips, tta_flip=flips)
    given = {k: getattr(args, k) for k in CONFIG_KEYS if getattr(args, k, None) is not None}
    if "augment_flip" in given and "tta_flip" not in given:
        given["tta_flip"] = given["augment_flip"]
    if "data_dir" in given and not Path(given["data_dir"]).exists():  # a folder, or for imdb an archive
        raise ConfigError(f"--data-dir {given['data_dir']}: no such folder or file (it is searched first for datasets)")
    for key in ("data", "data_dir"):
        if key in given:
            given[key] = absolute_path(given[key])
    values.update(given)
    if args.width is not None:
        if not (math.isfinite(args.width) and args.width > 0):
            raise ConfigError(f"--width must be a positive number, got {args.width}")
        values["model_options"] = {**values.get("model_options", {}), "width": args.width}
    if getattr(args, "embedding", None):
        values["data_options"] = {"embedding": args.embedding}
    return TrainConfig(**values).validate()


def resume_target(args: argparse.Namespace):
    """``(run directory, its config)`` for ``--resume``; configuration flags are refused (the run keeps its own)."""
    from divekit.errors import ConfigError
    from divekit.runs import resolve_run_dir
    from divekit.train.rundir import read_config

    flags = [f"--{k.replace('_', '-')}" for k in (*CONFIG_KEYS, "width", "recipe", "name")
             if getattr(args, k, None) is not None]
    if flags:
        raise ConfigError(f"--resume continues a run with its own config.json; drop {', '.join(flags)}")
    run_dir = resolve_run_dir(args.resume, args.runs_dir)
    return run_dir, read_config(run_dir)[0]


def run(args: argparse.Namespace) -> int:
    import inspect

    from divekit.errors import ConfigError
    from divekit.train.tasks import kind_of, trainer_for

    if args.resume:
        resume, config = resume_target(args)
    else:
        from divekit.cli.kfold import training_config

        prefetch_images(args)
        resume, config = None, training_config(args)
        warn_slow_recipe(args, config)
    kind = kind_of(config.data)
    train_run = trainer_for(kind)
    options = {k: v for k, v in (("resume", resume), ("checkpoint_every", args.checkpoint_every),
                                 ("on_nan", args.on_nan)) if v is not None}
    unsupported = [f"--{k.replace('_', '-')}" for k in options if k not in inspect.signature(train_run).parameters]
    if unsupported:
        raise ConfigError(f"{', '.join(unsupported)}: not supported for {kind} data yet")
    if args.ddp:
        return run_ddp(args, config, kind, lambda callbacks: train_run(
            None if resume else config, args.runs_dir, args.name, callbacks=callbacks, **options))
    run_dir, state = train_run(None if resume else config, args.runs_dir, args.name, callbacks=output_callbacks(args),
                               **options)
    print_result(run_dir, state)
    return 0


def warn_slow_recipe(args: argparse.Namespace, config) -> None:
    """fmnist-93 fits its 3 minutes only with native bf16; elsewhere say, before minutes go by, what to expect."""
    if args.recipe != "fmnist-93" or config.precision != "auto":
        return
    from divekit.train.device import cpu_bf16_native, resolve_device

    if resolve_device(config.device).type == "cpu" and not cpu_bf16_native():
        import sys

        print("note: the fmnist-93 recipe was timed with native bf16 (AMX/AVX-512 BF16), which this CPU lacks: it "
              "trains in fp32 here, about 2.5× slower than its 3-minute aim (see docs/benchmarks.md)",
              file=sys.stderr)


def prefetch_images(args: argparse.Namespace) -> None:
    """Start reading an image dataset's files while torch is being imported (the first import of torch
    comes next); anything unusual is left to the real load, which reports it."""
    from divekit.data.idx import prefetch_idx
    from divekit.data.registry import locate
    from divekit.errors import DivekitError
    from divekit.train.config import TrainConfig
    from divekit.train.recipes import RECIPES

    name = args.data or RECIPES.get(getattr(args, "recipe", None) or "", {}).get("data") or TrainConfig.data
    try:
        _, files = locate(name, args.data_dir, download=False)
    except (DivekitError, OSError):
        return
    prefetch_idx(files.values())


def output_callbacks(args: argparse.Namespace) -> list:
    """What shows progress: the epoch lines, RUN/live.png redrawn after every epoch, TensorBoard if asked."""
    from divekit.report.live import LivePlot
    from divekit.train.progress import Progress

    callbacks = [Progress(), LivePlot()]
    if args.tensorboard:
        from divekit.train.tensorboard import TensorBoardLogger

        callbacks.append(TensorBoardLogger(fallback_root=args.runs_dir))
    return callbacks


def run_ddp(args: argparse.Namespace, config, kind: str, train) -> int:
    """``train(callbacks)`` inside the process group torchrun set up; progress and result on rank 0 only."""
    from divekit.errors import ConfigError
    from divekit.train import distributed

    world = distributed.launch_world()
    if kind != "image":
        raise ConfigError(f"--ddp: supported for image data only so far, not {kind} data")
    if args.checkpoint_every:
        # a mid-epoch checkpoint would hold only rank 0's share of the epoch's running sums
        raise ConfigError("--checkpoint-every is not supported with --ddp yet (checkpoints are written at each "
                          "epoch end)")
    distributed.check_batch(config.batch_size, world)
    distributed.init(config.device)
    try:
        main = distributed.is_main()
        run_dir, state = train(output_callbacks(args) if main else [])
        if main:
            print_result(run_dir, state)
    finally:
        distributed.teardown()
    return 0


def print_result(run_dir, state) -> None:
    final = state.history[-1]
    acc = final.get("test_acc")
    print(f"run: {run_dir}")
    if acc is not None:
        print(f"test accuracy: {acc:.4f}  ({state.seconds:.1f}s training)")
    else:
        shown = {k: v for k, v in final.items() if k not in ("epoch", "step", "lr")}
        print("final: " + "  ".join(f"{k} {v:.4f}" for k, v in shown.items()) + f"  ({state.seconds:.1f}s training)")
