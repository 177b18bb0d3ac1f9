"""The ``divekit`` command line: parses arguments and calls the library.

Each sub-command lives in a small ``cli`` module next to the code it drives; that module must
not import torch at top level, so ``divekit --help`` stays fast. A module provides
``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# name -> (module providing add_arguments/run, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("divekit.cli.train", "train a model and write a run directory"),
    "kfold": ("divekit.cli.kfold", "k-fold cross-validation: train k times, report mean ± std per metric"),
    "lr-find": ("divekit.cli.lr_find", "learning-rate range test: a suggested rate and a usable range, plotted"),
    "tune": ("divekit.cli.tune", "hyperparameter search (Optuna) on validation rows, one machine or many"),
    "eval": ("divekit.cli.eval", "evaluate a finished run on its test set"),
    "predict": ("divekit.cli.predict", "predictions of a run: its test set in order, or new files and texts"),
    "export": ("divekit.cli.export", "export an image run as ONNX, TorchScript or a PyTorch 2 program, checked"),
    "models": ("divekit.cli.models", "list the models that can be built by name"),
    "datasets": ("divekit.cli.datasets", "list the known datasets and where they were found"),
    "scratch": ("divekit.cli.scratch", "from-scratch lessons, each checked against torch"),
    "optim": ("divekit.cli.optim", "optimization lab: GD, SGD, Newton, momentum, Adam … with plots"),
    "summary": ("divekit.cli.summary", "per-layer shapes, parameters and MACs of a model"),
    "doctor": ("divekit.cli.doctor", "check the environment: torch build, CPU/GPU, datasets, run dir"),
    "inspect": ("divekit.cli.inspection", "weights at init, gradient flow: vanishing, exploding or healthy"),
    "report": ("divekit.cli.report", "self-contained HTML report of a run, or a side-by-side comparison of runs"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="divekit",
        description="divekit: a hands-on deep learning toolkit for PyTorch.",
        epilog="Run 'divekit COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"divekit {_version()}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name != module_name:
                raise
            continue  # a command whose module is not there yet is simply not offered
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, except that values after an option still join a command's list positional (the one
    it names with ``set_defaults(_trailing=DEST)``), as in ``divekit predict RUN --out p.csv *.jpg``: argparse
    fills that list before it meets ``--out``."""
    args, extra = parser.parse_known_args(argv)
    field = getattr(args, "_trailing", None)
    if extra and field and not any(e.startswith("-") for e in extra):
        setattr(args, field, [*(getattr(args, field) or []), *extra])
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _version() -> str:
    from divekit import __version__

    return __version__


# 128 + SIGPIPE: the status a shell reports for a Unix tool whose reader went away (``divekit models | head -1``)
CLOSED_OUTPUT_STATUS = 141


def output_closed() -> int:
    """End quietly after the reader of stdout went away: point stdout at /dev/null, so that no later flush (the
    interpreter's own at exit included) raises again, and return ``CLOSED_OUTPUT_STATUS`` (Python's documented
    recipe for SIGPIPE; Python ignores the signal and raises ``BrokenPipeError`` instead)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # a stdout with no file descriptor (a test's capture, say)
        pass
    return CLOSED_OUTPUT_STATUS


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``divekit`` console script."""
    try:
        return _main(argv)
    except BrokenPipeError:  # the output was closed early: what was wanted has been read, so no error
        return output_closed()


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parse(parser, argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    from divekit.errors import DivekitError

    try:
        return int(args._run(args) or 0)
    except BrokenPipeError:
        raise  # not an error of the command: main ends quietly
    except DivekitError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print("\n".join(["interrupted", *getattr(e, "__notes__", [])]), file=sys.stderr)
        return 130
    except Exception as e:  # an input no check caught, or a bug: one line, and the way to the traceback
        if args.debug:
            raise
        print(f"error: unexpected {type(e).__name__}: {e}", file=sys.stderr)
        print(f"(this input was not checked before use, or divekit has a bug: run 'divekit --debug "
              f"{args.command} …' for the traceback, and please report it)", file=sys.stderr)
        return 1


def console() -> None:
    """The ``divekit`` command: ``main``, then exit without the interpreter's teardown.

    Everything a command writes is complete when ``main`` returns (atomic renames, closed files), and
    tearing down torch's modules takes about half a second, which is a tenth of a short run's budget.
    """
    try:
        code = main()
    except SystemExit as e:  # argparse after --help, --version or a usage error (its message already printed)
        if not isinstance(e.code, int | None):
            raise
        code = e.code or 0
    try:
        sys.stdout.flush()  # buffered output meets a closed pipe here when the command wrote little
    except BrokenPipeError:
        code = output_closed()
    try:
        sys.stderr.flush()
    except OSError:
        pass  # stderr is gone too: there is nowhere left to report anything
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    console()
