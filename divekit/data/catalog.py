"""Every dataset divekit knows: its files, their published SHA-256, and where they are downloaded from.

Each entry is a ``divekit.data.sources.DatasetSpec``; ``divekit.data.sources`` finds and fetches them all
the same way. The IDX image files are checked by the SHA-256 of their decompressed content (a mirror that
recompressed the ``.gz`` is accepted), every other downloadable file by the SHA-256 of the file itself.
"""

from __future__ import annotations

from pathlib import Path

from divekit.data.sources import MINI_DIR, DatasetSpec, RemoteFile

IDX_ROLES = ("train_images", "train_labels", "test_images", "test_labels")
_IDX_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
              "t10k-labels-idx1-ubyte.gz")
_IDX_PREFIXES = {
    "train_images": ("train-images",),
    "train_labels": ("train-labels",),
    "test_images": ("t10k-images", "test-images"),
    "test_labels": ("t10k-labels", "test-labels"),
}
D2L_DATA = "http://d2l-data.s3-accelerate.amazonaws.com/"
GLOVE_PAGE = "https://nlp.stanford.edu/projects/glove/"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def idx_files_in(directory: Path) -> dict[str, Path] | None:
    """The four IDX files in ``directory`` by role, or None if any is missing (``.gz`` preferred).

    Names vary between exporters (``t10k-`` or ``test-``, ``-idx3-ubyte`` or ``.idx3-ubyte``), so files are
    matched by prefix."""
    if not directory.is_dir():
        return None
    found: dict[str, Path] = {}
    names = sorted(p.name for p in directory.iterdir() if p.is_file())
    for role, prefixes in _IDX_PREFIXES.items():
        hits = [n for n in names if n.startswith(prefixes) and ("idx" in n or n.endswith((".gz", "ubyte")))]
        if not hits:
            return None
        hits.sort(key=lambda n: (not n.endswith(".gz"), len(n)))
        found[role] = directory / hits[0]
    return found


def _idx_files(content: tuple[str, ...] = (), published: tuple[str, ...] = ()) -> dict[str, RemoteFile]:
    """The four IDX files with the SHA-256 of their decompressed ``content`` and/or of the ``published`` .gz."""
    content = content or (None,) * 4
    published = published or (None,) * 4
    return {role: RemoteFile(name, sha256=p, content_sha256=c)
            for role, name, c, p in zip(IDX_ROLES, _IDX_NAMES, content, published, strict=True)}


def _image(name: str, title: str, classes: tuple[str, ...], mirrors: tuple[str, ...], files: dict[str, RemoteFile],
           mean: float, std: float, bundled: Path | None = None) -> DatasetSpec:
    get = "reinstall divekit: the sample ships with it" if bundled else ""
    return DatasetSpec(name, title, "images", name, files, mirrors, layout=idx_files_in, bundled=bundled, get=get,
                       classes=classes, mean=mean, std=std)


FASHION_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat",
                   "sandal", "shirt", "sneaker", "bag", "ankle boot")

IMAGES = [
    _image("fashion-mnist", "Fashion-MNIST (Zalando, MIT licence)", FASHION_CLASSES,
           ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
           _idx_files(content=("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                               "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                               "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                               "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34")),
           mean=0.2860, std=0.3530),
    _image("mnist", "MNIST handwritten digits (LeCun, Cortes, Burges)", tuple(str(i) for i in range(10)),
           ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
           _idx_files(content=("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                               "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                               "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                               "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
                      published=("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                                 "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                                 "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                                 "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")),
           mean=0.1307, std=0.3081),
    _image("kmnist", "Kuzushiji-MNIST (CODH, CC BY-SA 4.0)",
           ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
           ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
           _idx_files(published=("51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
                                 "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
                                 "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
                                 "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c")),
           mean=0.1918, std=0.3483),
    _image("fashion-mnist-mini", "Fashion-MNIST stratified sample bundled with divekit (500/class train, "
           "100/class test)", FASHION_CLASSES, (), _idx_files(), mean=0.2860, std=0.3530, bundled=MINI_DIR),
]

# The SHA-256 values below are of the files as published (the book's data hub, the Stanford IMDb page).
OTHERS = [
    DatasetSpec(
        "house-prices", "Kaggle House Prices, Ames housing (tabular; competition data, do not redistribute)",
        "tabular",
        "kaggle-house-prices",
        {"train": RemoteFile("kaggle_house_pred_train.csv",
                             sha256="1e18addf81e5e4d347cc17ee6075bbe4a42b7fa26b9e5b063e8f692a5f929d41"),
         "test": RemoteFile("kaggle_house_pred_test.csv",
                            sha256="8fdd3d829d4d986b58f845c9553b225e67dd8383624d90fb6ca1d4bed5798c1e")},
        (D2L_DATA,), target="SalePrice", id_column="Id"),
    DatasetSpec(
        "imdb", "IMDb movie reviews, 25,000 + 25,000 (text)", "text", "aclImdb",
        {"archive": RemoteFile("aclImdb_v1.tar.gz",
                               sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
                               accept=("aclImdb_train_test.tar.gz", "aclImdb_v1.tar.gz"))},
        ("https://ai.stanford.edu/~amaas/data/sentiment/",), file_suffixes=ARCHIVE_SUFFIXES, classes=("neg", "pos")),
    DatasetSpec(
        "time-machine", "H. G. Wells, The Time Machine (text for the book's language models)", "file", "d2l-misc",
        {"file": RemoteFile("timemachine.txt",
                            sha256="8424dbd9532ac81f7e5f0b6add90e6952baea29158309d7d1bf3884f4e12c516")},
        (D2L_DATA,)),
    DatasetSpec(
        "airfoil", "NASA airfoil self-noise, UCI (table for the book's optimizer comparisons)", "file", "d2l-misc",
        {"file": RemoteFile("airfoil_self_noise.dat",
                            sha256="74c75fd71783f1e6b71f8a622b993dc592897a97cd689c5090a07147a1b097b3")},
        (D2L_DATA,)),
]


def _glove(dim: int, *extra: str) -> DatasetSpec:
    """GloVe 6B vectors: found locally only; Stanford publishes them inside one 822 MB zip of all sizes."""
    names = (*extra, f"glove.6B.{dim}d.txt.gz", f"glove.6B.{dim}d.txt")
    return DatasetSpec(f"glove-{dim}d", f"GloVe 6B word vectors, {dim} dimensions (--embedding)", "vectors", "glove",
                       {"vectors": RemoteFile(names[-1], accept=names)},
                       get=f"get glove.6B.zip from {GLOVE_PAGE} and put glove.6B.{dim}d.txt (plain or gzipped) "
                           f"into a glove/ folder under $DIVEKIT_DATA or --data-dir")


VECTORS = [_glove(50, "glove.6B.50d.top100k.txt.gz"), _glove(100)]

SOURCES: dict[str, DatasetSpec] = {spec.name: spec for spec in [*IMAGES, *OTHERS, *VECTORS]}


def of_kind(kind: str) -> dict[str, DatasetSpec]:
    """The known datasets of one kind (``images``, ``tabular``, ``text``, ``vectors``, ``file``), by name."""
    return {name: spec for name, spec in SOURCES.items() if spec.kind == kind}
