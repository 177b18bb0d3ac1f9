"""``divekit doctor``: is this environment ready to train? One verdict per item.

Verdicts: ``ok``; ``info`` (a fact worth knowing, nothing to fix); ``warn`` (likely to cost time or a
surprise); ``fail`` (divekit cannot work until it is fixed). The exit status is 1 when any item fails
(or, with ``strict``, warns), else 0.

Doctor stays fast by not importing torch unless it must: the torch version and build (CPU, CUDA, ROCm)
are read from the installed files, and torch itself is imported only to ask a CUDA (or macOS) build
about its GPUs, or with ``full=True`` to check that it imports and computes a gradient correctly.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import importlib.util
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from divekit.machine import BF16_FLAGS

VERDICTS = ("ok", "info", "warn", "fail")
# used when divekit runs from a source tree without installed metadata
FALLBACK_REQUIREMENTS = ("torch>=2.4", "numpy>=1.24", "matplotlib>=3.7", "tqdm>=4.60", "safetensors>=0.4")
TORCH_INSTALL = "https://pytorch.org/get-started/locally/"


@dataclass
class Finding:
    """One line of the report: ``item``, ``verdict`` (one of ``VERDICTS``), a message and raw details."""

    item: str
    verdict: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def _version_tuple(version: str) -> tuple[int, ...]:
    """``"2.13.0+cpu"`` → ``(2, 13, 0)``; stops at the first part that is not a number."""
    parts = []
    for piece in re.split(r"[.+-]", version):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


def check_python() -> Finding:
    """The interpreter against divekit's ``Requires-Python`` (``>=3.11``)."""
    try:
        required = metadata.metadata("divekit")["Requires-Python"] or ">=3.11"
    except metadata.PackageNotFoundError:
        required = ">=3.11"
    minimum = _version_tuple(required.lstrip(">= "))
    version = platform.python_version()
    details = {"version": version, "executable": sys.executable, "requires": required}
    if sys.version_info[:len(minimum)] < minimum:
        return Finding("python", "fail", f"{version} is too old: divekit needs Python {required}", details)
    return Finding("python", "ok", f"{version} ({sys.executable})", details)


def requirements() -> list[tuple[str, str | None]]:
    """divekit's run-time dependencies as ``(name, minimum version or None)``, extras left out."""
    try:
        reqs = metadata.requires("divekit") or list(FALLBACK_REQUIREMENTS)
    except metadata.PackageNotFoundError:
        reqs = list(FALLBACK_REQUIREMENTS)
    out = []
    for req in reqs:
        if "extra ==" in req:
            continue
        m = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(?:>=\s*([0-9][0-9.]*))?", req)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def check_packages() -> Finding:
    """Every dependency other than torch is installed, at least at its minimum version."""
    found, problems = {}, []
    for name, minimum in requirements():
        if name == "torch":
            continue  # its own line
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name} is missing (pip install '{name}>={minimum}')" if minimum else f"{name} is missing")
            continue
        if minimum and _version_tuple(found[name]) < _version_tuple(minimum):
            problems.append(f"{name} {found[name]} is older than {minimum} (pip install -U {name})")
    if problems:
        return Finding("packages", "fail", "; ".join(problems), {"versions": found})
    return Finding("packages", "ok", ", ".join(f"{n} {v}" for n, v in found.items()), {"versions": found})


def torch_build() -> dict[str, Any] | None:
    """Version, location and build of the installed torch, read from ``torch/version.py`` without importing
    torch; None when torch is not installed."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return None
    root = Path(spec.origin).parent
    values: dict[str, Any] = {}
    try:
        tree = ast.parse((root / "version.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        tree = ast.Module(body=[], type_ignores=[])
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
            values[target.id] = value.value
    version = values.get("__version__") or metadata.version("torch")
    kind = ("CUDA " + values["cuda"]) if values.get("cuda") else ("ROCm " + values["hip"]) if values.get("hip") \
        else "CPU-only"
    return {"version": version, "path": str(root), "cuda": values.get("cuda"), "hip": values.get("hip"),
            "kind": kind}


def check_torch(build: dict[str, Any] | None) -> Finding:
    """The torch version against divekit's minimum, and which build it is."""
    if build is None:
        return Finding("torch", "fail", f"not installed: pick the command for your machine at {TORCH_INSTALL}")
    minimum = dict(requirements()).get("torch")
    if minimum and _version_tuple(build["version"]) < _version_tuple(minimum):
        return Finding("torch", "fail", f"{build['version']} is older than {minimum}: upgrade ({TORCH_INSTALL})",
                       build)
    return Finding("torch", "ok", f"{build['version']}, {build['kind']} build ({build['path']})", build)


def cpu_info() -> dict[str, Any]:
    """CPU model name and flags from ``/proc/cpuinfo`` (empty on systems without it)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return {"model": platform.processor() or platform.machine(), "flags": None}
    first = {}
    for line in lines:
        key, _, value = line.partition(":")
        first.setdefault(key.strip(), value.strip())
    return {"model": first.get("model name", platform.machine()), "flags": first.get("flags", "").split()}


def check_cpu(info: dict[str, Any]) -> Finding:
    """Cores available to this process and the threads divekit will train on (``set_threads`` rules)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    omp = os.environ.get("OMP_NUM_THREADS")
    why = f"OMP_NUM_THREADS={omp}" if omp else "all available cores"
    threads = omp or str(cores)
    return Finding("cpu", "ok", f"{info['model']}: {cores} cores available, training uses {threads} threads "
                                f"({why}; --threads N to change)",
                   {"model": info["model"], "cores": cores, "omp_num_threads": omp})


def check_bf16(info: dict[str, Any]) -> Finding:
    """Native bf16 on the CPU decides what ``--precision auto`` does there."""
    flags = info["flags"]
    if flags is None:
        return Finding("cpu bf16", "info", "unknown (no /proc/cpuinfo): --precision auto trains in fp32 on the CPU",
                       {"native": False})
    native = [f for f in BF16_FLAGS if f in flags]
    if native:
        return Finding("cpu bf16", "ok", f"native ({', '.join(native)}): --precision auto trains in bf16 (lenet: fp32)",
                       {"native": True})
    return Finding("cpu bf16", "info", f"emulated (no {' or '.join(BF16_FLAGS)}): --precision auto trains in fp32, "
                                       f"as bf16 would be slower here", {"native": False})


def nvidia_driver_present() -> bool:
    """An NVIDIA driver is loaded or its tools are installed (a GPU a CPU-only torch cannot use)."""
    gpus = Path("/proc/driver/nvidia/gpus")
    return (gpus.is_dir() and any(gpus.iterdir())) or shutil.which("nvidia-smi") is not None


def check_cuda(build: dict[str, Any] | None) -> list[Finding]:
    """CUDA GPUs as torch sees them: name, memory, bf16. A CPU-only build is answered without importing torch."""
    if build is None:
        return []
    if not build["cuda"] and not build["hip"]:
        if nvidia_driver_present():
            return [Finding("cuda", "warn", f"an NVIDIA GPU driver is present but torch {build['version']} is a "
                                            f"CPU-only build: install a CUDA build ({TORCH_INSTALL})")]
        return [Finding("cuda", "info", "not available: CPU-only torch build and no NVIDIA driver; training runs "
                                        "on the CPU")]
    import torch

    if not torch.cuda.is_available():
        return [Finding("cuda", "warn", f"torch is a {build['kind']} build but sees no GPU (driver missing, or "
                                        f"CUDA_VISIBLE_DEVICES hides them): training runs on the CPU")]
    found = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        free, total = torch.cuda.mem_get_info(i)
        bf16 = torch.cuda.is_bf16_supported() if i == torch.cuda.current_device() else None
        details = {"name": props.name, "total_gib": round(total / 2**30, 1), "free_gib": round(free / 2**30, 1),
                   "capability": f"{props.major}.{props.minor}", "bf16": bf16}
        found.append(Finding(f"cuda:{i}", "ok", f"{props.name}, {total / 2**30:.1f} GiB ({free / 2**30:.1f} free), "
                                                f"compute capability {props.major}.{props.minor}"
                                                + (", bf16" if bf16 else ""), details))
    return found


def check_mps(build: dict[str, Any] | None) -> Finding | None:
    """Apple GPUs (MPS); only asked on macOS."""
    if build is None:
        return None
    if sys.platform != "darwin":
        return Finding("mps", "info", f"not applicable (Apple GPUs only; this is {platform.system()})")
    import torch

    if torch.backends.mps.is_available():
        return Finding("mps", "ok", "available: --device mps")
    built = torch.backends.mps.is_built()
    return Finding("mps", "info", "not available" + ("" if built else " (torch built without it)"))


def _origin(path: Path, data_dir: str | None) -> str:
    """Which lookup location (see divekit.data.sources) ``path`` belongs to."""
    from divekit.data.sources import MINI_DIR, search_roots

    roots = [(MINI_DIR, "bundled with divekit"), *([(Path(data_dir), "--data-dir")] if data_dir else []),
             *search_roots(data_dir)]
    for root, label in roots:
        if path == root or root in path.parents:
            return label
    return "found"


def check_data_dirs(data_dir: str | None = None) -> list[Finding]:
    """A ``--data-dir`` that training would refuse fails; a ``$DIVEKIT_DATA`` that is no folder warns (the
    search skips it)."""
    from divekit.data.catalog import ARCHIVE_SUFFIXES
    from divekit.data.sources import check_data_dir
    from divekit.errors import ConfigError

    found = []
    try:
        check_data_dir(data_dir, ARCHIVE_SUFFIXES)
    except ConfigError as e:
        found.append(Finding("data-dir", "fail", str(e), {"path": str(data_dir)}))
    env = os.environ.get("DIVEKIT_DATA")
    if env and not Path(env).is_dir():
        found.append(Finding("DIVEKIT_DATA", "warn", f"$DIVEKIT_DATA={env}: no such folder, so it is not searched",
                             {"path": env}))
    return found


def check_datasets(data_dir: str | None = None, default: str = "fashion-mnist") -> list[Finding]:
    """Where each known dataset was found, or how to get it. Missing ``default`` (what ``divekit train`` uses)
    is a warning, any other missing dataset only information. A ``data_dir`` that is refused (see
    ``check_data_dirs``) is left out of the search."""
    from divekit.data.catalog import SOURCES
    from divekit.data.sources import candidate_dirs, find, how_to_get, location, searchable
    from divekit.errors import ConfigError

    found = []
    for name, spec in SOURCES.items():
        try:
            dirs = searchable(spec, data_dir)
            files = find(spec, dirs)
        except ConfigError:
            dirs, files = None, find(spec)
        if files is not None:
            where = location(files)
            found.append(Finding(f"data {name}", "ok", f"{_origin(where, dirs)}: {where.resolve()}",
                                 {"path": str(where.resolve())}))
            continue
        tried = [str(d) for d in candidate_dirs(spec, dirs)]
        found.append(Finding(f"data {name}", "warn" if name == default else "info", f"not found: {how_to_get(spec)}",
                             {"tried": tried}))
    return found


def check_runs(runs_dir: str | os.PathLike = "runs") -> Finding:
    """The run directory (or, if it does not exist yet, its nearest existing parent) accepts new files."""
    path = Path(runs_dir).absolute()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    details = {"path": str(path), "exists": path.exists()}
    if not existing.is_dir():
        return Finding("runs", "fail", f"{path}: {existing} is a file, not a directory (use --runs-dir)", details)
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        return Finding("runs", "fail", f"{path}: {existing} is not writable ({e.strerror}); use --runs-dir", details)
    free = shutil.disk_usage(existing).free / 2**30
    details["free_gib"] = round(free, 1)
    note = "" if path.exists() else " (will be created)"
    verdict = "warn" if free < 1 else "ok"
    return Finding("runs", verdict, f"{path}: writable{note}, {free:.1f} GiB free", details)


def check_torch_works() -> Finding:
    """Import torch and check one gradient: ``d/dW sum(W @ x) = 1 xᵀ`` for a 64×64 ``W``."""
    t0 = time.perf_counter()
    try:
        import torch
    except Exception as e:  # a broken install: missing shared library, ABI mismatch …
        return Finding("torch import", "fail", f"import torch failed: {e}")
    seconds = time.perf_counter() - t0
    w = torch.randn(64, 64, requires_grad=True)
    x = torch.randn(64, 1)
    (w @ x).sum().backward()
    ok = torch.allclose(w.grad, x.T.expand(64, 64))
    details = {"import_seconds": round(seconds, 2), "threads": torch.get_num_threads(), "gradient_ok": ok}
    if not ok:
        return Finding("torch import", "fail", "a gradient check gave a wrong result", details)
    return Finding("torch import", "ok", f"imports in {seconds:.1f} s, {torch.get_num_threads()} threads, "
                                         f"gradient check passed", details)


def run_doctor(data_dir: str | None = None, runs_dir: str | os.PathLike = "runs", full: bool = False) -> list[Finding]:
    """All checks, in report order."""
    build = torch_build()
    info = cpu_info()
    findings = [check_python(), check_torch(build), check_packages()]
    if full and build is not None:
        findings.append(check_torch_works())
    findings += [check_cpu(info), check_bf16(info), *check_cuda(build)]
    findings += [f for f in [check_mps(build)] if f is not None]
    return findings + check_data_dirs(data_dir) + check_datasets(data_dir) + [check_runs(runs_dir)]


def exit_code(findings: list[Finding], strict: bool = False) -> int:
    """1 when any item failed (or warned, with ``strict``), else 0."""
    bad = {"fail", "warn"} if strict else {"fail"}
    return int(any(f.verdict in bad for f in findings))


def counts(findings: list[Finding]) -> dict[str, int]:
    return {v: sum(f.verdict == v for f in findings) for v in VERDICTS}


def format_report(findings: list[Finding], code: int) -> str:
    """One ``verdict  item  message`` line per finding, then a summary line."""
    width = max(len(f.item) for f in findings)
    lines = [f"{f.verdict:<5} {f.item:<{width}}  {f.message}" for f in findings]
    c = counts(findings)
    plural = {"warn": "warning", "fail": "failure"}
    tally = ", ".join(f"{c[v]} {plural.get(v, v)}" + ("s" if v in plural and c[v] != 1 else "") for v in VERDICTS)
    lines.append(f"{tally} (exit status {code})")
    return "\n".join(lines)


def as_json(findings: list[Finding], code: int, seconds: float) -> dict[str, Any]:
    return {"findings": [asdict(f) for f in findings], "counts": counts(findings), "exit_code": code,
            "seconds": round(seconds, 3)}
