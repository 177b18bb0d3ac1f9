"""Dataset lookup order, the bundled sample, user directories, and verified downloads from a local server."""

import functools
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from divekit.data import download as dl
from divekit.data.download import content_sha256, download_dataset
from divekit.data.idx import write_idx
from divekit.data.images import load_dataset
from divekit.data.registry import DatasetSpec, RemoteFile, candidate_dirs, find_local, locate
from divekit.errors import DataError

NAMES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
         "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}


def make_idx_dir(d: Path, n_train=20, n_test=10, classes=3, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    write_idx(d / NAMES["train_images"], rng.integers(0, 256, (n_train, 8, 8), dtype=np.uint8))
    write_idx(d / NAMES["train_labels"], (np.arange(n_train) % classes).astype(np.uint8))
    write_idx(d / NAMES["test_images"], rng.integers(0, 256, (n_test, 8, 8), dtype=np.uint8))
    write_idx(d / NAMES["test_labels"], (np.arange(n_test) % classes).astype(np.uint8))
    return d


def test_bundled_mini_is_stratified_real_data():
    train = load_dataset("fashion-mnist-mini", "train")
    test = load_dataset("fashion-mnist-mini", "test")
    assert train.images.shape == (5000, 1, 28, 28) and train.labels.bincount().tolist() == [500] * 10
    assert test.images.shape == (1000, 1, 28, 28) and test.labels.bincount().tolist() == [100] * 10
    assert 0.2 < train.images.float().mean().item() / 255 < 0.4  # real clothes, not noise


def test_lookup_order(tmp_path, monkeypatch):
    explicit, env, cache = tmp_path / "explicit", tmp_path / "env", tmp_path / "cache"
    for d in (explicit, env, cache):
        make_idx_dir(d / "mnist")
    monkeypatch.setenv("DIVEKIT_DATA", str(env))
    monkeypatch.setenv("DIVEKIT_CACHE", str(cache))
    assert find_local("mnist", explicit)["train_images"].parent == explicit / "mnist"
    assert find_local("mnist")["train_images"].parent == env / "mnist"
    monkeypatch.delenv("DIVEKIT_DATA")
    assert find_local("mnist")["train_images"].parent == cache / "mnist"
    assert candidate_dirs("mnist")[-1] == Path("/usr/share/datasets/mnist")


def test_any_directory_of_idx_files(tmp_path):
    d = make_idx_dir(tmp_path / "mydata", classes=4)
    ds = load_dataset(str(d), "train")
    assert ds.images.shape == (20, 1, 8, 8) and ds.num_classes == 4 and ds.name == "mydata"


def test_missing_relative_path_names_absolute_path_and_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as e:
        locate("./no/such/dir")
    assert str(tmp_path / "no" / "such" / "dir") in str(e.value) and "current directory" in str(e.value)


def test_unknown_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="unknown dataset 'cifar'.*fashion-mnist"):
        locate("cifar")


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def spec_for(src: Path, mirrors, tamper_role=None) -> DatasetSpec:
    files = {}
    for role, name in NAMES.items():
        digest = content_sha256(src / name)
        files[role] = RemoteFile(name, "0" * 64 if role == tamper_role else digest)
    return DatasetSpec("toy", "toy", ("a", "b", "c"), tuple(mirrors), files, 0.5, 0.25)


def test_download_from_local_server_verifies_and_lands_atomically(http_root, tmp_path):
    root, url = http_root
    make_idx_dir(root)
    files = download_dataset(spec_for(root, [url]), root=tmp_path / "cache", progress=False)
    assert set(files) == set(NAMES) and all(p.is_file() for p in files.values())
    assert not [p for p in (tmp_path / "cache" / "toy").iterdir() if p.name.endswith((".tmp", ".part"))]
    assert content_sha256(files["train_images"]) == content_sha256(root / NAMES["train_images"])


def test_download_falls_back_to_second_mirror(http_root, tmp_path, monkeypatch):
    monkeypatch.setattr(dl, "RETRIES", 0)
    root, url = http_root
    make_idx_dir(root / "good")
    spec = spec_for(root / "good", ["http://127.0.0.1:9/", url + "good/"])
    files = download_dataset(spec, root=tmp_path / "cache", progress=False)
    assert files["test_labels"].is_file()


def test_download_checksum_mismatch_is_refused_and_removed(http_root, tmp_path):
    root, url = http_root
    make_idx_dir(root)
    with pytest.raises(DataError, match="checksum mismatch"):
        download_dataset(spec_for(root, [url], tamper_role="train_labels"), root=tmp_path / "c", progress=False)
    assert not (tmp_path / "c" / "toy" / NAMES["train_labels"]).exists()


def test_download_unreachable_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(dl, "RETRIES", 0)
    src = make_idx_dir(tmp_path / "src")
    with pytest.raises(DataError, match="could not download 'toy'.*--data-dir"):
        download_dataset(spec_for(src, ["http://127.0.0.1:9/"]), root=tmp_path / "c", progress=False)
