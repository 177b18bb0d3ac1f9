"""``divekit models``: list the models that can be built by name."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from divekit.models.registry import list_models

    for m in list_models():
        print(f"{m.name:<16} {m.kind:<8} {m.description}")
    return 0
