"""Dataset lookup order, the bundled sample, user directories, --data-dir checks, and verified downloads from
a local server (never the internet)."""

import hashlib
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from divekit.cli import main
from divekit.data import sources
from divekit.data.catalog import SOURCES
from divekit.data.download import content_sha256
from divekit.data.idx import write_idx
from divekit.data.images import load_dataset
from divekit.data.registry import DatasetSpec, RemoteFile, candidate_dirs, find_local, idx_files_in, locate
from divekit.data.tabular import locate_tabular
from divekit.errors import ConfigError, DataError

pytest_plugins = ["local_http"]  # its fixtures: http_root, no_retries, dead_url

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


def test_every_kind_follows_the_same_lookup_order(tmp_path, monkeypatch):
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    for root in (explicit, env):
        (root / "kaggle-house-prices").mkdir(parents=True)
        for name in ("kaggle_house_pred_train.csv", "kaggle_house_pred_test.csv"):
            (root / "kaggle-house-prices" / name).write_text("Id,SalePrice\n1,2\n")
    monkeypatch.setenv("DIVEKIT_DATA", str(env))
    assert locate_tabular("house-prices", explicit, download=False)[1].parent == explicit / "kaggle-house-prices"
    assert locate_tabular("house-prices", download=False)[1].parent == env / "kaggle-house-prices"
    dirs = sources.candidate_dirs(SOURCES["house-prices"], explicit)
    assert dirs[:3] == [explicit / "kaggle-house-prices", explicit / "house-prices", explicit]
    assert dirs[3] == env / "kaggle-house-prices" and dirs[-1] == Path("/usr/share/datasets/house-prices")


def test_any_directory_of_idx_files(tmp_path):
    d = make_idx_dir(tmp_path / "mydata", classes=4)
    ds = load_dataset(str(d), "train")
    assert ds.images.shape == (20, 1, 8, 8) and ds.num_classes == 4 and ds.name == "mydata"


def test_missing_relative_path_names_absolute_path_and_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as e:
        locate("./no/such/dir")
    assert str(tmp_path / "no" / "such" / "dir") in str(e.value) and "current directory" in str(e.value)


def test_data_that_is_no_known_layout_says_what_it_holds_instead(tmp_path, capsys):
    """Images or texts straight in the folder (no class folders), a single file, an empty folder: one line each,
    saying what --data takes."""
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat1.jpg").write_bytes(b"x")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("a review")
    (tmp_path / "empty").mkdir()
    expected = {
        "photos": "its images are not in class folders: put each class's images in a subfolder named after the "
                  "class (photos/<class>/…), or use train/ and test/ folders of such class folders",
        "notes": "its texts are not in class folders: put each class's texts in a subfolder named after the class "
                 "(notes/<class>/…), or use train/ and test/ folders of such class folders",
        "photos/cat1.jpg": "a file; --data takes a dataset name, a .csv file, or a folder: class folders of images "
                           "or of .txt files, or the four IDX files",
        "empty": "expected class folders of images or of .txt files, or the four IDX files train-images*, "
                 "train-labels*, t10k-images* (or test-images*), t10k-labels* (or test-labels*)"}
    for data, words in expected.items():
        assert main(["train", "--data", str(tmp_path / data), "--runs-dir", str(tmp_path / "runs")]) == 2
        assert capsys.readouterr().err == f"error: {tmp_path / data}: {words}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "notes", "photos"]  # nothing written


def test_unknown_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="unknown dataset 'cifar'.*fashion-mnist"):
        locate("cifar")


def test_a_data_dir_that_is_no_folder_is_refused_by_every_locator(tmp_path):
    missing, a_file = tmp_path / "nope", tmp_path / "notes.txt"
    a_file.write_text("x")
    for find in (lambda d: load_dataset("fashion-mnist-mini", "train", d),
                 lambda d: locate("fashion-mnist", d, download=False),
                 lambda d: locate_tabular("house-prices", d, download=False)):
        with pytest.raises(ConfigError, match=f"--data-dir {missing}: no such folder"):
            find(missing)
        with pytest.raises(ConfigError, match=f"--data-dir {a_file}: a file, expected a folder"):
            find(a_file)


@pytest.mark.parametrize("data, model", [("fashion-mnist-mini", "mlp"), ("house-prices", "linear"),
                                         ("imdb", "bilstm")])
def test_train_refuses_a_data_dir_that_is_a_file(tmp_path, capsys, data, model):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    runs = tmp_path / "runs"
    argv = ["train", "--data", data, "--model", model, "--data-dir", str(a_file), "--runs-dir", str(runs)]
    assert main([*argv, "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --data-dir {a_file}: a file, expected a folder")
    assert not runs.exists()


def test_datasets_refuses_a_missing_data_dir_in_one_line(capsys):
    assert main(["datasets", "--data-dir", "/nonexistent"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --data-dir /nonexistent: no such folder")


def test_datasets_lists_every_known_dataset_without_importing_torch(tmp_path):
    code = "import sys; from divekit.cli import main; main(['datasets']); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "False"
    for name in SOURCES:
        assert f"\n{name} " in "\n" + out


def test_every_download_divekit_knows_is_checked_by_sha256():
    for spec in SOURCES.values():
        for file in spec.files.values():
            if spec.mirrors:
                assert (file.sha256 or file.content_sha256) and not file.sha1, (spec.name, file.name)


def test_the_catalog_sha256_matches_the_shared_copies(shared_data):
    for name in ("house-prices", "time-machine", "airfoil"):
        spec = SOURCES[name]
        for file in spec.files.values():
            path = shared_data / spec.folder / file.name
            if not path.is_file():
                pytest.skip(f"{path} not found")
            assert hashlib.sha256(path.read_bytes()).hexdigest() == file.sha256, path


def spec_for(src: Path, mirrors, tamper_role=None, published=False) -> DatasetSpec:
    files = {}
    for role, name in NAMES.items():
        digest = "0" * 64 if role == tamper_role else None
        if published:
            files[role] = RemoteFile(name, sha256=digest or hashlib.sha256((src / name).read_bytes()).hexdigest())
        else:
            files[role] = RemoteFile(name, content_sha256=digest or content_sha256(src / name))
    return DatasetSpec("toy", "toy", "images", "toy", files, tuple(mirrors), layout=idx_files_in,
                       classes=("a", "b", "c"), mean=0.5, std=0.25)


def test_download_from_local_server_verifies_and_lands_atomically(http_root, tmp_path):
    root, url = http_root
    make_idx_dir(root)
    files = sources.fetch_files(spec_for(root, [url]), target=tmp_path / "cache" / "toy", progress=False)
    assert set(files) == set(NAMES) and all(p.is_file() for p in files.values())
    assert sorted(p.name for p in (tmp_path / "cache" / "toy").iterdir()) == sorted(NAMES.values())
    assert content_sha256(files["train_images"]) == content_sha256(root / NAMES["train_images"])


def test_locate_downloads_into_the_user_cache_once(http_root, tmp_path, monkeypatch, dead_url):
    root, url = http_root
    make_idx_dir(root)
    monkeypatch.delenv("DIVEKIT_DATA", raising=False)
    spec = spec_for(root, [url])
    files = sources.locate(spec)
    assert files["test_labels"].parent == sources.cache_dir() / "toy"
    assert sources.locate(replace(spec, mirrors=(dead_url,)), download=False) == files  # found, no server needed


def test_download_falls_back_to_second_mirror(http_root, tmp_path, no_retries, dead_url):
    root, url = http_root
    make_idx_dir(root / "good")
    spec = spec_for(root / "good", [dead_url, url + "good/"])
    files = sources.fetch_files(spec, target=tmp_path / "cache", progress=False)
    assert files["test_labels"].is_file()


@pytest.mark.parametrize("published", [False, True], ids=["content-sha256", "sha256"])
def test_download_checksum_mismatch_is_refused_and_removed(http_root, tmp_path, no_retries, published):
    root, url = http_root
    make_idx_dir(root)
    spec = spec_for(root, [url], tamper_role="train_labels", published=published)
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz.*checksum mismatch"):
        sources.fetch_files(spec, target=tmp_path / "c", progress=False)
    assert not (tmp_path / "c" / NAMES["train_labels"]).exists()
    assert not [p for p in (tmp_path / "c").iterdir() if p.name not in NAMES.values()]  # no temporary left


def test_a_tampered_mirror_falls_over_to_a_faithful_one(http_root, tmp_path, no_retries):
    root, url = http_root
    make_idx_dir(root / "good")
    make_idx_dir(root / "bad", seed=1)
    files = sources.fetch_files(spec_for(root / "good", [url + "bad/", url + "good/"], published=True),
                                target=tmp_path / "c", progress=False)
    assert files["train_images"].read_bytes() == (root / "good" / NAMES["train_images"]).read_bytes()


def test_a_corrupt_cached_file_is_fetched_again(http_root, tmp_path):
    root, url = http_root
    make_idx_dir(root)
    target = tmp_path / "c"
    target.mkdir()
    (target / NAMES["train_images"]).write_bytes(b"\x1f\x8b truncated")
    files = sources.fetch_files(spec_for(root, [url]), target=target, progress=False)
    assert content_sha256(files["train_images"]) == content_sha256(root / NAMES["train_images"])


def test_download_unreachable_gives_one_clear_error(tmp_path, no_retries, dead_url, monkeypatch):
    src = make_idx_dir(tmp_path / "src")
    with pytest.raises(DataError, match=r"toy: could not download .*\$DIVEKIT_DATA/toy/") as e:
        sources.fetch_files(spec_for(src, [dead_url]), target=tmp_path / "c", progress=False)
    assert "\n" not in str(e.value) and "is no folder" not in str(e.value)
    monkeypatch.setenv("DIVEKIT_DATA", str(tmp_path / "typo"))  # the folder the data was meant to be found in
    with pytest.raises(DataError, match=r"\$DIVEKIT_DATA/toy/ \(\$DIVEKIT_DATA=.*typo is no folder\)"):
        sources.fetch_files(spec_for(src, [dead_url]), target=tmp_path / "c", progress=False)
    assert f"{dead_url}train-images-idx3-ubyte.gz: cannot connect (no internet connection, a proxy or firewall, " \
           f"or the server is down)" in str(e.value) and "HTTPConnectionPool" not in str(e.value)


def test_an_unknown_host_is_named_as_such_not_as_urllib3s_chain():
    import requests

    from divekit.data.download import _reason

    chain = ("HTTPSConnectionPool(host='example.invalid', port=443): Max retries exceeded with url: /x (Caused by "
             "NameResolutionError(\"Failed to resolve 'example.invalid' ([Errno -2] Name or service not known)\"))")
    assert _reason(requests.ConnectionError(chain), None, None) == "host not found (no internet connection, or no DNS)"
    assert _reason(requests.ReadTimeout("read timed out"), None, None).startswith("no answer within")
