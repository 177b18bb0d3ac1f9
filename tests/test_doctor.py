"""``divekit doctor``: one verdict per item, a usable exit status, JSON, and fast (no torch import)."""

import json
import resource
import subprocess
import sys
from importlib import metadata

import pytest
import torch

from divekit.cli import main
from divekit.data.catalog import SOURCES
from divekit.diagnose import doctor
from divekit.diagnose.doctor import Finding, exit_code

IDX_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz")


def test_doctor_runs_in_under_two_seconds_of_cpu_without_importing_torch(tmp_path):
    """CPU time, not wall time: the test machine is shared, and a starved process is not a slow one."""
    code = ("import sys; from divekit.cli import main; rc = main(['doctor', '--runs-dir', sys.argv[1]]); "
            "print('torch imported:', 'torch' in sys.modules); sys.exit(rc)")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "runs")], capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert out.returncode == 0, out.stdout + out.stderr
    # a GPU build has to import torch and start CUDA to describe the GPUs: 4.4 s of CPU on an H200 machine
    gpu_build = torch.version.cuda is not None or torch.version.hip is not None
    assert cpu < (10.0 if gpu_build else 2.0), f"doctor used {cpu:.2f} s of CPU"
    lines = out.stdout.splitlines()
    assert all(line.split()[0] in doctor.VERDICTS for line in lines[:-2]), out.stdout
    assert lines[-2].endswith("(exit status 0)")
    if torch.version.cuda is None and torch.version.hip is None and sys.platform != "darwin":
        assert lines[-1] == "torch imported: False"  # a CPU build is answered from its files


def test_json_lists_every_item_once(tmp_path, capsys):
    assert main(["doctor", "--json", "--runs-dir", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    items = [f["item"] for f in report["findings"]]
    for item in ["python", "torch", "packages", "cpu", "cpu bf16", "runs", *(f"data {n}" for n in SOURCES)]:
        assert items.count(item) == 1, item
    assert "cuda" in items or "cuda:0" in items
    assert report["exit_code"] == 0 and report["counts"]["fail"] == 0
    assert {f["verdict"] for f in report["findings"]} <= set(doctor.VERDICTS)


def test_torch_version_and_build_are_read_right_without_importing_it():
    build = doctor.torch_build()
    assert build["version"] == torch.__version__
    assert build["cuda"] == torch.version.cuda and build["hip"] == torch.version.hip
    assert doctor.check_torch(build).verdict == "ok"
    assert doctor.check_torch(None).verdict == "fail"


def test_bf16_verdict_agrees_with_the_trainer():
    from divekit.training.device import cpu_bf16_native

    assert doctor.check_bf16(doctor.cpu_info()).details["native"] == cpu_bf16_native()


def test_where_each_dataset_was_found_or_how_to_get_it(tmp_path, monkeypatch):
    (tmp_path / "fashion-mnist").mkdir()
    for name in IDX_NAMES:
        (tmp_path / "fashion-mnist" / name).write_bytes(b"")
    monkeypatch.setenv("DIVEKIT_DATA", str(tmp_path))
    found = {f.item: f for f in doctor.check_datasets()}
    assert found["data fashion-mnist"].verdict == "ok"
    assert found["data fashion-mnist"].message == f"$DIVEKIT_DATA: {(tmp_path / 'fashion-mnist').resolve()}"
    assert found["data fashion-mnist-mini"].message.startswith("bundled with divekit")
    if found["data kmnist"].verdict != "ok":  # unless a system-wide copy exists
        assert "'divekit datasets --download kmnist'" in found["data kmnist"].message
        assert found["data kmnist"].verdict == "info"  # only the default dataset warns
    monkeypatch.setenv("DIVEKIT_DATA", str(tmp_path / "empty"))
    missing = {f.item: f for f in doctor.check_datasets()}["data fashion-mnist"]
    if missing.verdict != "ok":
        assert missing.verdict == "warn" and str(tmp_path / "empty" / "fashion-mnist") in missing.details["tried"]


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_data_dir_that_training_refuses_is_a_failure(tmp_path, capsys, kind):
    data_dir = tmp_path / ("nope" if kind == "missing" else "notes.txt")
    if kind == "file":
        data_dir.write_text("not a folder")
    assert main(["doctor", "--data-dir", str(data_dir), "--strict", "--runs-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    line = next(line for line in out if line.split()[1:2] == ["data-dir"])
    assert line.startswith("fail") and f"--data-dir {data_dir}: " in line
    assert "1 failure" in out[-1]


def test_the_imdb_archive_is_a_valid_data_dir(tmp_path, monkeypatch):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(b"")
    assert doctor.check_data_dirs(str(archive)) == []
    found = {f.item: f for f in doctor.check_datasets(str(archive))}
    assert found["data imdb"].message == f"--data-dir: {archive.resolve()}"
    monkeypatch.setenv("DIVEKIT_DATA", str(tmp_path / "gone"))
    assert [(f.item, f.verdict) for f in doctor.check_data_dirs(None)] == [("DIVEKIT_DATA", "warn")]


def test_an_unwritable_run_directory_fails_with_exit_status_1(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert main(["doctor", "--runs-dir", str(blocker / "runs")]) == 1
    out = capsys.readouterr().out
    assert "fail  runs" in out and "is a file, not a directory" in out
    ok = doctor.check_runs(tmp_path / "new" / "runs")
    assert ok.verdict == "ok" and "(will be created)" in ok.message and not (tmp_path / "new").exists()


def test_exit_status_counts_failures_and_with_strict_warnings():
    ok, warn, fail = Finding("a", "ok", ""), Finding("b", "warn", ""), Finding("c", "fail", "")
    assert exit_code([ok, Finding("i", "info", "")]) == 0
    assert exit_code([ok, warn]) == 0 and exit_code([ok, warn], strict=True) == 1
    assert exit_code([ok, fail]) == 1


def test_missing_or_old_packages_fail_naming_the_fix(monkeypatch):
    monkeypatch.setattr(doctor, "requirements", lambda: [("numpy", "1.0"), ("no-such-package-xyz", "1.0"),
                                                         ("pytest", "999.0")])
    finding = doctor.check_packages()
    assert finding.verdict == "fail"
    assert "no-such-package-xyz is missing (pip install 'no-such-package-xyz>=1.0')" in finding.message
    assert f"pytest {metadata.version('pytest')} is older than 999.0" in finding.message
    assert "numpy" not in finding.message


def test_a_cpu_only_torch_next_to_an_nvidia_driver_warns(monkeypatch):
    build = {"version": "2.5.0+cpu", "cuda": None, "hip": None, "kind": "CPU-only", "path": "/x"}
    monkeypatch.setattr(doctor, "nvidia_driver_present", lambda: True)
    [finding] = doctor.check_cuda(build)
    assert finding.verdict == "warn" and "CPU-only build" in finding.message
    monkeypatch.setattr(doctor, "nvidia_driver_present", lambda: False)
    assert doctor.check_cuda(build)[0].verdict == "info"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU answer of a CUDA build")
def test_a_cuda_build_that_sees_no_gpu_warns():
    build = {"version": "2.5.0+cu124", "cuda": "12.4", "hip": None, "kind": "CUDA 12.4", "path": "/x"}
    [finding] = doctor.check_cuda(build)
    assert finding.verdict == "warn" and "sees no GPU" in finding.message


def test_full_mode_imports_torch_and_checks_a_gradient():
    finding = doctor.check_torch_works()
    assert finding.verdict == "ok" and finding.details["gradient_ok"] is True
    assert finding.details["threads"] == torch.get_num_threads()


def test_too_old_python_fails(monkeypatch):
    monkeypatch.setattr(doctor.metadata, "metadata", lambda name: {"Requires-Python": ">=99.0"})
    finding = doctor.check_python()
    assert finding.verdict == "fail" and "needs Python >=99.0" in finding.message
