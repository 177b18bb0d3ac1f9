"""``divekit optim <experiment>``: the optimization lab from the command line.

Each experiment prints its key numbers and writes PNG figures and ``results.json`` into a fresh
run directory ``<runs-dir>/optim-<experiment>``. No torch or matplotlib import at module level.
"""

from __future__ import annotations

import argparse

# the 2-D optimizer experiments and the hyperparameter options each accepts
_TWO_D_OPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "gd2d": ("gradient descent on x1² + 2·x2² from (-5, -2) (book: η = 0.1, 20 steps)", ("lr",)),
    "momentum": ("momentum on 0.1·x1² + 2·x2² (book: η = 0.6, β = 0.5)", ("lr", "momentum")),
    "adagrad": ("Adagrad on 0.1·x1² + 2·x2² (book: η = 0.4 is slow, η = 2 converges)", ("lr", "eps")),
    "rmsprop": ("RMSProp on 0.1·x1² + 2·x2² (book: η = 0.4, γ = 0.9)", ("lr", "gamma", "eps")),
    "adadelta": ("Adadelta on 0.1·x1² + 2·x2² (no learning rate; eps sets the first step size)",
                 ("rho", "eps", "lr")),
    "adam": ("Adam on 0.1·x1² + 2·x2²", ("lr", "beta1", "beta2", "eps")),
}
_HP_HELP = {
    "lr": "learning rate η", "momentum": "momentum β (alias --beta)", "gamma": "RMSProp decay γ",
    "rho": "Adadelta decay ρ", "eps": "ε added for numerical stability",
    "beta1": "Adam β1", "beta2": "Adam β2",
}


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _sub(sub, name: str, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--runs-dir", default=None, help="root of the run directories (default: runs)")
    return p


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register one sub-parser per experiment under ``divekit optim``."""
    sub = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT")
    parser.set_defaults(_optim_parser=parser)

    p = _sub(sub, "gd1d", "gradient descent on f(x) = x² from x = 10: converges, crawls or diverges")
    p.add_argument("--lr", type=_positive_float, nargs="+", default=[0.2, 0.05, 1.1], help="learning rate(s)")
    p.add_argument("--steps", type=_positive_int, default=10)
    p.add_argument("--x0", type=float, default=10.0, help="starting point")

    for name, (help_text, hps) in _TWO_D_OPTIONS.items():
        p = _sub(sub, name, help_text)
        for hp in hps:
            flags = [f"--{hp}", "--beta"] if hp == "momentum" else [f"--{hp}"]
            p.add_argument(*flags, dest=hp, type=_positive_float, default=None, help=_HP_HELP[hp])
        p.add_argument("--steps", type=_positive_int, default=None, help="number of steps")
        p.add_argument("--objective", choices=["standard", "stretched"], default=None,
                       help="standard: x1² + 2·x2²; stretched: 0.1·x1² + 2·x2²")

    p = _sub(sub, "sgd", "SGD with noisy gradients and a decaying learning rate on x1² + 2·x2²")
    p.add_argument("--lr", type=_positive_float, default=0.1)
    p.add_argument("--steps", type=_positive_int, default=50)
    p.add_argument("--noise", type=float, default=1.0, help="standard deviation of the gradient noise")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--schedule", choices=["constant", "exponential", "polynomial", "all"], default="all")

    p = _sub(sub, "newton", "Newton's method on cosh(0.5x) and on the non-convex x·cos(0.15πx)")
    p.add_argument("--x0", type=float, default=10.0)
    p.add_argument("--steps", type=_positive_int, default=10)
    p.add_argument("--damped-eta", type=_positive_float, default=0.5, help="learning rate of the damped run")

    p = _sub(sub, "convexity", "convexity and Jensen checks; local minimum and saddle point plots")
    p.add_argument("--samples", type=_positive_int, default=10_000)
    p.add_argument("--seed", type=int, default=0)

    p = _sub(sub, "compare", "airfoil regression: GD, SGD, minibatch, momentum … Adam vs torch.optim")
    p.add_argument("--data", default="airfoil", help="'airfoil' (looked up in --data-dir) or a .dat file")
    p.add_argument("--data-dir", default=None, help="data folder (default: $DIVEKIT_DATA, else ./data)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")


def run(args: argparse.Namespace) -> int:
    """Run the chosen experiment in a new run directory."""
    name = getattr(args, "experiment", None)
    if name is None:
        args._optim_parser.print_help()
        return 0
    from divekit.optim import experiments as ex
    from divekit.runs import new_run_dir

    run_dir = new_run_dir(args.runs_dir or "runs", f"optim-{name}")
    print(f"run directory: {run_dir}")
    if name == "gd1d":
        ex.gd1d(run_dir, tuple(args.lr), args.steps, args.x0)
    elif name in _TWO_D_OPTIONS:
        hps = {hp: getattr(args, hp) for hp in _TWO_D_OPTIONS[name][1] if getattr(args, hp) is not None}
        ex.trace_2d(run_dir, name, hps, args.steps, args.objective)
    elif name == "sgd":
        schedules = ("constant", "exponential", "polynomial") if args.schedule == "all" else (args.schedule,)
        ex.sgd(run_dir, args.lr, args.steps, args.noise, args.seed, schedules)
    elif name == "newton":
        ex.newton_experiment(run_dir, args.x0, args.steps, damped_eta=args.damped_eta)
    elif name == "convexity":
        ex.convexity(run_dir, samples=args.samples, seed=args.seed)
    elif name == "compare":
        ex.compare(run_dir, args.data, args.data_dir, args.seed, args.dtype)
    return 0
