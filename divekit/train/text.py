"""Text classification runs (IMDb sentiment): archive → tokens → vocabulary → ids → model (+ GloVe) → ``fit``.

The run directory holds the usual files (config.json, metrics.csv, model.safetensors, curves.png,
summary.json) plus ``vocab.json``, so that ``divekit predict RUN --text "..."`` encodes new text exactly as
the training text was.

``data_options`` (``TrainConfig.data_options``) for text: ``max_len`` (tokens kept per review, default 500
as the book), ``min_freq`` (a word enters the vocabulary when seen this often in the training reviews,
default 5 as the book), ``level`` (``word`` or ``char``), ``lower``, ``punctuation`` (``split`` or ``drop``),
``embedding`` (pretrained vectors: ``glove-50d``, ``glove-100d`` or a file path; default none),
``bucket`` (batch reviews of similar length, default on). ``model_options`` go to the model builder, plus
``freeze`` (keep the pretrained vectors fixed; default: as the book, frozen for ``bilstm``, fine-tuned
``embedding`` next to a frozen copy for ``textcnn``).

Defaults: the train CLI starts from an image recipe (SGD …), which does not suit these models. When the
optimisation settings (optimizer, lr, batch size, momentum, weight decay, schedule, warm-up, label smoothing)
are all still exactly those of an image recipe, they are replaced by the book's (``TEXT_RECIPES``: Adam,
batch 64, constant lr 0.01 for bilstm and 0.001 for textcnn) and the replacement is printed. Give any of
them and all are kept as given. ``--epochs`` is always kept (the book trains 5 epochs). A caller that knows
which settings the user gave passes them to ``text_config(config, given)`` instead: the book's settings
then fill exactly the others.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from divekit.errors import ConfigError
from divekit.train.config import TrainConfig

TEXT_OPTIONS: dict[str, Any] = {"max_len": 500, "min_freq": 5, "level": "word", "lower": True,
                                "punctuation": "split", "embedding": None, "bucket": True}
_BOOK = {"opt": "adam", "batch_size": 64, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0,
         "schedule": "constant", "warmup": 0.0, "label_smoothing": 0.0}
TEXT_RECIPES: dict[str, dict[str, Any]] = {"bilstm": {**_BOOK, "lr": 0.01}, "textcnn": {**_BOOK, "lr": 0.001}}
BOOK_EPOCHS = 5
CLASSES = ("neg", "pos")
EVAL_BATCH = 256  # reviews per evaluation batch at most: 1000 × 500 tokens of activations is gigabytes


def _has_image_optimisation(config: TrainConfig) -> bool:
    """True when every optimisation setting is exactly what one of the image recipes sets."""
    from divekit.train.recipes import RECIPES

    recipes = [TrainConfig(**r) for r in RECIPES.values()]
    return any(all(getattr(config, k) == getattr(r, k) for k in _BOOK.keys() | {"lr"}) for r in recipes)


def text_config(config: TrainConfig, given: set[str] | None = None) -> tuple[TrainConfig, dict[str, Any], dict]:
    """``config`` made fit for text: the book's optimisation defaults, no image-only features.

    Args:
        given: the TrainConfig keys the user set (the CLI knows them): the book's settings, 5 epochs
            included, fill all the others. Unknown (None): the rule in the module docstring.

    Returns:
        ``(config, data options, the defaults applied)``.
    """
    from divekit.models.registry import MODELS, list_models

    list_models()
    text_models = sorted(m.name for m in MODELS.values() if m.kind == "text")
    if config.model not in text_models:
        raise ConfigError(f"--model {config.model} is not a text model; for --data {config.data} choose one of "
                          f"{', '.join(text_models)}")
    unknown = set(config.data_options) - set(TEXT_OPTIONS)
    if unknown:
        raise ConfigError(f"data_options {sorted(unknown)} are not text options ({', '.join(TEXT_OPTIONS)})")
    options = {**TEXT_OPTIONS, **config.data_options}
    if not isinstance(options["max_len"], int) or not 1 <= options["max_len"] <= 100_000:
        raise ConfigError(f"max_len must be an integer between 1 and 100000, got {options['max_len']!r}")
    if not isinstance(options["min_freq"], int) or options["min_freq"] < 1:
        raise ConfigError(f"min_freq must be an integer ≥ 1, got {options['min_freq']!r}")
    recipe = {**_BOOK, **TEXT_RECIPES.get(config.model, {})}
    if given is not None:
        recipe = {k: v for k, v in {**recipe, "epochs": BOOK_EPOCHS}.items() if k not in given}
    elif not _has_image_optimisation(config):
        recipe = {}
    applied = {k: v for k, v in recipe.items() if getattr(config, k) != v}
    config = replace(config, **applied, augment_flip=False, tta_flip=False, tta_shift=0, augment_crop=0,
                     resize=None,
                     channels_last=False, task="classification", data_options=options)
    return config.validate(), options, applied


def _encode(config: TrainConfig, options: dict[str, Any]):
    """Read IMDb, build the vocabulary on the training reviews, encode both splits (timed)."""
    from divekit.data.imdb import load_imdb
    from divekit.data.text import encode_texts, fit_encode

    if config.data != "imdb":
        raise ConfigError(f"--data {config.data}: the text pipeline reads imdb")
    t0 = time.perf_counter()
    splits = load_imdb(config.data_dir)
    t1, cpu = time.perf_counter(), time.process_time()
    tok = {k: options[k] for k in ("level", "lower", "punctuation")}
    vocab, train_ids = fit_encode(splits["train"].texts, options["max_len"], options["min_freq"], **tok)
    test_ids = encode_texts(splits["test"].texts, vocab, options["max_len"], **tok)
    timing = {"read_seconds": round(t1 - t0, 3), "tokenize_seconds": round(time.perf_counter() - t1, 3),
              "tokenize_cpu_seconds": round(time.process_time() - cpu, 3)}
    return splits, vocab, train_ids, test_ids, timing


def build_text_model(config: TrainConfig, vocab_size: int, embed_size: int | None = None):
    """The model of ``config`` for ``vocab_size`` words; ``(model, the builder's keyword arguments)``."""
    from divekit.models.registry import build_model

    kwargs = {k: v for k, v in config.model_options.items() if k != "freeze"}
    if embed_size is not None:
        if kwargs.get("embed_size", embed_size) != embed_size:
            raise ConfigError(f"embed_size {kwargs['embed_size']} differs from the pretrained vectors' {embed_size}")
        kwargs["embed_size"] = embed_size
    kwargs["vocab_size"] = vocab_size
    model = build_model(config.model, (config.data_options["max_len"],), len(CLASSES), **kwargs)
    return model, kwargs


def train_text_run(config: TrainConfig, runs_dir: str | Path = "runs", name: str | None = None,
                   callbacks: list[Any] | None = None) -> tuple[Path, Any]:
    """Train a text classifier on IMDb and write the run directory. Returns ``(run_dir, final state)``."""
    from divekit.data.glove import load_embedding
    from divekit.data.text import TokenLoader
    from divekit.runs import default_run_name, new_run_dir, write_json
    from divekit.train.device import resolve_device, set_threads
    from divekit.train.fit import fit
    from divekit.train.run import RunWriter, seed_everything, write_run_report
    from divekit.train.rundir import plot_curves, save_weights, write_config

    config, options, applied = text_config(config)
    if applied:
        print("text defaults (the book's): " + ", ".join(f"{k}={v}" for k, v in applied.items()), flush=True)
    t0 = time.perf_counter()
    threads = set_threads(config.threads)
    seed_everything(config.seed)
    device = resolve_device(config.device)
    splits, vocab, train_ids, test_ids, timing = _encode(config, options)
    vectors = load_embedding(options["embedding"], config.data_dir) if options["embedding"] else None
    model, build_kwargs = build_text_model(config, len(vocab), vectors.dim if vectors else None)
    coverage = None
    if vectors is not None:
        weights, coverage = vectors.matrix_for(vocab.idx_to_token)
        model.load_pretrained(weights, config.model_options.get("freeze"))
        print(f"embedding {options['embedding']}: {coverage:.1%} of the {len(vocab) - 2} vocabulary words found "
              f"in {len(vectors)} vectors of dimension {vectors.dim}", flush=True)
    model = model.to(device)
    train_labels = torch.tensor(splits["train"].labels)
    test_labels = torch.tensor(splits["test"].labels)
    eval_bs = min(config.eval_batch_size, EVAL_BATCH)
    valid = None
    if config.valid_fraction:
        from divekit.data.split import train_valid_split

        train_idx, valid_idx = train_valid_split(train_labels, config.valid_fraction, config.seed)
        valid = TokenLoader(train_ids[valid_idx], train_labels[valid_idx], eval_bs, device=device, bucket=True)
        train_ids, train_labels = train_ids[train_idx], train_labels[train_idx]
    train = TokenLoader(train_ids, train_labels, config.batch_size, shuffle=True, seed=config.seed, device=device,
                        bucket=options["bucket"])
    test = TokenLoader(test_ids, test_labels, eval_bs, device=device, bucket=True)
    run_dir = new_run_dir(runs_dir, name or default_run_name(f"{config.model}-{config.data}"))
    vocab.save(run_dir / "vocab.json")
    meta = {"in_shape": [options["max_len"]], "num_classes": len(CLASSES), "classes": list(CLASSES),
            "kind": "text", "dataset": config.data, "data_source": splits["train"].source, "vocab": "vocab.json",
            "vocab_size": len(vocab), "build_options": build_kwargs, "embedding": options["embedding"],
            "embedding_coverage": coverage, "train_examples": len(train_labels), "test_examples": len(test_labels),
            "parameters": sum(p.numel() for p in model.parameters()),
            "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "device": str(device), "threads": threads, "text_defaults_applied": applied, **timing}
    write_config(run_dir, config, meta)
    state = fit(model, train, config, valid, test, [RunWriter(run_dir), *(callbacks or [])])
    save_weights(model, run_dir / "model.safetensors")
    plot_curves(run_dir, state.history)
    tokens = int((train_ids != 0).sum())
    write_json(run_dir / "summary.json", {
        "final": state.history[-1] if state.history else {}, "train_seconds": round(state.seconds, 3),
        "total_seconds": round(time.perf_counter() - t0, 3), **timing,
        "examples_per_second": round(len(train_labels) * len(state.history) / max(state.seconds, 1e-9), 1),
        "tokens_per_second": round(tokens * len(state.history) / max(state.seconds, 1e-9), 1)})
    write_run_report(run_dir)
    return run_dir, state


def load_text_run(run_dir: Path, device: str = "auto"):
    """A finished text run's model (eval mode, saved weights), config, meta and vocabulary."""
    from divekit.data.text import Vocab
    from divekit.models.registry import build_model
    from divekit.train.device import resolve_device
    from divekit.train.rundir import load_weights, read_config

    config, meta = read_config(run_dir)
    vocab = Vocab.load(run_dir / meta.get("vocab", "vocab.json"))
    kwargs = {**meta.get("build_options", {}), "vocab_size": len(vocab)}
    model = build_model(config.model, tuple(meta["in_shape"]), meta["num_classes"], **kwargs)
    load_weights(model, run_dir / "model.safetensors")
    return model.to(resolve_device(device)).eval(), config, meta, vocab


def classify(model: torch.nn.Module, vocab, texts: list[str], options: dict[str, Any]) -> torch.Tensor:
    """Class probabilities ``[len(texts), classes]`` for raw texts, encoded as in training."""
    from divekit.data.text import encode_texts

    ids = encode_texts(texts, vocab, options["max_len"], options["level"], options["lower"], options["punctuation"])
    device = next(model.parameters()).device
    probs = []
    with torch.inference_mode():
        for batch in ids.split(256):
            batch = batch[:, :max(int((batch != 0).sum(1).max()), 1)]  # the padding tail changes nothing
            probs.append(model(batch.to(device)).float().softmax(1).cpu())
    return torch.cat(probs)


def predict_text(args: argparse.Namespace) -> int:
    """``divekit predict RUN --text "..."``: label and probability per text; without ``--text``, every test
    review's prediction into ``RUN/predictions.csv`` (or ``--out``) in the dataset's order."""
    from divekit.runs import resolve_run_dir, write_text

    run_dir = resolve_run_dir(args.run, args.runs_dir)
    model, config, meta, vocab = load_text_run(run_dir, args.device)
    options = {**TEXT_OPTIONS, **config.data_options}
    classes = meta.get("classes") or list(CLASSES)
    texts = getattr(args, "text", None)
    if texts:
        for text, p in zip(texts, classify(model, vocab, list(texts), options), strict=True):
            k = int(p.argmax())
            print(f"{classes[k]}\t{p[k]:.4f}\t{text}")
        return 0
    from divekit.data.imdb import load_imdb

    test = load_imdb(args.data_dir or config.data_dir)["test"]
    probs = classify(model, vocab, test.texts, options)
    conf, pred = probs.max(1)
    lines = ["index,label,class,probability,true_label"]
    lines += [f"{i},{p},{classes[p]},{c:.6f},{t}" for i, (p, c, t) in
              enumerate(zip(pred.tolist(), conf.tolist(), test.labels, strict=True))]
    out = Path(args.out) if args.out else run_dir / "predictions.csv"
    write_text(out, "\n".join(lines) + "\n")
    acc = (pred == torch.tensor(test.labels)).float().mean().item()
    print(f"wrote {len(pred)} predictions to {out} (accuracy {acc:.4f})")
    return 0


def eval_text(args: argparse.Namespace) -> int:
    """``divekit eval RUN`` for a text run: test loss and accuracy of the saved model (hook for ``cli_eval``)."""
    from divekit.data.imdb import load_imdb
    from divekit.data.text import TokenLoader, encode_texts
    from divekit.runs import resolve_run_dir
    from divekit.train.fit import evaluate

    run_dir = resolve_run_dir(args.run, args.runs_dir)
    model, config, _, vocab = load_text_run(run_dir, args.device)
    options = {**TEXT_OPTIONS, **config.data_options}
    test = load_imdb(args.data_dir or config.data_dir)["test"]
    ids = encode_texts(test.texts, vocab, options["max_len"], options["level"], options["lower"],
                       options["punctuation"])
    device = next(model.parameters()).device
    loader = TokenLoader(ids, torch.tensor(test.labels), min(config.eval_batch_size, EVAL_BATCH), device=device,
                         bucket=True)
    metrics = evaluate(model, loader, device)
    print(f"{run_dir}: test loss {metrics['loss']:.4f}  test accuracy {metrics['acc']:.4f}  ({len(test)} examples)")
    return 0
