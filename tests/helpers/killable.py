"""Run ``divekit`` with kill points, for the kill-and-resume tests (the library itself has no test hooks).

    python tests/helpers/killable.py [--kill-at-step N] [--kill-in-write N] [--write-delay S] -- train ARGS

``--kill-at-step N``: the process SIGKILLs itself right after training step N (after that step's checkpoint,
if one is due). ``--kill-in-write N``: it dies half-way through writing the checkpoint of step N, leaving a
half-written temporary file. ``--write-delay S``: every checkpoint write pauses S seconds half-way, so a kill
from outside can land inside a write. Everything else is the real command line, in a real process.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from divekit.cli import main
from divekit.runs import atomic_write
from divekit.training.checkpoint import Checkpointer


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install(kill_at_step: int | None, kill_in_write: int | None, write_delay: float) -> None:
    step_end, save = Checkpointer.on_step_end, Checkpointer.save

    def on_step_end(self, state) -> None:
        step_end(self, state)
        if state.step == kill_at_step:
            die()

    def save_noting_step(self, state):
        self.saving_step = state.step
        return save(self, state)

    def write(self, data: bytes) -> None:
        def halves(f) -> None:
            f.write(data[: len(data) // 2])
            if self.saving_step == kill_in_write:
                f.flush()
                die()
            if write_delay:
                time.sleep(write_delay)
            f.write(data[len(data) // 2:])

        atomic_write(self.path, halves, owner=True)

    Checkpointer.on_step_end, Checkpointer.save, Checkpointer.write = on_step_end, save_noting_step, write


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill-at-step", type=int)
    parser.add_argument("--kill-in-write", type=int)
    parser.add_argument("--write-delay", type=float, default=0.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    install(args.kill_at_step, args.kill_in_write, args.write_delay)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    sys.exit(main(command))
