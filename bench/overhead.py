"""Trainer overhead: divekit's ``fit`` against a minimal hand-written loop, same model, tensors and steps.

The hand loop is the one a PyTorch user writes: zero_grad, forward, cross-entropy, backward, and a step of
``torch.optim.SGD`` (given divekit's parameter groups, so that both arms compute the same update: no weight
decay on biases). A second hand loop, ``hand_divekit_sgd``, steps divekit's own SGD instead
(``divekit.training.optimizers.SGD``, the one ``fit`` builds): against it, ``loop_ratio`` is the cost of ``fit``'s
loop alone (the guard, the metric sums, the schedule), with the optimizer step the same on both sides.
All arms start from the same weights, train on the same pre-made float batches for the same number of steps, in
one process, interleaved (the order cycles through every permutation of the arms), after an untimed warm-up of
each. The figure is the median over repeats of divekit's time / the hand loop's time (``ratio``: wall time;
``cpu_ratio``: CPU time of the process, steadier on a busy machine); the final weights of every arm are compared
(``identical_weights``), so all did the same work. Target: ``ratio`` ≤ 1.03. A control arm runs the hand loop a
second time (``control_ratio``: second / first, 1 on a quiet machine), which shows how far this machine's noise
alone moves the ratio of two identical arms; ``--no-control`` skips it.

With ``--lightning-python PATH`` (or env ``DIVEKIT_LIGHTNING_PYTHON``), a Python that has ``lightning``
installed, the same recipe also runs under Lightning's ``Trainer`` in a subprocess
(bench/baselines/lightning_fit.py), reported as its ratio to a hand loop with ``torch.optim.SGD`` timed in that
same subprocess.

Prints one JSON line per measurement and one summary line per model.
Usage: python bench/overhead.py [--models mlp,fastcnn] [--steps N] [--repeat N] [--threads N] [--no-control]
                                [--device cuda] [--lightning-python LIGHTNING_ENV/bin/python] [--lightning-repeat N]
By default each run is short (100 MLP steps, 10 ``fastcnn`` steps) and repeated 60 times: on a shared machine
slow spells last seconds, and many short interleaved runs spread them over the arms evenly (on 2 shared cores two
identical hand loops came within 0.7 % of each other this way, against up to ±3 % with 16 runs of 1,000 steps).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from divekit.errors import DataError  # noqa: E402
from divekit.training.config import TrainConfig  # noqa: E402

# The models: the default conv net, and a tiny MLP whose steps are so short that any per-step cost shows.
MODELS = {"fastcnn": ("fastcnn", {}), "mlp": ("mlp", {"hidden": 64})}
LIGHTNING_STEPS = {"mlp": 1000, "fastcnn": 60}  # steps per run of Lightning's comparison (unless --steps)
POOL = 40  # distinct batches, cycled: same tensors for every arm without holding a whole epoch of floats


def load_images(data_dir: str | None, n: int) -> tuple[torch.Tensor, torch.Tensor, str, float, float]:
    """The first ``n`` Fashion-MNIST training images (uint8 [n, 1, 28, 28]) and labels, or synthetic ones
    of the same shape when the data is not found; returns ``(x, y, source, mean, std)``."""
    from divekit.data.images import load_dataset

    try:
        ds = load_dataset("fashion-mnist", "train", data_dir, download=False)
        return ds.images[:n], ds.labels[:n], "fashion-mnist", ds.mean, ds.std
    except DataError:
        gen = torch.Generator().manual_seed(0)
        x = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=gen)
        return x, torch.randint(0, 10, (n,), generator=gen), "synthetic", 0.5, 0.25


def make_batches(data_dir: str | None, batch: int, steps: int, channels_last: bool,
                 device: str = "cpu") -> tuple[list, str]:
    """``steps`` normalised float batches ``(x [B, 1, 28, 28], y [B])`` on ``device``: ``POOL`` distinct ones,
    cycled."""
    x, y, source, mean, std = load_images(data_dir, POOL * batch)
    x, y = x.to(device), y.to(device)
    pool = []
    for i in range(0, len(y), batch):
        xb = x[i:i + batch].float().div_(255).sub_(mean).div_(std)
        pool.append((xb.contiguous(memory_format=torch.channels_last) if channels_last else xb, y[i:i + batch]))
    return [pool[i % len(pool)] for i in range(steps)], source


def recipe(model_name: str, batch: int, device: str = "cpu") -> TrainConfig:
    """One epoch of plain SGD with momentum and weight decay; no schedule, smoothing, clipping or autocast, so
    that ``fit`` and the hand loop compute exactly the same thing."""
    return TrainConfig(model=model_name, model_options=dict(MODELS[model_name][1]), epochs=1, batch_size=batch,
                       opt="sgd", lr=0.05, momentum=0.9, nesterov=False, weight_decay=5e-4, schedule="constant",
                       warmup=0, label_smoothing=0.0, precision="fp32", device=device, test_every=0)


def build_net(model_name: str, device: str = "cpu") -> tuple[torch.nn.Module, bool]:
    """The model as ``divekit train`` prepares it (channels-last for conv nets) and whether it is channels-last."""
    from divekit.training.image import build

    arch, options = MODELS[model_name]
    config = TrainConfig(model=arch, model_options=dict(options), channels_last=True)
    return build(config, (1, 28, 28), 10, torch.device(device))


def hand_loop(model: torch.nn.Module, batches: list, opt: torch.optim.Optimizer) -> None:
    """The minimal loop: zero_grad, forward, cross-entropy, backward, step."""
    model.train()
    for x, y in batches:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()


def run_hand_torch(model: torch.nn.Module, batches: list, config: TrainConfig) -> None:
    """The hand loop with ``torch.optim.SGD``, as written by hand (with divekit's parameter groups)."""
    from divekit.training.optimizers import param_groups

    opt = torch.optim.SGD(param_groups(model, config.weight_decay), lr=config.lr, momentum=config.momentum,
                          nesterov=config.nesterov)
    hand_loop(model, batches, opt)


def run_hand(model: torch.nn.Module, batches: list, config: TrainConfig) -> None:
    """The hand loop with divekit's own SGD (built as ``fit`` builds it)."""
    from divekit.training.optimizers import build_optimizer

    opt = build_optimizer(config.opt, model, config.lr, config.momentum, config.nesterov, config.weight_decay,
                          tuple(config.betas), config.eps, fast=config.fast_paths)
    hand_loop(model, batches, opt)


def run_divekit(model: torch.nn.Module, batches: list, config: TrainConfig) -> None:
    from divekit.training.fit import fit

    fit(model, batches, config)


def timed(fn, model: torch.nn.Module, init: dict, batches: list,
          config: TrainConfig) -> tuple[float, float, list]:
    """Wall and CPU seconds ``fn`` takes from the ``init`` weights (on a GPU: until the device is done), and
    the weights it ends with."""
    model.load_state_dict(init)
    sync = torch.cuda.synchronize if config.device.startswith("cuda") else (lambda: None)
    sync()
    t0, c0 = time.perf_counter(), time.process_time()
    fn(model, batches, config)
    sync()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return seconds, cpu, [p.detach().clone() for p in model.parameters()]


def compare(arms: dict, model_name: str, steps: int, repeat: int, batch: int, data_dir: str | None,
            ours: str = "divekit", bench: str = "overhead", control: bool = False, device: str = "cpu") -> dict:
    """Time ``arms`` (name → ``fn(model, batches, config)``; the first is the hand loop) interleaved, from the
    same weights on the same batches; print a line per run and a summary of ``ours`` against the first arm.

    The order of the arms cycles through every permutation, one per repeat, so that no arm always runs in the
    same place. ``control``: the hand loop also runs a second time as an arm of its own (``hand_again``); its
    ratio to the first (``control_ratio``, ideally 1) is what this machine's noise alone makes of two identical
    arms, the yardstick for ``ratio``. ``device``: where the model, the batches and the steps are."""
    torch.manual_seed(0)
    model, channels_last = build_net(model_name, device)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    batches, source = make_batches(data_dir, batch, steps, channels_last, device)
    config = recipe(model_name, batch, device)
    base = next(iter(arms))
    if control:
        arms = {**arms, "hand_again": arms[base]}
    for fn in arms.values():  # warm-up: first-call costs (allocator, lazy imports) out of the timings
        timed(fn, model, init, batches[:10], config)
    orders = list(itertools.permutations(arms))
    wall: dict[str, list[float]] = {who: [] for who in arms}
    cpu: dict[str, list[float]] = {who: [] for who in arms}
    identical = True
    for r in range(repeat):
        weights = {}
        for who in orders[r % len(orders)]:
            seconds, cpu_seconds, weights[who] = timed(arms[who], model, init, batches, config)
            wall[who].append(seconds)
            cpu[who].append(cpu_seconds)
            print(json.dumps({"bench": bench, "model": model_name, "who": who, "repeat": r, "steps": steps,
                              "seconds": round(seconds, 4), "cpu_seconds": round(cpu_seconds, 4)}), flush=True)
        identical &= all(torch.equal(a, b) for who in arms for a, b in zip(weights[base], weights[who], strict=True))

    def ratios(who: str, times: dict[str, list[float]], to: str = base) -> list[float]:
        return [a / b for a, b in zip(times[who], times[to], strict=True)]

    summary = {"bench": bench, "model": model_name, "who": ours, "summary": True, "data": source, "steps": steps,
               "batch": batch, "device": device, "threads": torch.get_num_threads(), "repeat": repeat,
               f"{base}_median_s": round(statistics.median(wall[base]), 4),
               f"{ours}_median_s": round(statistics.median(wall[ours]), 4),
               "ratio": round(statistics.median(ratios(ours, wall)), 4),
               "ratios": [round(x, 4) for x in ratios(ours, wall)],
               "cpu_ratio": round(statistics.median(ratios(ours, cpu)), 4), "identical_weights": identical}
    for who in arms:
        if who not in (base, ours, "hand_again"):  # ours against the other baselines too
            summary[f"{who}_median_s"] = round(statistics.median(wall[who]), 4)
            summary[f"ratio_to_{who}"] = round(statistics.median(ratios(ours, wall, to=who)), 4)
    if control:
        summary["control_ratio"] = round(statistics.median(ratios("hand_again", wall)), 4)
        summary["control_ratios"] = [round(x, 4) for x in ratios("hand_again", wall)]
    return summary


def bench_model(model_name: str, steps: int, repeat: int, batch: int, data_dir: str | None,
                control: bool = True, device: str = "cpu") -> dict:
    summary = compare({"hand": run_hand_torch, "hand_divekit_sgd": run_hand, "divekit": run_divekit}, model_name,
                      steps, repeat, batch, data_dir, control=control, device=device)
    summary["loop_ratio"] = summary.pop("ratio_to_hand_divekit_sgd")  # fit's loop alone: the same step both sides
    summary["target"] = 1.03
    summary["ok"] = summary["ratio"] <= summary["target"] and summary["identical_weights"]
    print(json.dumps(summary), flush=True)
    return summary


def bench_lightning(python: str, model_name: str, steps: int, repeat: int, batch: int, threads: int,
                    data_dir: str | None, device: str = "cpu") -> None:
    """Run bench/baselines/lightning_fit.py under ``python`` and pass its JSON lines through."""
    cmd = [python, str(HERE / "baselines" / "lightning_fit.py"), "--model", model_name, "--steps", str(steps),
           "--repeat", str(repeat), "--batch", str(batch), "--threads", str(threads), "--device", device]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(json.dumps({"bench": "overhead", "model": model_name, "who": "lightning",
                          "error": out.stderr.strip().splitlines()[-1:] or [f"exit {out.returncode}"]}), flush=True)
        return
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mlp,fastcnn", help=f"comma-separated, from {', '.join(MODELS)}")
    ap.add_argument("--steps", type=int, default=0,
                    help="steps per run (default: 100 for mlp, 10 for fastcnn: ~0.15-0.25 s, so that many short "
                         "interleaved runs share this shared machine's slow swings evenly)")
    ap.add_argument("--repeat", type=int, default=60)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: steadiest on a busy machine)")
    ap.add_argument("--data-dir", default=os.environ.get("DIVEKIT_DATA"))
    ap.add_argument("--no-control", action="store_true",
                    help="skip the second hand-loop arm that measures the noise between two identical arms")
    ap.add_argument("--device", default="cpu", help="cpu or cuda: where both arms train (default: cpu)")
    ap.add_argument("--lightning-python", default=os.environ.get("DIVEKIT_LIGHTNING_PYTHON"),
                    help="a Python with lightning installed: also measure Lightning's Trainer")
    ap.add_argument("--lightning-repeat", type=int, default=7, help="repeats of Lightning's comparison")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.models.split(","):
        if name not in MODELS:
            raise SystemExit(f"--models: unknown model {name!r}; choose from {', '.join(MODELS)}")
        steps = args.steps or (100 if name == "mlp" else 10)
        bench_model(name, steps, args.repeat, args.batch, args.data_dir, control=not args.no_control,
                    device=args.device)
        if args.lightning_python:  # long runs: Lightning builds a Trainer per run, not to be charged 10× as often
            bench_lightning(args.lightning_python, name, args.steps or LIGHTNING_STEPS[name], args.lightning_repeat,
                            args.batch, args.threads, args.data_dir, args.device)


if __name__ == "__main__":
    main()
