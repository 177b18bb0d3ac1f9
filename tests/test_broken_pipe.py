"""Output read only in part (``divekit datasets | head -1``) ends quietly, as Unix tools do."""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import sys

import pytest

from divekit.cli import CLOSED_OUTPUT_STATUS, main


class ClosedPipe(io.TextIOBase):
    """A stdout whose reader has gone away."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """``python -m divekit ARGS`` with stdout a pipe whose read end is closed before it starts."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "divekit", *args], stdout=write, stderr=subprocess.PIPE,
                              timeout=120)
    finally:
        os.close(write)


def test_main_ends_quietly_when_stdout_is_closed(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["models"]) == CLOSED_OUTPUT_STATUS == 141
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("args", [("datasets",), ("models",), ("summary", "lenet", "--json"), ("--debug", "models")])
def test_a_closed_pipe_ends_the_command_with_nothing_on_stderr(args):
    done = run_into_closed_pipe(*args)
    assert done.stderr == b"" and done.returncode == 141


def test_help_into_a_closed_pipe_is_quiet():
    done = run_into_closed_pipe("--help")
    assert done.stderr == b"" and done.returncode in (0, 141)


def test_head_reads_the_first_line_and_no_error_follows():
    command = f"set -o pipefail; {shlex.quote(sys.executable)} -m divekit datasets | head -1"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
    assert done.stderr == "" and done.returncode in (0, 141)
    assert done.stdout.count("\n") == 1 and done.stdout.split()[0] == "fashion-mnist"
