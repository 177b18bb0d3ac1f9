"""Model-zoo benchmark: training throughput, fp32 against the fast path, and accuracy after a short budget.

For each zoo model, at the input size and width of ``divekit.models.zoo.SUGGESTED`` (Fashion-MNIST
resized on the batch tensor):

* throughput: images/s of full training steps (forward, backward, SGD update) on random batches,
  in plain fp32 and on the fast path: channels-last, plus bf16 autocast only where the CPU computes
  bf16 natively (AVX-512 BF16 / AMX); elsewhere bf16 is emulated and many times slower, so it is
  skipped (``--bf16 on`` forces it, to see for yourself);
* accuracy: ``divekit.training.fit.fit`` on the first ``--train-images`` training images for
  ``--epochs`` epochs on the fast path (the same budget for every model), once per learning rate
  ``LR[model] * f`` for ``f`` in ``--lr-factors``; the rate is chosen on ``--valid-images`` images held
  out from the end of the training set (never the test set), and only the chosen model is tested, on
  ``--test-images`` test images.

Images/s are wall-clock; ``images_per_cpu_s`` divides by the process's CPU time instead, which a shared
machine disturbs less (with one thread it is what an idle core would give). One JSON line per result
on stdout. Do not run the full benchmark on a shared machine; ``--quick`` is a smoke test (a few
steps, a few hundred images) that takes about a minute on 2 cores.

    python bench/models.py --quick
    python bench/models.py --models resnet18,densenet --threads 16
    python bench/models.py --threads 1 --lr-factors 0.5,1,2     # what docs/models.md reports
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time

import torch
from torch import nn

from divekit.data import TensorLoader, load_dataset
from divekit.errors import DataError
from divekit.models import build_model, summary
from divekit.models.zoo import SUGGESTED
from divekit.training.config import TrainConfig
from divekit.training.device import autocast, cpu_bf16_native, resolve_precision, set_threads
from divekit.training.evaluate import evaluate
from divekit.training.fit import fit

MODELS = ["alexnet", "vgg11", "nin", "googlenet", "resnet18", "resnet34", "densenet"]
# peak learning rates of the one-cycle SGD runs (Nesterov momentum 0.9): lower for the nets without batch norm
LR = {"alexnet": 0.02, "vgg11": 0.02, "nin": 0.05, "googlenet": 0.05, "resnet18": 0.1, "resnet34": 0.1,
      "densenet": 0.1}


def cpu_report() -> dict:
    """What decides the fast path on this CPU: ISA level, oneDNN, native bf16."""
    try:
        mkldnn_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        mkldnn_bf16 = None
    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "mkldnn": torch.backends.mkldnn.is_available(), "mkldnn_bf16": mkldnn_bf16,
            "cpu_bf16_native": cpu_bf16_native(), "threads": torch.get_num_threads(),
            "precision_auto": str(resolve_precision("auto", torch.device("cpu")) or "fp32").replace("torch.", "")}


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def images_per_second(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, warmup: int,
                      dtype: torch.dtype | None) -> tuple[float, float]:
    """Training images per wall-clock second and per CPU second of this process, over ``steps`` SGD steps
    after ``warmup`` untimed ones."""
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    model.train()
    device = x.device
    for i in range(warmup + steps):
        if i == warmup:
            start, cpu_start = time.perf_counter(), time.process_time()
        with autocast(device, dtype):
            loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    images = steps * len(x)
    return images / (time.perf_counter() - start), images / (time.process_time() - cpu_start)


def modes(bf16: str) -> list[tuple[str, bool, torch.dtype | None, str | None]]:
    """(name, channels_last, autocast dtype, reason to skip) for fp32 and the fast path."""
    native = cpu_bf16_native()
    use_bf16 = bf16 == "on" or (bf16 == "auto" and native)
    result = [("fp32", False, None, None), ("channels_last", True, None, None)]
    skip = None if use_bf16 else ("off (--bf16 off)" if bf16 == "off" else
                                  "cpu has no native bf16 (avx512_bf16/amx_bf16 absent): emulated bf16 is "
                                  "many times slower than fp32")
    result.append(("channels_last+bf16", True, torch.bfloat16, skip))
    return result


def bench_throughput(name: str, args: argparse.Namespace) -> None:
    side, width = SUGGESTED[name]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 1, side, side, generator=gen)
    y = torch.randint(0, 10, (args.batch,), generator=gen)
    info = summary(build_model(name, (1, side, side), 10, width=width), (1, 1, side, side))
    base = {"bench": "models", "what": "throughput", "model": name, "input": [1, side, side], "width": width,
            "params": info.total_params, "macs_per_image": info.total_macs, "batch": args.batch, "steps": args.steps}
    for mode, channels_last, dtype, skip in modes(args.bf16):
        if skip:
            emit({**base, "mode": mode, "images_per_s": None, "skipped": skip})
            continue
        torch.manual_seed(0)
        model = build_model(name, (1, side, side), 10, width=width)
        xb = x
        if channels_last:
            model, xb = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
        ips, ipc = images_per_second(model, xb, y, args.steps, args.warmup, dtype)
        emit({**base, "mode": mode, "images_per_s": round(ips, 1), "images_per_cpu_s": round(ipc, 1)})


def fashion_mnist() -> tuple:
    """The full Fashion-MNIST when found locally, else the bundled 5,000/1,000-image sample."""
    try:
        return load_dataset("fashion-mnist", "train", download=False), load_dataset("fashion-mnist", "test",
                                                                                    download=False)
    except DataError:
        return load_dataset("fashion-mnist-mini", "train"), load_dataset("fashion-mnist-mini", "test")


def budget_loaders(name: str, train_set, test_set, args: argparse.Namespace) -> tuple:
    """Loaders for the budget (the first ``--train-images`` training images), the validation images (the
    last ``--valid-images`` training images, disjoint from the budget) and the test images, at the model's
    suggested size, channels-last."""
    side = SUGGESTED[name][0]
    n_valid = min(args.valid_images, len(train_set) // 5)
    n_train = min(args.train_images, len(train_set) - n_valid)
    n_test = min(args.test_images, len(test_set))
    options = {"mean": train_set.mean, "std": train_set.std, "resize": (side, side), "channels_last": True}
    train = TensorLoader(train_set.images[:n_train], train_set.labels[:n_train], args.batch, shuffle=True,
                         drop_last=True, **options)
    valid = TensorLoader(train_set.images[-n_valid:], train_set.labels[-n_valid:], 500, **options)
    test = TensorLoader(test_set.images[:n_test], test_set.labels[:n_test], 500, **options)
    return train, valid, test


def bench_accuracy(name: str, train_set, test_set, args: argparse.Namespace) -> None:
    """Train once per candidate learning rate, keep the best on validation, test only that one."""
    side, width = SUGGESTED[name]
    train, valid, test = budget_loaders(name, train_set, test_set, args)
    base = {"bench": "models", "model": name, "input": [1, side, side], "width": width, "data": train_set.name,
            "train_images": len(train.labels), "valid_images": len(valid.labels), "epochs": args.epochs}
    best = None
    for factor in args.lr_factors:
        lr = round(LR[name] * factor, 6)
        torch.manual_seed(0)
        model = build_model(name, (1, side, side), 10, width=width).to(memory_format=torch.channels_last)
        # every knob pinned here, so that changes to TrainConfig's defaults do not move these numbers
        config = TrainConfig(data=train_set.name, model=name, model_options={"width": width}, epochs=args.epochs,
                             batch_size=args.batch, lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4,
                             schedule="onecycle", warmup=0.25, label_smoothing=0.1, resize=side, device="cpu",
                             precision=args.precision)
        start, cpu_start = time.perf_counter(), time.process_time()
        state = fit(model, train, config=config, valid_loader=valid)
        final = state.history[-1]
        emit({**base, "what": "lr_search", "lr": lr, "valid_acc": round(final["valid_acc"], 4),
              "train_loss": round(final["train_loss"], 4), "seconds": round(time.perf_counter() - start, 1),
              "cpu_seconds": round(time.process_time() - cpu_start, 1)})
        if best is None or final["valid_acc"] > best[1]:
            best = (lr, final["valid_acc"], copy.deepcopy(model.state_dict()), config)
    lr, valid_acc, weights, config = best
    model.load_state_dict(weights)
    metrics = evaluate(model, test, torch.device("cpu"), resolve_precision(config.precision, torch.device("cpu")))
    emit({**base, "what": "accuracy", "test_images": len(test.labels), "lr": lr, "lr_candidates":
          [round(LR[name] * f, 6) for f in args.lr_factors], "valid_acc": round(valid_acc, 4),
          "test_acc": round(metrics["acc"], 4), "precision": config.precision})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated zoo models (default: all)")
    p.add_argument("--quick", action="store_true", help="smoke test: 2+2 steps of 8 images, 256/200 images")
    p.add_argument("--batch", type=int, default=64, help="training batch size (default: 64)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per throughput result (default: 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (default: 3)")
    p.add_argument("--train-images", type=int, default=10_000, help="accuracy budget (default: 10,000 images)")
    p.add_argument("--valid-images", type=int, default=5_000,
                   help="training images held out (from the end) to choose the learning rate (default: 5,000)")
    p.add_argument("--test-images", type=int, default=10_000, help="test images for accuracy (default: 10,000)")
    p.add_argument("--lr-factors", default="0.5,1,2",
                   help="learning rates tried: these multiples of the model's LR (default: 0.5,1,2)")
    p.add_argument("--epochs", type=int, default=1, help="epochs over the budget (default: 1)")
    p.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                   help="bf16 autocast on the fast path: auto = only with native CPU bf16 (default)")
    p.add_argument("--no-accuracy", action="store_true", help="throughput only")
    p.add_argument("--no-throughput", action="store_true", help="accuracy only")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores available)")
    args = p.parse_args(argv)
    args.precision = {"auto": "auto", "on": "bf16", "off": "fp32"}[args.bf16]
    if args.quick:
        args.batch, args.steps, args.warmup = 8, 2, 2
        args.train_images, args.valid_images, args.test_images = 256, 200, 200
    try:
        args.lr_factors = [float(f) for f in args.lr_factors.split(",")]
    except ValueError:
        p.error(f"--lr-factors must be comma-separated numbers, got {args.lr_factors!r}")
    if not args.lr_factors or min(args.lr_factors) <= 0:
        p.error(f"--lr-factors must be positive numbers, got {args.lr_factors}")
    unknown = [m for m in args.models.split(",") if m not in SUGGESTED]
    if unknown:
        p.error(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    emit({"bench": "models", "what": "cpu", "quick": args.quick, **cpu_report()})
    names = args.models.split(",")
    for name in names if not args.no_throughput else ():
        bench_throughput(name, args)
    if not args.no_accuracy:
        train_set, test_set = fashion_mnist()
        for name in names:
            bench_accuracy(name, train_set, test_set, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
