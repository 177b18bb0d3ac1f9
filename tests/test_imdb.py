"""The IMDb reader and the safe tar rules, on small archives built here (and the real one when present)."""

from __future__ import annotations

import io
import tarfile

import pytest

from divekit.data.imdb import find_archive, read_imdb
from divekit.data.safetar import iter_files, safe_extract
from divekit.errors import ConfigError, DataError

REVIEWS = {
    "aclImdb/train/pos/0_9.txt": "Loved it.<br />Great acting!",
    "aclImdb/train/pos/10_8.txt": "Fine film, I'd watch again.",
    "aclImdb/train/neg/3_1.txt": "Awful. Don't bother.",
    "aclImdb/train/neg/2_2.txt": "Boring and too long.",
    "aclImdb/test/pos/1_10.txt": "A masterpiece – Amélie's best.",
    "aclImdb/test/neg/5_3.txt": "Not good at all.",
    "aclImdb/train/unsup/7_0.txt": "unlabelled, skipped",
    "aclImdb/README": "not a review",
}


def add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def add_special(tar: tarfile.TarFile, name: str, kind: bytes, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    tar.addfile(info)


def make_archive(path, files: dict[str, str], extra=None):
    with tarfile.open(path, "w:gz") as tar:
        add_special(tar, "aclImdb/", tarfile.DIRTYPE)
        for name, text in files.items():
            add_file(tar, name, text.encode("utf-8"))
        if extra:
            extra(tar)
    return path


def test_reads_both_splits_sorted_with_labels_and_ratings(tmp_path):
    path = make_archive(tmp_path / "aclImdb_train_test.tar.gz", REVIEWS)
    data = read_imdb(path)
    train, test = data["train"], data["test"]
    assert len(train) == 4 and len(test) == 2 and train.classes == ("neg", "pos")
    # sorted by (label, id): neg 2, neg 3, pos 0, pos 10 (numeric, not text, order of ids)
    assert train.texts == ["Boring and too long.", "Awful. Don't bother.", "Loved it.<br />Great acting!",
                           "Fine film, I'd watch again."]
    assert train.labels == [0, 0, 1, 1] and train.ratings == [2, 1, 9, 8]
    assert test.texts[1] == "A masterpiece – Amélie's best." and test.labels == [0, 1]


def test_finds_the_archive_in_data_dir_layouts(tmp_path):
    (tmp_path / "aclImdb").mkdir()
    path = make_archive(tmp_path / "aclImdb" / "aclImdb_v1.tar.gz", REVIEWS)
    assert find_archive(tmp_path, download=False) == path
    assert find_archive(path, download=False) == path  # --data-dir may name the archive itself
    repack = make_archive(tmp_path / "aclImdb" / "aclImdb_train_test.tar.gz", REVIEWS)
    assert find_archive(tmp_path, download=False) == repack  # the labelled-only repack is preferred
    with pytest.raises(ConfigError, match="nothing.tar.gz: no such file"):
        find_archive(tmp_path / "nothing.tar.gz", download=True)  # an explicit archive path is never downloaded


def test_a_data_dir_that_is_neither_folder_nor_archive_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="notes.txt: a file, expected a folder or a file ending in .tar.gz"):
        find_archive(tmp_path / "notes.txt")
    with pytest.raises(ConfigError, match="no such folder"):
        find_archive(tmp_path / "nope")


def test_not_found_names_the_places_tried(tmp_path, monkeypatch):
    monkeypatch.delenv("DIVEKIT_DATA", raising=False)
    with pytest.raises(DataError) as e:
        find_archive(tmp_path, download=False)
    message = str(e.value)
    assert message.startswith("imdb: not found (looked for aclImdb_train_test.tar.gz or aclImdb_v1.tar.gz in ")
    assert str(tmp_path / "aclImdb") in message and "--data-dir" in message
    assert "'divekit datasets --download imdb'" in message


@pytest.mark.parametrize("name, kind, link, rule", [
    ("aclImdb/../../evil.txt", None, "", "contains '..'"),
    ("../aclImdb/train/pos/1_9.txt", None, "", "contains '..'"),
    ("/etc/cron.d/evil", None, "", "absolute path"),
    ("aclImdb/train/pos/link", tarfile.SYMTYPE, "/etc/passwd", "outside the extraction folder"),
    ("aclImdb/train/pos/link", tarfile.SYMTYPE, "../../../../etc/passwd", "outside the extraction folder"),
    ("aclImdb/hard", tarfile.LNKTYPE, "../outside", "outside the extraction folder"),
    ("aclImdb/dev", tarfile.CHRTYPE, "", "not a regular file"),
])
def test_crafted_archives_are_refused(tmp_path, name, kind, link, rule):
    def evil(tar):
        if kind is None:
            add_file(tar, name, b"pwned")
        else:
            add_special(tar, name, kind, link)

    path = make_archive(tmp_path / "evil.tar.gz", REVIEWS, evil)
    with pytest.raises(DataError, match="refusing the archive") as e:
        read_imdb(path)
    assert rule in str(e.value) and name in str(e.value) and str(path) in str(e.value)
    target = tmp_path / "out"
    with pytest.raises(DataError, match=rule.split()[0]):
        safe_extract(path, target)
    assert not target.exists()  # checked before anything is written
    assert not (tmp_path / "evil.txt").exists()


def test_links_inside_the_folder_are_allowed_and_safe_extract_works(tmp_path):
    path = make_archive(tmp_path / "ok.tar.gz", REVIEWS,
                        lambda tar: add_special(tar, "aclImdb/train/alias.txt", tarfile.SYMTYPE, "pos/0_9.txt"))
    names = [n for n, _ in iter_files(path)]
    assert "aclImdb/train/pos/0_9.txt" in names and "aclImdb/train/alias.txt" not in names  # files only
    extracted = safe_extract(path, tmp_path / "out")
    assert "aclImdb/train/alias.txt" in extracted
    assert (tmp_path / "out/aclImdb/train/neg/3_1.txt").read_text(encoding="utf-8") == "Awful. Don't bother."


def test_a_hard_link_to_no_earlier_member_and_a_symlink_loop_are_refused_in_one_line(tmp_path):
    """A hard link naming a member the archive does not hold before it made tarfile raise a bare KeyError midway
    through extraction; a link resolved through a symlink loop already in the folder, a RuntimeError."""
    path = make_archive(tmp_path / "hard.tar.gz", REVIEWS,
                        lambda tar: add_special(tar, "aclImdb/hard.txt", tarfile.LNKTYPE, "aclImdb/missing.txt"))
    with pytest.raises(DataError, match=r"member 'aclImdb/hard.txt' is a hard link to 'aclImdb/missing.txt', which "
                                        r"is not an earlier member of the archive; refusing the archive"):
        safe_extract(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything was written
    loop = tmp_path / "looped"
    loop.mkdir()
    (loop / "a").symlink_to("b")
    (loop / "b").symlink_to("a")
    path = make_archive(tmp_path / "loop.tar.gz", REVIEWS,
                        lambda tar: add_special(tar, "aclImdb/alias", tarfile.SYMTYPE, "../a/x"))
    with pytest.raises(DataError) as e:
        safe_extract(path, loop)
    assert "aclImdb/alias" in str(e.value) and "\n" not in str(e.value)


def test_corrupt_missing_and_wrong_archives(tmp_path):
    good = make_archive(tmp_path / "good.tar.gz", REVIEWS).read_bytes()
    (tmp_path / "truncated.tar.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="truncated.tar.gz"):
        read_imdb(tmp_path / "truncated.tar.gz")
    with pytest.raises(DataError, match="not found"):
        read_imdb(tmp_path / "missing.tar.gz")
    (tmp_path / "text.tar.gz").write_text("hello", encoding="utf-8")
    with pytest.raises(DataError, match="not a readable tar archive"):
        read_imdb(tmp_path / "text.tar.gz")
    only_train = make_archive(tmp_path / "train_only.tar.gz", {k: v for k, v in REVIEWS.items() if "/test/" not in k})
    with pytest.raises(DataError, match="no reviews under aclImdb/test"):
        read_imdb(only_train)
    latin = make_archive(tmp_path / "latin.tar.gz", REVIEWS,
                         lambda tar: add_file(tar, "aclImdb/train/pos/1_7.txt", "Köln".encode("latin-1")))
    with pytest.raises(DataError, match="not UTF-8"):
        read_imdb(latin)


def test_real_archive_layout(shared_data):
    """The first members of the real archive: streamed, checked, named as the reader expects."""
    path = shared_data / "aclImdb" / "aclImdb_train_test.tar.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    seen = []
    for name, data in iter_files(path, lambda n: n.endswith(".txt")):
        seen.append((name, data))
        if len(seen) == 50:
            break
    assert all(n.startswith("aclImdb/") and n.split("/")[1] in ("train", "test") for n, _ in seen)
    assert all(d.decode("utf-8") for _, d in seen)


@pytest.mark.slow
def test_real_imdb_full_counts(shared_data):
    data = read_imdb(shared_data / "aclImdb" / "aclImdb_train_test.tar.gz")
    for split in ("train", "test"):
        assert len(data[split]) == 25_000 and sum(data[split].labels) == 12_500
