"""``divekit optim <experiment>``: the optimization lab from the command line.

Each experiment prints its key numbers and writes PNG figures and ``results.json`` into a fresh
run directory ``<runs-dir>/optim-<experiment>``. No torch or matplotlib import at module level.
"""

from __future__ import annotations

import argparse

from divekit.options import RANGES, parse

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
    "lr": "learning rate η (> 0)", "momentum": "momentum β in [0, 1) (alias --beta)",
    "gamma": "RMSProp decay γ in [0, 1)", "rho": "Adadelta decay ρ in [0, 1)",
    "eps": "ε added for numerical stability (> 0)", "beta1": "Adam β1 in [0, 1)", "beta2": "Adam β2 in [0, 1)",
}
_HP_TYPE = {"lr": parse("lab_lr"), "eps": parse("lab_eps")}  # every other hyperparameter is a decay rate in [0, 1)
_steps = parse("steps")  # every step is printed or plotted; more make an unreadable figure, not a better one
_STEPS_HELP = f"number of steps, {RANGES['steps'].describe()}"


def _sub(sub, name: str, help_text: str) -> argparse.ArgumentParser:
    """The sub-parser of experiment ``name``, with the options every experiment takes."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--runs-dir", default=None, help="root of the run directories (default: runs)")
    # the top-level parser's --debug is only read before the command; accept it after the experiment too
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")
    p.set_defaults(_experiment_parser=p)  # run() reports checks that need the experiment's code through it
    return p


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register one sub-parser per experiment under ``divekit optim``."""
    sub = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT")
    parser.set_defaults(_optim_parser=parser)

    p = _sub(sub, "gd1d", "gradient descent on f(x) = x² from x = 10: converges, crawls or diverges")
    p.add_argument("--lr", type=parse("lab_lr"), nargs="+", default=[0.2, 0.05, 1.1], help="learning rate(s) (> 0)")
    p.add_argument("--steps", type=_steps, default=10, help=_STEPS_HELP)
    p.add_argument("--x0", type=parse("lab_x0"), default=10.0, help="starting point (finite)")

    for name, (help_text, hps) in _TWO_D_OPTIONS.items():
        p = _sub(sub, name, help_text)
        for hp in hps:
            flags = [f"--{hp}", "--beta"] if hp == "momentum" else [f"--{hp}"]
            p.add_argument(*flags, dest=hp, type=_HP_TYPE.get(hp, parse("lab_decay")), default=None, help=_HP_HELP[hp])
        p.add_argument("--steps", type=_steps, default=None, help=_STEPS_HELP)
        p.add_argument("--objective", choices=["standard", "stretched"], default=None,
                       help="standard: x1² + 2·x2²; stretched: 0.1·x1² + 2·x2²")

    p = _sub(sub, "sgd", "SGD with noisy gradients and a decaying learning rate on x1² + 2·x2²")
    p.add_argument("--lr", type=parse("lab_lr"), default=0.1, help="learning rate (> 0)")
    p.add_argument("--steps", type=_steps, default=50, help=_STEPS_HELP)
    p.add_argument("--noise", type=parse("lab_noise"), default=1.0,
                   help="standard deviation of the gradient noise (>= 0)")
    p.add_argument("--seed", type=parse("seed"), default=0, help="seed of the gradient noise, 0 to 2**32 - 1")
    p.add_argument("--schedule", choices=["constant", "exponential", "polynomial", "all"], default="all")

    p = _sub(sub, "newton", "Newton's method on cosh(0.5x) and on the non-convex x·cos(0.15πx)")
    p.add_argument("--x0", type=parse("lab_x0"), default=10.0,
                   help="starting point: |x0| < 1420.95 (cosh(0.5x) overflows beyond) and x0 != 0 (f''(0) = 0 "
                        "for x·cos(0.15πx), where the Newton step is undefined)")
    p.add_argument("--steps", type=_steps, default=10, help=_STEPS_HELP)
    p.add_argument("--damped-eta", type=parse("lab_damped_eta"), default=0.5,
                   help="learning rate of the damped run, in (0, 1]: a larger one does not damp the step")

    p = _sub(sub, "convexity", "convexity and Jensen checks; local minimum and saddle point plots")
    p.add_argument("--samples", type=parse("lab_samples"), default=10_000,
                   help=f"random chords per function, {RANGES['lab_samples'].describe()}")
    p.add_argument("--seed", type=parse("seed"), default=0, help="random seed, 0 to 2**32 - 1")

    p = _sub(sub, "compare", "airfoil regression: GD, SGD, minibatch, momentum … Adam vs torch.optim")
    p.add_argument("--data", default="airfoil", help="'airfoil' (looked up in --data-dir) or a .dat file")
    p.add_argument("--data-dir", default=None, help="data folder (default: $DIVEKIT_DATA, else ./data)")
    p.add_argument("--seed", type=parse("seed"), default=0, help="random seed, 0 to 2**32 - 1")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")


def run(args: argparse.Namespace) -> int:
    """Run the chosen experiment in a new run directory."""
    name = getattr(args, "experiment", None)
    if name is None:
        args._optim_parser.print_help()
        return 0
    from divekit.optlab import experiments as ex
    from divekit.runs import new_run_dir

    # the checks argparse cannot make, made before the run directory exists
    if name == "newton" and (why := ex.newton_undefined_at(args.x0)):
        args._experiment_parser.error(f"argument --x0: {why}")
    data = ex.airfoil_table(args.data, args.data_dir)[0] if name == "compare" else None  # or DataError

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
        ex.compare(run_dir, data, seed=args.seed, dtype=args.dtype)  # reads the checked file once more
    return 0
