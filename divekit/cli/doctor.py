"""``divekit doctor``: one verdict line per item of the environment, and an exit status for scripts."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument("--data-dir", help="folder searched first for datasets, as for 'divekit train'")
    p.add_argument("--runs-dir", default="runs", help="run directory whose write access is checked "
                                                      "(default: %(default)s)")
    p.add_argument("--full", action="store_true",
                   help="also import torch and check a gradient (slower: the import alone takes seconds)")
    p.add_argument("--strict", action="store_true", help="exit with status 1 on warnings too, not only failures")
    p.epilog = "Exit status: 0 when nothing failed, 1 when an item failed (or warned, with --strict)."


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from divekit.diagnose.doctor import as_json, exit_code, format_report, run_doctor

    t0 = time.perf_counter()
    findings = run_doctor(args.data_dir, args.runs_dir, full=args.full)
    code = exit_code(findings, args.strict)
    if args.json:
        print(json.dumps(as_json(findings, code, time.perf_counter() - t0), indent=2))
    else:
        print(format_report(findings, code))
    return code
