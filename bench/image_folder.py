"""Image folders: Fashion-MNIST written as 70,000 PNG files, against the same recipe on its IDX files.

Steps (each prints JSON lines; ``all`` runs them in this order):

- ``write``: the 60,000 + 10,000 images as PNG files in ``FOLDER/train/<class>/`` and ``FOLDER/test/<class>/``.
- ``decode``: the first run's decode into an empty cache (header pass and decode, all cores): images/s.
- ``start``: a second run, from the ``divekit.train`` call to the end of its first training step (the cache is
  current: the folder is listed, nothing decoded), and the folder scan + cache lookup alone.
- ``accuracy``: ``divekit train --data FOLDER`` (the default recipe; a folder without ``val/`` gets a 10 %
  stratified validation split, and unknown data no flips) against ``divekit train --data fashion-mnist
  --valid-fraction 0.1 --no-flip`` (the same configuration on the IDX files), for each seed: test accuracy,
  wall time and peak resident memory (``/usr/bin/time``) of each command.
- ``export``: the folder run exported as ONNX, TorchScript and pt2, each checked on 1,000 test images: the largest
  probability difference and the exported model's images/s (batches of 1,000), against the run's own model in
  PyTorch (float32, the same batches) timed in the same process.

- ``stream``: the folder decoded at ``--image-size 112`` (a cache of 878 MB), then one epoch trained in a cgroup
  (v1, ``memory.limit_in_bytes``; needs root) whose memory limit, page cache included, is ``--limit-mb`` (600):
  the cache does not fit, so batches are paged in from the cache file and dropped again. Reports the cgroup's
  peak usage, how often it hit the limit, the run's peak resident memory and its test accuracy.

- ``colour``: the bundled Fashion-MNIST sample made colour (tinted per class) at sizes that differ per image
  (20 to 48 pixels a side, RGBA PNG and JPEG; tests/helpers/imagefolders.py), 5,000 images in class folders:
  trained with the default recipe, predicted on one class folder, exported as ONNX and checked.

Usage: python bench/image_folder.py [write|decode|start|accuracy|export|stream|colour|all] --folder DIR [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

DIVEKIT = [sys.executable, "-m", "divekit"]


def emit(**row) -> None:
    print(json.dumps(row), flush=True)


def write(folder: Path) -> None:
    from divekit.data.decode import chunks, in_parallel
    from divekit.data.images import load_dataset

    start = time.perf_counter()
    jobs = []
    for split in ("train", "test"):
        ds = load_dataset("fashion-mnist", split)
        names = [c.replace("/", "-") for c in ds.classes]
        for name in names:
            (folder / split / name).mkdir(parents=True, exist_ok=True)
        items = [(str(folder / split / names[int(y)] / f"{i:05d}.png"), ds.images[i, 0].numpy())
                 for i, y in enumerate(ds.labels)]
        jobs += chunks(items, 1000)
    in_parallel(_save, jobs, [len(j) for j in jobs], "writing PNG files")
    emit(step="write", files=sum(len(j) for j in jobs), seconds=round(time.perf_counter() - start, 2),
         bytes=sum(f.stat().st_size for f in folder.rglob("*.png")))


def _save(items) -> None:
    from PIL import Image

    for path, pixels in items:
        Image.fromarray(pixels).save(path)


def decode(folder: Path) -> None:
    from divekit.data.imagecache import cache_folder, load_folder
    from divekit.options import cores

    shutil.rmtree(cache_folder(folder, None), ignore_errors=True)
    start = time.perf_counter()
    data = load_folder(folder)
    seconds = time.perf_counter() - start
    n = len(data.images)
    emit(step="decode", images=n, seconds=round(seconds, 2), images_per_second=round(n / seconds), cores=cores(),
         cache_bytes=data.images.numel())


class FirstStep(Exception):
    pass


class StopAtFirstStep:
    def on_step_end(self, state) -> None:
        raise FirstStep


def _to_first_step(runs: str, **settings) -> tuple[float, float]:
    """Wall and CPU seconds from the ``divekit.train`` call to the end of the first training step."""
    from divekit import api

    t0, c0 = time.perf_counter(), time.process_time()
    try:
        api.train(runs_dir=runs, callbacks=[StopAtFirstStep()], **settings)
    except FirstStep:
        pass
    return round(time.perf_counter() - t0, 3), round(time.process_time() - c0, 3)


def start(folder: Path) -> None:
    from divekit.data.imagecache import load_folder

    t0, c0 = time.perf_counter(), time.process_time()
    load_folder(folder)
    lookup = round(time.perf_counter() - t0, 3), round(time.process_time() - c0, 3)
    idx = dict(data="fashion-mnist", valid_fraction=0.1, augment_flip=False)
    with tempfile.TemporaryDirectory() as runs:
        _to_first_step(runs, **idx)  # the first run in a process pays one-off imports: not measured
        folder_run, idx_run = _to_first_step(runs, data=str(folder)), _to_first_step(runs, **idx)
    emit(step="start", load_avg=os.getloadavg()[0], scan_and_cache_lookup_wall_cpu=lookup,
         folder_to_first_step_wall_cpu=folder_run, idx_to_first_step_wall_cpu=idx_run)


def _timed(args: list[str], runs: str, name: str) -> dict:
    cmd = ["/usr/bin/time", "-f", "MAXRSS %M", *DIVEKIT, "train", *args, "--runs-dir", runs, "--name", name]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    seconds = time.perf_counter() - t0
    summary = json.loads((Path(runs) / name / "summary.json").read_text())
    rss = int(re.search(r"MAXRSS (\d+)", done.stderr).group(1))
    return {"test_acc": summary["final"]["test_acc"], "valid_acc": summary["final"].get("valid_acc"),
            "seconds": round(seconds, 2), "peak_rss_mb": round(rss / 1024, 1)}


def accuracy(folder: Path, seeds: list[int]) -> None:
    with tempfile.TemporaryDirectory() as runs:
        for seed in seeds:  # interleaved: the folder, then the IDX files, per seed
            for source, args in (("folder", ["--data", str(folder)]),
                                 ("idx", ["--data", "fashion-mnist", "--valid-fraction", "0.1", "--no-flip"])):
                emit(step="accuracy", source=source, seed=seed,
                     **_timed([*args, "--seed", str(seed)], runs, f"{source}-{seed}"))


def export(folder: Path) -> None:
    import torch

    from divekit import api
    from divekit.training.export import reference, sample_pixels

    with tempfile.TemporaryDirectory() as runs:
        run = api.train(data=str(folder), runs_dir=runs, name="folder")
        finished = run.open("cpu")
        pixels = sample_pixels(finished.test_set, 1000)
        reference(finished, pixels)  # warm
        t0 = time.perf_counter()
        reference(finished, pixels)
        emit(step="export", format="pytorch (the run's model)", images_per_second=round(1000 / (time.perf_counter()
                                                                                               - t0)))
        for fmt in ("onnx", "torchscript", "pt2"):
            result = run.export(fmt, Path(runs) / f"model.{fmt}", samples=1000)
            emit(step="export", format=fmt, examples=result.examples, max_abs_diff=result.max_diff,
                 images_per_second=round(result.images_per_second), threads=torch.get_num_threads())


def colour() -> None:
    from divekit import api
    from tests.helpers.imagefolders import colour_folder

    with tempfile.TemporaryDirectory() as tmp:
        data = colour_folder(Path(tmp) / "colour", per_class=500, classes=10)
        t0 = time.perf_counter()
        run = api.train(data=str(data), runs_dir=Path(tmp) / "runs", name="colour")
        seconds = time.perf_counter() - t0
        first = sorted(p for p in data.iterdir())[0]
        rows = run.predict(first).rows
        result = run.export("onnx", Path(tmp) / "colour.onnx", samples=500)
        emit(step="colour", images=sum(1 for _ in data.rglob("*.*")), image_size=run.meta["image_size"],
             channels=run.meta["channels"], valid_acc=run.final["valid_acc"], seconds=round(seconds, 1),
             predicted=len(rows), predicted_as_its_folder=sum(r[1] == first.name for r in rows) / len(rows),
             onnx_max_abs_diff=result.max_diff, onnx_images_per_second=round(result.images_per_second))


CGROUP = Path("/sys/fs/cgroup/memory")


def stream(folder: Path, limit_mb: int) -> None:
    from divekit.data.imagecache import load_folder

    t0 = time.perf_counter()
    data = load_folder(folder, 112)
    emit(step="stream-decode", images=len(data.images), seconds=round(time.perf_counter() - t0, 2),
         cache_mb=round(data.images.numel() / 2**20, 1))
    cache_files = list(data.cache.glob("images-*.u8"))
    del data
    for file in cache_files:  # out of the page cache: pages stay charged to the cgroup that first read them
        fd = os.open(file, os.O_RDONLY)
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    group = CGROUP / f"divekit-bench-{os.getpid()}"
    if not CGROUP.is_dir():
        raise SystemExit("no cgroup v1 memory controller at /sys/fs/cgroup/memory: cannot limit the run's memory")
    group.mkdir()
    try:
        (group / "memory.limit_in_bytes").write_text(str(limit_mb * 2**20))
        with tempfile.TemporaryDirectory() as runs:
            cmd = " ".join(["exec", "/usr/bin/time", "-f", "'MAXRSS %M'", *DIVEKIT, "train", "--data", str(folder),
                            "--image-size", "112", "--epochs", "1", "--batch-size", "64", "--runs-dir", runs,
                            "--name", "stream"])
            t0 = time.perf_counter()
            done = subprocess.run(["sh", "-c", f"echo $$ > {group}/cgroup.procs && {cmd}"], capture_output=True,
                                  text=True)
            seconds = time.perf_counter() - t0
            rss = re.search(r"MAXRSS (\d+)", done.stderr)
            row = dict(step="stream", limit_mb=limit_mb, returncode=done.returncode, seconds=round(seconds, 1),
                       cgroup_peak_mb=round(int((group / "memory.max_usage_in_bytes").read_text()) / 2**20, 1),
                       times_at_limit=int((group / "memory.failcnt").read_text()),
                       peak_rss_mb=round(int(rss.group(1)) / 1024, 1) if rss else None)
            summary = Path(runs) / "stream" / "summary.json"
            if summary.is_file():
                row["test_acc"] = json.loads(summary.read_text())["final"]["test_acc"]
            else:
                row["stderr"] = done.stderr[-500:]
            emit(**row)
    finally:
        group.rmdir()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", nargs="?", default="all",
                   choices=("write", "decode", "start", "accuracy", "export", "stream", "colour", "all"))
    p.add_argument("--folder", type=Path, required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--limit-mb", type=int, default=600)
    args = p.parse_args()
    steps = ["write", "decode", "start", "accuracy", "export", "stream", "colour"] if args.step == "all" else [
        args.step]
    if "write" in steps and not args.folder.exists():
        write(args.folder)
    for step in steps:
        if step == "decode":
            decode(args.folder)
        elif step == "start":
            start(args.folder)
        elif step == "accuracy":
            accuracy(args.folder, args.seeds)
        elif step == "export":
            export(args.folder)
        elif step == "stream":
            stream(args.folder, args.limit_mb)
        elif step == "colour":
            colour()
    os.sync()


if __name__ == "__main__":
    main()
