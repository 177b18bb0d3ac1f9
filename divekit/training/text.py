"""The text-classification task: texts → tokens → vocabulary → ids → model (+ GloVe).

The texts are the IMDb archive (``--data imdb``), a CSV (``--data FILE.csv --text-column C --label-column L``,
a test CSV with ``--test-csv``) or a folder of classes of ``.txt`` files (``divekit.data.textfiles``). The run
keeps ``vocab.json`` next to its weights, so ``divekit predict RUN --text "..."`` encodes new text exactly as the
training text was. The vocabulary is built from the training texts only (never the validation or test texts);
a run fine-tuned from a text run (``--init``) keeps that run's vocabulary, which its embedding was trained on.

``data_options`` for text: ``max_len`` (tokens kept per review, 500 in the recipes as in the book),
``min_freq`` (a word enters the vocabulary when seen this often in the training reviews, 5 as in the book),
``level`` (``word`` or ``char``), ``lower``, ``punctuation`` (``split`` or ``drop``), ``embedding`` (pretrained
vectors: ``glove-50d``, ``glove-100d`` or a file path; none by default), ``bucket`` (batch reviews of similar
length), ``text_column``/``label_column``/``test`` (a CSV's columns, and its test CSV). ``model_options`` go
to the model builder, plus ``freeze`` (keep the pretrained vectors fixed; default: as the book, frozen for
``bilstm``, fine-tuned ``embedding`` next to a frozen copy for ``textcnn``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from divekit.errors import ConfigError, DataError
from divekit.models.registry import MODELS, build_model, list_models
from divekit.training.config import TrainConfig
from divekit.training.device import resolve_device
from divekit.training.evaluate import evaluate
from divekit.training.rundir import load_weights
from divekit.training.state import Loaders, State
from divekit.training.tasks import Examples, PredictionTable, Prepared, refuse_image_options

TEXT_OPTIONS: dict[str, Any] = {"max_len": 500, "min_freq": 5, "level": "word", "lower": True,
                                "punctuation": "split", "embedding": None, "bucket": True, "text_column": None,
                                "label_column": None, "test": None}
EVAL_BATCH = 256  # reviews per evaluation batch at most: 1000 × 500 tokens of activations is gigabytes


def options(config: TrainConfig) -> dict[str, Any]:
    return {**TEXT_OPTIONS, **config.data_options}


def check(config: TrainConfig) -> TrainConfig:
    """A text run needs a text model and text options; image options are refused."""
    list_models()
    text_models = sorted(m.name for m in MODELS.values() if m.kind == "text")
    if config.model not in text_models:
        raise ConfigError(f"--model {config.model} is not a text model; for --data {config.data} choose one of "
                          f"{', '.join(text_models)}")
    unknown = set(config.data_options) - set(TEXT_OPTIONS)
    if unknown:
        raise ConfigError(f"data_options {sorted(unknown)} are not text options ({', '.join(TEXT_OPTIONS)})")
    opts = options(config)
    if not isinstance(opts["max_len"], int) or not 1 <= opts["max_len"] <= 100_000:
        raise ConfigError(f"max_len must be an integer between 1 and 100000, got {opts['max_len']!r}")
    if not isinstance(opts["min_freq"], int) or opts["min_freq"] < 1:
        raise ConfigError(f"min_freq must be an integer ≥ 1, got {opts['min_freq']!r}")
    refuse_image_options(config, "text")
    if config.task != "classification":
        raise ConfigError(f"task {config.task!r}: text runs are classifications")
    return config


def read_splits(config: TrainConfig, data_dir: str | None = None) -> dict[str, Any]:
    """``{"train": TextDataset, "test": TextDataset or None}`` of ``config.data``: the IMDb archive, a CSV (and
    its test CSV) or a folder of classes."""
    from divekit.data.imdb import load_imdb
    from divekit.data.textfiles import read_text_csvs, read_text_folder

    opts = options(config)
    if config.data == "imdb":
        return load_imdb(data_dir or config.data_dir)
    if config.data.endswith(".csv"):
        return read_text_csvs(config.data, opts["text_column"], opts["label_column"], opts["test"])
    return read_text_folder(config.data)


def load(config: TrainConfig) -> Examples:
    t0 = time.perf_counter()
    splits = read_splits(config)
    splits["read_seconds"] = round(time.perf_counter() - t0, 3)
    train = splits["train"]
    return Examples(train.name, train.source, len(train), torch.tensor(train.labels), splits,
                    tuple(train.classes))


def _tokenizer(opts: dict[str, Any]) -> dict[str, Any]:
    return {k: opts[k] for k in ("level", "lower", "punctuation")}


def build(config: TrainConfig, vocab_size: int, num_classes: int, embed_size: int | None = None):
    """The model of ``config`` for ``vocab_size`` words and ``num_classes``; ``(model, the builder's keyword
    arguments)``."""
    kwargs = {k: v for k, v in config.model_options.items() if k != "freeze"}
    if embed_size is not None:
        if kwargs.get("embed_size", embed_size) != embed_size:
            raise ConfigError(f"embed_size {kwargs['embed_size']} differs from the pretrained vectors' {embed_size}")
        kwargs["embed_size"] = embed_size
    kwargs["vocab_size"] = vocab_size
    return build_model(config.model, (options(config)["max_len"],), num_classes, **kwargs), kwargs


def _with_vectors(config: TrainConfig, vocab, num_classes: int) -> tuple[torch.nn.Module, dict[str, Any], float | None]:
    """The model for ``vocab``, with the configured word vectors loaded into its embedding:
    ``(model, the builder's keyword arguments, the vectors' coverage of the vocabulary or None)``."""
    from divekit.data.glove import load_embedding

    name = options(config)["embedding"]
    vectors = load_embedding(name, config.data_dir) if name else None
    model, kwargs = build(config, len(vocab), num_classes, vectors.dim if vectors else None)
    if vectors is None:
        return model, kwargs, None
    weights, coverage = vectors.matrix_for(vocab.idx_to_token)
    model.load_pretrained(weights, config.model_options.get("freeze"))
    print(f"embedding {name}: {coverage:.1%} of the {len(vocab) - 2} vocabulary words found in {len(vectors)} "
          f"vectors of dimension {vectors.dim}", flush=True)
    return model, kwargs, coverage


def vocabulary(config: TrainConfig, texts: list[str]):
    """``(vocabulary, ids of texts)``: learned from the training ``texts``, or, fine-tuning from a text run
    (``--init RUN``), that run's own vocabulary, so that its embedding rows keep meaning the same words."""
    from divekit.data.text import Vocab, encode_texts, fit_encode

    opts = options(config)
    saved = Path(config.init) / "vocab.json" if config.init else None
    if saved is not None and saved.is_file():
        vocab = Vocab.load(saved)
        return vocab, encode_texts(texts, vocab, opts["max_len"], **_tokenizer(opts))
    return fit_encode(texts, opts["max_len"], opts["min_freq"], **_tokenizer(opts))


def prepare(config: TrainConfig, examples: Examples, train_idx: torch.Tensor | None,
            valid_idx: torch.Tensor | None, device: torch.device) -> Prepared:
    from divekit.data.text import TokenLoader, encode_texts

    opts, splits = options(config), examples.data
    texts, labels, classes = splits["train"].texts, examples.labels, list(splits["train"].classes)
    train_idx = torch.arange(examples.n) if train_idx is None else train_idx
    t1, cpu = time.perf_counter(), time.process_time()
    vocab, train_ids = vocabulary(config, [texts[i] for i in train_idx.tolist()])
    if len(vocab) < 3:  # <pad> and <unk> only: every text would read as unknown words
        raise DataError(f"{examples.source}: no word appears {opts['min_freq']} times or more in the "
                        f"{len(train_idx)} training texts, so the vocabulary is empty; give more texts or a lower "
                        f"--min-freq (1 keeps every word)")
    eval_bs = min(config.eval_batch_size, EVAL_BATCH)

    def ordered(split_texts: list[str], split_labels: torch.Tensor) -> TokenLoader:
        ids = encode_texts(split_texts, vocab, opts["max_len"], **_tokenizer(opts))
        return TokenLoader(ids, split_labels, eval_bs, device=device, bucket=True)

    test_set = splits["test"]
    test = ordered(test_set.texts, torch.tensor(test_set.labels)) if test_set is not None else None
    valid = ordered([texts[i] for i in valid_idx.tolist()], labels[valid_idx]) if valid_idx is not None else None
    timing = {"read_seconds": splits["read_seconds"], "tokenize_seconds": round(time.perf_counter() - t1, 3),
              "tokenize_cpu_seconds": round(time.process_time() - cpu, 3)}
    model, build_kwargs, coverage = _with_vectors(config, vocab, len(classes))
    model = model.to(device)
    train_labels = labels[train_idx]
    train = TokenLoader(train_ids, train_labels, config.batch_size, shuffle=True, seed=config.seed, device=device,
                        bucket=opts["bucket"])
    meta = {"in_shape": [opts["max_len"]], "num_classes": len(classes), "classes": classes, "kind": "text",
            "dataset": config.data, "data_source": splits["train"].source, "vocab": "vocab.json",
            "vocab_size": len(vocab), "build_options": build_kwargs, "embedding": opts["embedding"],
            "embedding_coverage": coverage, "train_examples": len(train_labels),
            "test_examples": len(test_set) if test_set is not None else 0,
            "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad), **timing}
    tokens = int((train_ids != 0).sum())

    def summary(state: State) -> dict[str, Any]:
        return {**timing, "tokens_per_second": round(tokens * len(state.history) / max(state.seconds, 1e-9), 1)}

    return Prepared(model, Loaders(train, valid, test), meta, len(train_labels),
                    artifacts={"vocab.json": vocab.save}, summary=summary)


def classify(model: torch.nn.Module, vocab, texts: list[str], opts: dict[str, Any]) -> torch.Tensor:
    """Class probabilities ``[len(texts), classes]`` for raw texts, encoded as in training (``[0, 0]`` for none)."""
    from divekit.data.text import encode_texts

    ids = encode_texts(texts, vocab, opts["max_len"], opts["level"], opts["lower"], opts["punctuation"])
    device = next(model.parameters()).device
    probs = []
    with torch.inference_mode():
        for batch in ids.split(EVAL_BATCH):
            batch = batch[:, :max(int((batch != 0).sum(1).max()), 1)]  # the padding tail changes nothing
            probs.append(model(batch.to(device)).float().softmax(1).cpu())
    return torch.cat(probs) if probs else torch.zeros(0, 0)  # no texts: no rows (callers know the classes)


@dataclass
class FinishedText:
    """A finished text run: its model and vocabulary."""

    model: torch.nn.Module
    config: TrainConfig
    meta: dict[str, Any]
    vocab: Any
    data_dir: str | None

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    def _test(self):
        test = read_splits(self.config, self.data_dir)["test"]
        if test is None:
            raise DataError(f"{self.config.data}: no test texts to evaluate or predict on (train with --test-csv "
                            f"for a CSV, or give the folder a test/ part); predict on texts with --text or --text-file")
        return test

    def evaluate(self) -> dict[str, Any]:
        from divekit.data.text import TokenLoader, encode_texts

        opts, test = options(self.config), self._test()
        ids = encode_texts(test.texts, self.vocab, opts["max_len"], **_tokenizer(opts))
        device = next(self.model.parameters()).device
        loader = TokenLoader(ids, torch.tensor(test.labels), min(self.config.eval_batch_size, EVAL_BATCH),
                             device=device, bucket=True)
        return {"split": "test", "examples": len(test), **evaluate(self.model, loader, device)}

    def predict(self, inputs: Any = None) -> PredictionTable:
        """Per text of ``inputs`` (a list of strings): the class, its probability and the next likeliest classes;
        without inputs, every test text in the dataset's order, with its true label."""
        from divekit.training.image import prediction_table

        classes, opts = self.classes, options(self.config)
        if inputs is not None:
            texts = [str(t) for t in inputs]
            probs = classify(self.model, self.vocab, texts, opts).reshape(len(texts), len(classes))
            return prediction_table(probs, classes, texts, None, f"{len(texts)} text{'s' if len(texts) != 1 else ''}")
        test = self._test()
        conf, pred = classify(self.model, self.vocab, test.texts, opts).max(1)
        rows = [[i, p, classes[p], f"{c:.6f}", t]
                for i, (p, c, t) in enumerate(zip(pred.tolist(), conf.tolist(), test.labels, strict=True))]
        acc = (pred == torch.tensor(test.labels)).float().mean().item() if len(pred) else float("nan")
        return PredictionTable(["index", "label", "class", "probability", "true_label"], rows, f"accuracy {acc:.4f}")

    def report_predictions(self) -> None:
        return None  # the report's image sections do not apply to text


def open_run(run_dir: Path, config: TrainConfig, meta: dict[str, Any], device: str = "auto",
             data_dir: str | None = None) -> FinishedText:
    from divekit.data.text import Vocab

    vocab = Vocab.load(run_dir / meta.get("vocab", "vocab.json"))
    kwargs = {**meta.get("build_options", {}), "vocab_size": len(vocab)}
    model = build_model(config.model, tuple(meta["in_shape"]), meta["num_classes"], **kwargs)
    load_weights(model, run_dir / "model.safetensors")
    return FinishedText(model.to(resolve_device(device)).eval(), config, meta, vocab, data_dir)
