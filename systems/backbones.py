"""Token-classification backbones: one training and inference path for hub models and offline ones.

``train_tagger`` fine-tunes any Hugging Face token-classification encoder (``xlm-roberta-large``,
``bert-base-multilingual-cased``, ``microsoft/mdeberta-v3-base``, an mT5 checkpoint through
``MT5ForTokenClassification`` = ``T5EncoderModel`` + linear head) or an *offline* backbone: a small
``XLMRobertaForTokenClassification`` built from a config, with a Unigram tokenizer trained here on
the unlabelled text of the data directory (see :mod:`systems._offline`). Both kinds are loaded with
``AutoModelForTokenClassification.from_pretrained`` from a directory, so they share every line of
the training and inference code below.

Word/subword alignment follows systems.md §4: the first subword of a word carries its label, the
other subwords get -100 (ignored) in training, and the first subword's prediction is the word's
prediction. Nothing is truncated: a sentence longer than ``max_length`` subwords is cut into
overlapping windows and each subword is read from the window in which it is most central.

Heavy libraries (torch, transformers) are imported inside functions only.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.data import OUTSIDE, Sentence
from harness.errors import ConfigError, ModelUnavailableError

#: The default backbone for users with network (systems.md §4).
DEFAULT_BACKBONE = "xlm-roberta-large"
TAGGER_FILE = "xner_tagger.json"
TAGGER_FORMAT_VERSION = "1"
#: Bumped whenever training code changes what a cached tagger would contain.
TRAINING_CODE_VERSION = "2"
#: Inference batch of saved taggers: fastest of 16/32/64/128 for the offline model on 2 CPU cores
#: (benchmarks/bench_inference.py). Not part of any cache key: batching does not change outputs.
INFERENCE_BATCH_SIZE = 32


def tag_names_for(labels: Sequence[str]) -> tuple[str, ...]:
    """The IOB2 tag inventory of entity types, in a fixed order (``O`` first).

    >>> tag_names_for(["PER", "LOC"])
    ('O', 'B-LOC', 'I-LOC', 'B-PER', 'I-PER')
    """
    for label in labels:
        if not label or any(c.isspace() for c in label) or label == OUTSIDE:
            raise ConfigError(f"entity type {label!r} must be a non-empty word other than 'O'")
    out = [OUTSIDE]
    for label in sorted(set(labels)):
        out += [f"B-{label}", f"I-{label}"]
    return tuple(out)


def repair_iob2(tags: Sequence[str]) -> tuple[str, ...]:
    """Turn orphan ``I-X`` tags (after ``O`` or another type) into ``B-X`` so the output is valid IOB2.

    >>> repair_iob2(["I-PER", "I-PER", "I-LOC", "O"])
    ('B-PER', 'I-PER', 'B-LOC', 'O')
    """
    out: list[str] = []
    previous = OUTSIDE
    for tag in tags:
        if tag.startswith("I-") and (previous == OUTSIDE or previous[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return tuple(out)


def set_seed(seed: int) -> None:
    """Seed Python, numpy and torch (training and dropout become reproducible on CPU)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def sentences_digest(sentences: Sequence[Sentence]) -> str:
    """Content hash of tokens, tags and languages (ids excluded: same text, same model)."""
    h = hashlib.sha256()
    for s in sentences:
        h.update(json.dumps([s.lang, s.tokens, s.tags], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


# --- Backbone resolution -----------------------------------------------------------------------


def is_offline_backbone(backbone: str) -> bool:
    return backbone == "offline" or backbone.startswith("offline-")


def resolve_backbone(
    backbone: str,
    *,
    cache_dir: Path | None = None,
    data_dir: Path | None = None,
    extra_text: Sequence[Sequence[str]] = (),
    seed: int = 0,
    show_progress: bool = False,
) -> str:
    """A directory or hub name that ``from_pretrained`` can load, building offline backbones on demand.

    Args:
        backbone: ``"offline"``/``"offline-*"`` presets, a local directory, or a hub name.
        cache_dir: where offline backbones are cached (content-hashed).
        data_dir: text source for the offline tokenizer.
        extra_text: token lists added to the offline tokenizer corpus when ``data_dir`` is ``None``.

    Raises:
        ModelUnavailableError: a hub name that is not in the local Hugging Face cache and cannot be
            downloaded (no network).

    >>> resolve_backbone("/nonexistent/hub-model", cache_dir=None)  # doctest: +SKIP
    """
    if is_offline_backbone(backbone):
        from systems._offline import build_offline_backbone

        return str(
            build_offline_backbone(
                backbone,
                cache_dir=_cache_root(cache_dir),
                data_dir=data_dir,
                extra_text=extra_text,
                seed=seed,
                show_progress=show_progress,
            )
        )
    if Path(backbone).expanduser().is_dir():
        return str(Path(backbone).expanduser())
    check_hub_model_available(backbone)
    return backbone


def check_hub_model_available(name: str) -> None:
    """Raise ``ModelUnavailableError`` unless ``name`` loads from the local cache or the network."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)
        return
    except Exception:  # not cached: try the network unless the user switched it off
        pass
    offline = any(os.environ.get(v, "").strip() not in ("", "0") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    hint = (
        f"backbone {name!r} is not available: no network (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE set) "
        if offline
        else f"backbone {name!r} could not be downloaded (no network?) "
    )
    message = hint + "and it is not in the local Hugging Face cache; pass a local path or --backbone offline"
    if offline:
        raise ModelUnavailableError(message)
    try:
        AutoConfig.from_pretrained(name)
    except Exception as exc:
        raise ModelUnavailableError(f"{message} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None


def _cache_root(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    from systems.base import default_cache_dir

    return default_cache_dir()


class quiet_hub:
    """Silence transformers' per-file progress bars and load reports for local save/load.

    Saving or loading a local directory is instant; "Writing model shards" and "Loading weights"
    bars in the middle of a training or evaluation log are noise.
    """

    def __enter__(self) -> None:
        from transformers.utils import logging as hf_logging

        self._bars = hf_logging.is_progress_bar_enabled()
        self._verbosity = hf_logging.get_verbosity()
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

    def __exit__(self, *exc: object) -> None:
        from transformers.utils import logging as hf_logging

        if self._bars:
            hf_logging.enable_progress_bar()
        hf_logging.set_verbosity(self._verbosity)


# --- Encoding: words -> subwords -> windows ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """A slice of one sentence's subwords, ready for the model.

    ``input_ids`` include the special tokens; ``word_positions[i]`` is the position in
    ``input_ids`` of the first subword of word ``word_indices[i]``, for the words this window *owns*
    (each word is owned by exactly one window: the one in which its first subword is most central).
    """

    sentence: int
    input_ids: tuple[int, ...]
    word_indices: tuple[int, ...]
    word_positions: tuple[int, ...]


class SubwordEncoder:
    """Splits words into subwords once per batch and cuts long sentences into overlapping windows.

    >>> # SubwordEncoder(tokenizer, max_length=128).windows(sentences)  -> list[Window]
    """

    def __init__(self, tokenizer: Any, max_length: int, stride: int | None = None) -> None:
        self.tokenizer = tokenizer
        probe_with = tokenizer(["x"], is_split_into_words=True, add_special_tokens=True)["input_ids"]
        probe_without = tokenizer(["x"], is_split_into_words=True, add_special_tokens=False)["input_ids"]
        self.prefix, self.suffix = _special_affixes(list(probe_with), list(probe_without))
        budget = max_length - len(self.prefix) - len(self.suffix)
        if budget < 4:
            raise ConfigError(f"max_length={max_length} leaves no room for subwords after special tokens")
        self.max_length = max_length
        self.budget = budget
        # Overlap of a quarter window on each side: every subword sees at least budget/4 of context.
        self.stride = stride if stride is not None else max(1, budget // 2)
        unk = tokenizer.unk_token_id
        self.unk_id = unk if unk is not None else (tokenizer.pad_token_id or 0)

    def subwords(self, sentences: Sequence[Sequence[str]]) -> list[tuple[list[int], list[int]]]:
        """(subword ids, start position of each word) per sentence; empty words get ``<unk>``."""
        out: list[tuple[list[int], list[int]]] = []
        nonempty = [list(tokens) for tokens in sentences]
        if not any(nonempty):
            return [([], []) for _ in sentences]
        enc = self.tokenizer([t if t else ["."] for t in nonempty], is_split_into_words=True, add_special_tokens=False)
        for i, tokens in enumerate(nonempty):
            if not tokens:
                out.append(([], []))
                continue
            ids = enc["input_ids"][i]
            word_ids = enc.word_ids(i)
            per_word: list[list[int]] = [[] for _ in tokens]
            for sub, w in zip(ids, word_ids, strict=True):
                if w is not None:
                    per_word[w].append(sub)
            flat: list[int] = []
            starts: list[int] = []
            for pieces in per_word:
                starts.append(len(flat))
                # A word the normaliser erased (e.g. only a zero-width character) still needs a slot.
                flat.extend(pieces or [self.unk_id])
            out.append((flat, starts))
        return out

    def windows(self, sentences: Sequence[Sequence[str]]) -> list[Window]:
        result: list[Window] = []
        for index, (flat, starts) in enumerate(self.subwords(sentences)):
            result.extend(self._split(index, flat, starts))
        return result

    def _split(self, index: int, flat: list[int], starts: list[int]) -> list[Window]:
        n = len(flat)
        if n == 0:
            return []
        if n <= self.budget:
            offsets = [0]
        else:
            offsets = list(range(0, n - self.budget, self.stride)) + [n - self.budget]
        size = min(n, self.budget)

        def owner(position: int) -> int:
            # The window whose centre is nearest: most context on both sides.
            return min(range(len(offsets)), key=lambda k: (abs(offsets[k] + size / 2 - position - 0.5), k))

        owned: list[tuple[list[int], list[int]]] = [([], []) for _ in offsets]
        for word, start in enumerate(starts):
            k = owner(start) if len(offsets) > 1 else 0
            owned[k][0].append(word)
            owned[k][1].append(start - offsets[k] + len(self.prefix))
        return [
            Window(index, tuple(self.prefix + flat[o : o + size] + self.suffix), tuple(w), tuple(p))
            for o, (w, p) in zip(offsets, owned, strict=True)
        ]


def _special_affixes(with_special: list[Any], without: list[Any]) -> tuple[list[int], list[int]]:
    a = list(with_special[0]) if with_special and isinstance(with_special[0], list) else list(with_special)
    b = list(without[0]) if without and isinstance(without[0], list) else list(without)
    for i in range(len(a) - len(b) + 1):
        if a[i : i + len(b)] == b:
            return a[:i], a[i + len(b) :]
    raise ConfigError("cannot locate the special tokens the tokenizer adds around a sentence")


def length_buckets(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (inference order; longest first).

    >>> length_buckets([3, 9, 4, 8], 2)
    [[1, 3], [2, 0]]
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def shuffled_buckets(lengths: Sequence[int], batch_size: int, rng: random.Random, pool: int = 50) -> list[list[int]]:
    """Training batches: shuffle, sort within pools of ``pool`` batches by length, shuffle batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    span = batch_size * pool
    for i in range(0, len(order), span):
        chunk = sorted(order[i : i + span], key=lambda j: lengths[j])
        batches += [chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _pad(windows: Sequence[Window], pad_id: int) -> tuple[Any, Any]:
    import torch

    width = max(len(w.input_ids) for w in windows)
    ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    for row, w in enumerate(windows):
        ids[row, : len(w.input_ids)] = torch.tensor(w.input_ids, dtype=torch.long)
        mask[row, : len(w.input_ids)] = 1
    return ids, mask


# --- The tagger --------------------------------------------------------------------------------


class Tagger:
    """A trained token classifier over words: IOB2 tags and per-word probabilities.

    Attributes:
        labels: entity types (``("LOC", "MISC", "ORG", "PER")``).
        tag_names: the IOB2 tags, index-aligned with ``predict_proba`` columns.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        labels: Sequence[str],
        *,
        max_length: int = 128,
        batch_size: int = 32,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.labels = tuple(sorted(set(labels)))
        self.tag_names = tag_names_for(self.labels)
        self.max_length = max_length
        self.batch_size = batch_size
        self.info = dict(info or {})
        self.encoder = SubwordEncoder(tokenizer, max_length)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else 0

    # Inference ---------------------------------------------------------------------------------

    def _forward_windows(self, windows: Sequence[Window], *, hidden: bool = False) -> list[Any]:
        """Logits (or last hidden states) of each window, in input order, as numpy arrays."""
        import torch

        self.model.eval()
        outputs: list[Any] = [None] * len(windows)
        with torch.inference_mode():
            for batch in length_buckets([len(w.input_ids) for w in windows], self.batch_size):
                ids, mask = _pad([windows[i] for i in batch], self.pad_id)
                out = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=hidden)
                values = out.hidden_states[-1] if hidden else out.logits
                values = values.float().numpy()
                for row, i in enumerate(batch):
                    outputs[i] = values[row, : len(windows[i].input_ids)]
        return outputs

    def logits(self, sentences: Sequence[Sentence] | Sequence[Sequence[str]]) -> list[np.ndarray]:
        """First-subword logits per word: one ``[n_tokens, n_tags]`` array per sentence."""
        token_lists = [_tokens_of(s) for s in sentences]
        windows = self.encoder.windows(token_lists)
        per_window = self._forward_windows(windows)
        result = [np.zeros((len(t), len(self.tag_names)), dtype=np.float32) for t in token_lists]
        for window, values in zip(windows, per_window, strict=True):
            if window.word_indices:
                result[window.sentence][list(window.word_indices)] = values[list(window.word_positions)]
        return result

    def predict_proba(self, sentences: Sequence[Sentence] | Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Per-word probabilities over ``tag_names`` (softmax of the first subword's logits)."""
        return [_softmax(z) for z in self.logits(sentences)]

    def predict(self, sentences: Sequence[Sentence] | Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
        """IOB2 tags per sentence (argmax per word, orphan ``I-X`` repaired to ``B-X``)."""
        return [self.decode(z) for z in self.logits(sentences)]

    def decode(self, scores: np.ndarray) -> tuple[str, ...]:
        if len(scores) == 0:
            return ()
        return repair_iob2([self.tag_names[i] for i in scores.argmax(axis=-1)])

    def sentence_embeddings(self, sentences: Sequence[Sentence] | Sequence[Sequence[str]]) -> np.ndarray:
        """Mean of the last hidden layer over each sentence's subwords (used for language ID)."""
        token_lists = [_tokens_of(s) for s in sentences]
        windows = self.encoder.windows(token_lists)
        hidden = self._forward_windows(windows, hidden=True)
        dim = int(hidden[0].shape[-1]) if hidden else int(getattr(self.model.config, "hidden_size", 0) or self.model.config.d_model)
        sums = np.zeros((len(token_lists), dim), dtype=np.float64)
        counts = np.zeros(len(token_lists))
        for window, h in zip(windows, hidden, strict=True):
            sums[window.sentence] += h.sum(axis=0)
            counts[window.sentence] += len(h)
        return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)

    # Persistence -------------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write the model and tokenizer with ``save_pretrained`` plus ``xner_tagger.json``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with quiet_hub():
            self.model.save_pretrained(directory)
            self.tokenizer.save_pretrained(directory)
        meta = {
            "format": TAGGER_FORMAT_VERSION,
            "labels": list(self.labels),
            "tag_names": list(self.tag_names),
            "max_length": self.max_length,
            "batch_size": self.batch_size,
            "info": self.info,
        }
        (directory / TAGGER_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Tagger:
        """Load a tagger written by :meth:`save` (``from_pretrained``; no pickles)."""
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        directory = Path(directory)
        meta_path = directory / TAGGER_FILE
        if not meta_path.is_file():
            raise ModelUnavailableError(f"{directory} is not a saved tagger: {TAGGER_FILE} is missing")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        with quiet_hub():
            model = AutoModelForTokenClassification.from_pretrained(directory)
            tokenizer = AutoTokenizer.from_pretrained(directory)
        tagger = cls(
            model, tokenizer, meta["labels"], max_length=meta["max_length"], batch_size=meta["batch_size"], info=meta["info"]
        )
        if list(tagger.tag_names) != meta["tag_names"]:
            raise ModelUnavailableError(f"{meta_path}: tag inventory {meta['tag_names']} does not match {tagger.tag_names}")
        return tagger


def _tokens_of(item: Sentence | Sequence[str]) -> tuple[str, ...]:
    return item.tokens if isinstance(item, Sentence) else tuple(item)


def _softmax(z: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = z / temperature
    z = z - z.max(axis=-1, keepdims=True) if len(z) else z
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32) if len(z) else e.astype(np.float32)


# --- Training ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters of one fine-tuning run (all enter the cache key).

    Defaults follow XTREME ``train_panx.sh`` (systems.md §4) except epochs, which are fewer because
    the harness usually trains on CPU; ``max_minutes`` caps wall time (then the best epoch so far
    on dev is kept, or the last state without dev).
    """

    epochs: int = 3
    lr: float = 2e-5
    batch_size: int = 32
    max_length: int = 128
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    patience: int = 2
    freeze_layers: int = -1  # -1: nothing frozen; k >= 0: embeddings and the bottom k layers frozen
    max_minutes: float | None = None
    eval_batch_size: int = 64  # dev evaluation during training (part of the cache key; keep stable)
    grad_clip: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


_SETTING_NAMES = {f for f in TrainSettings.__dataclass_fields__ if f != "extra"}


def make_settings(**kwargs: Any) -> TrainSettings:
    known = {k: v for k, v in kwargs.items() if k in _SETTING_NAMES and v is not None}
    extra = {k: v for k, v in kwargs.items() if k not in _SETTING_NAMES}
    return TrainSettings(**known, extra=extra)


def train_tagger(
    train: Sequence[Sentence],
    *,
    labels: Sequence[str],
    backbone: str = DEFAULT_BACKBONE,
    dev: Sequence[Sentence] | None = None,
    seed: int = 0,
    epochs: int = 3,
    lr: float | None = None,
    batch_size: int = 32,
    max_length: int = 128,
    cache_dir: Path | None = None,
    data_dir: Path | None = None,
    show_progress: bool = True,
    **options: Any,
) -> Tagger:
    """Fine-tune ``backbone`` on IOB2-tagged sentences (cached: built once, reloaded next time).

    Tags of types not in ``labels`` are mapped to ``O`` (e.g. MISC when labels are PER/ORG/LOC).

    Args:
        train: training sentences.
        labels: entity types to learn.
        backbone: ``"offline"`` (built locally), a local directory or a Hugging Face name.
        dev: sentences for model selection and early stopping (``patience`` epochs).
        lr: defaults to 2e-5 for pretrained hub models (XTREME) and 1e-3 for offline backbones,
            which start from random weights and need a larger step.
        options: more :class:`TrainSettings` fields (``max_minutes``, ``freeze_layers``,
            ``patience``, ``weight_decay``, ``warmup_ratio``).

    Raises:
        ModelUnavailableError: the backbone cannot be loaded (hub name without network).

    >>> # tagger = train_tagger(sentences, labels=["PER", "LOC"], backbone="offline-tiny", epochs=1)
    """
    if not train:
        raise ConfigError("train_tagger needs at least one training sentence")
    if lr is None:
        lr = 1e-3 if is_offline_backbone(backbone) else 2e-5
    settings = make_settings(epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length, **options)
    labels = tuple(sorted(set(labels)))
    tag_names = tag_names_for(labels)
    root = _cache_root(cache_dir)
    backbone_path = resolve_backbone(
        backbone, cache_dir=root, data_dir=data_dir, extra_text=[s.tokens for s in train], seed=0, show_progress=show_progress
    )
    key = _digest(
        {
            "code": TRAINING_CODE_VERSION,
            "kind": "supervised",
            "backbone": _backbone_identity(backbone, backbone_path),
            "labels": labels,
            "settings": asdict(settings),
            "seed": seed,
            "train": sentences_digest(train),
            "dev": sentences_digest(dev) if dev else None,
        }
    )[:20]
    target = root / "taggers" / key

    def build(directory: Path) -> None:
        index = {t: i for i, t in enumerate(tag_names)}
        targets = [np.array([index.get(_keep(t, labels), 0) for t in s.tags], dtype=np.int64) for s in train]
        tagger = fit_token_model(
            backbone_path,
            [s.tokens for s in train],
            targets,
            labels=labels,
            settings=settings,
            seed=seed,
            dev=dev,
            show_progress=show_progress,
            description=f"fine-tune {backbone}",
        )
        tagger.info.update({"backbone": backbone, "train_sentences": len(train), "key": key})
        tagger.save(directory)

    return load_or_build(target, build)


def _keep(tag: str, labels: Sequence[str]) -> str:
    return tag if tag == OUTSIDE or tag[2:] in labels else OUTSIDE


def _backbone_identity(backbone: str, path: str) -> str:
    # Offline backbones are content-hashed directories; hub names and user paths are taken as given.
    return Path(path).name if is_offline_backbone(backbone) else backbone


def load_or_build(target: Path, build: Callable[[Path], None]) -> Tagger:
    """Load the tagger cached at ``target`` or build it into a temporary directory and move it there."""
    if (target / TAGGER_FILE).is_file():
        return Tagger.load(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    build(tmp)
    if (target / TAGGER_FILE).is_file():  # built concurrently by another process
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    return Tagger.load(target)


def load_token_model(backbone_path: str, labels: Sequence[str]) -> tuple[Any, Any]:
    """A fresh token-classification head on ``backbone_path`` and its tokenizer."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tag_names = tag_names_for(labels)
    # quiet_hub also hides "newly initialized classifier": expected here, not news.
    with quiet_hub():
        try:
            tokenizer = AutoTokenizer.from_pretrained(backbone_path)
            model = AutoModelForTokenClassification.from_pretrained(
                backbone_path,
                num_labels=len(tag_names),
                id2label=dict(enumerate(tag_names)),
                label2id={t: i for i, t in enumerate(tag_names)},
            )
        except OSError as exc:
            raise ModelUnavailableError(
                f"backbone {backbone_path!r} could not be loaded ({str(exc).splitlines()[0][:200]}); "
                "pass a local path or --backbone offline"
            ) from None
    return model, tokenizer


def freeze_bottom(model: Any, layers: int) -> int:
    """Freeze embeddings and the bottom ``layers`` encoder layers (Wu et al. 2020 freeze 3).

    Returns the number of frozen parameters tensors.
    """
    if layers < 0:
        return 0
    base = getattr(model, model.base_model_prefix, model)
    frozen = 0
    modules = []
    for name in ("embeddings", "shared", "embed_tokens"):
        if hasattr(base, name):
            modules.append(getattr(base, name))
    encoder = getattr(base, "encoder", base)
    stack = getattr(encoder, "layer", None) or getattr(encoder, "block", None) or []
    modules += list(stack)[:layers]
    for module in modules:
        for p in module.parameters():
            p.requires_grad_(False)
            frozen += 1
    return frozen


def fit_token_model(
    backbone_path: str,
    token_lists: Sequence[Sequence[str]],
    targets: Sequence[np.ndarray],
    *,
    labels: Sequence[str],
    settings: TrainSettings,
    seed: int,
    dev: Sequence[Sentence] | None = None,
    soft_loss: str = "mse",
    temperature: float = 1.0,
    show_progress: bool = True,
    description: str = "train",
) -> Tagger:
    """The one training loop: hard labels (int arrays, cross-entropy) or soft targets (distillation).

    ``targets[i]`` is either ``int64[n_words]`` (tag indices) or ``float32[n_words, n_tags]``
    (teacher probabilities; loss ``soft_loss`` = ``"mse"`` as in Wu et al. 2020 or ``"kl"`` with
    ``temperature``). Only first subwords enter the loss.
    """
    import torch
    from torch.nn import functional as F
    set_seed(seed)
    model, tokenizer = load_token_model(backbone_path, labels)
    freeze_bottom(model, settings.freeze_layers)
    tagger = Tagger(model, tokenizer, labels, max_length=settings.max_length, batch_size=settings.eval_batch_size)
    n_tags = len(tagger.tag_names)
    soft = bool(targets) and targets[0].ndim == 2
    windows = [w for w in tagger.encoder.windows(token_lists) if w.word_indices]
    if not windows:
        raise ConfigError("no trainable words in the training data")
    rng = random.Random(seed)
    steps_per_epoch = math.ceil(len(windows) / settings.batch_size)
    total_steps = max(1, steps_per_epoch * settings.epochs)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for n, p in model.named_parameters() if p.requires_grad and not _no_decay(n)]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and _no_decay(n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.lr,
    )
    start = time.monotonic()
    deadline = start + 60 * settings.max_minutes if settings.max_minutes else None
    warmup = int(settings.warmup_ratio * total_steps)

    def lr_factor(step: int) -> float:
        # Linear warm-up then linear decay (XTREME); under a wall-time budget the decay also follows
        # the remaining time, so a run cut short by the budget still ends at a small learning rate.
        if step < warmup:
            return (step + 1) / (warmup + 1)
        factor = max(0.0, (total_steps - step) / max(1, total_steps - warmup))
        if deadline is not None:
            factor = min(factor, max(0.0, (deadline - time.monotonic()) / (deadline - start)))
        return factor

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    best_score, best_state, best_epoch, bad_epochs = -1.0, None, -1, 0
    history: list[dict[str, float]] = []
    stopped = "epochs"
    for epoch in range(settings.epochs):
        model.train()
        batches = shuffled_buckets([len(w.input_ids) for w in windows], settings.batch_size, rng)
        running, seen = 0.0, 0
        for batch in _progress(batches, show_progress, f"{description} epoch {epoch + 1}/{settings.epochs}"):
            chosen = [windows[i] for i in batch]
            ids, mask = _pad(chosen, tagger.pad_id)
            logits = model(input_ids=ids, attention_mask=mask).logits
            rows = torch.tensor([r for r, w in enumerate(chosen) for _ in w.word_positions], dtype=torch.long)
            cols = torch.tensor([p for w in chosen for p in w.word_positions], dtype=torch.long)
            picked = logits[rows, cols]
            if soft:
                goal = torch.from_numpy(np.concatenate([targets[w.sentence][list(w.word_indices)] for w in chosen]))
                loss = distillation_loss(picked, goal, soft_loss, temperature)
            else:
                goal = torch.from_numpy(np.concatenate([targets[w.sentence][list(w.word_indices)] for w in chosen]))
                loss = F.cross_entropy(picked, goal)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if settings.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
            optimizer.step()
            scheduler.step()
            running += loss.item() * len(batch)
            seen += len(batch)
            if deadline is not None and time.monotonic() > deadline:
                stopped = "time budget"
                break
        record = {"epoch": epoch + 1, "loss": running / max(seen, 1), "seconds": time.monotonic() - start}
        if dev:
            from harness.metrics import score_corpus

            gold = [tuple(_keep(t, labels) for t in s.tags) for s in dev]
            record["dev_f1"] = score_corpus(gold, tagger.predict(dev)).f1
            if record["dev_f1"] > best_score:
                best_score, best_epoch, bad_epochs = record["dev_f1"], epoch + 1, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_epochs += 1
        history.append(record)
        if stopped == "time budget":
            break
        if dev and bad_epochs >= settings.patience:
            stopped = "early stopping on dev"
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    tagger.batch_size = INFERENCE_BATCH_SIZE
    tagger.info.update(
        {
            "history": history,
            "best_epoch": best_epoch if dev else len(history),
            "stopped": stopped,
            "train_seconds": round(time.monotonic() - start, 2),
            "settings": asdict(settings),
            "seed": seed,
            "n_tags": n_tags,
        }
    )
    return tagger


def _no_decay(name: str) -> bool:
    return name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name


def distillation_loss(student_logits: Any, teacher_probs: Any, kind: str = "mse", temperature: float = 1.0) -> Any:
    """Wu et al. 2020 (systems.md §5): mean squared error between student and teacher probabilities
    over first subwords and tags; ``"kl"`` is KL(teacher || student) at ``temperature`` (scaled by T²,
    Hinton et al. 2015), kept as the option the reference code also has.
    """
    import torch
    from torch.nn import functional as F

    if kind == "mse":
        return F.mse_loss(torch.softmax(student_logits, dim=-1), teacher_probs)
    if kind == "kl":
        log_p = F.log_softmax(student_logits / temperature, dim=-1)
        # Teacher probabilities are sharpened/softened at the same temperature.
        teacher = torch.softmax(torch.log(teacher_probs.clamp_min(1e-8)) / temperature, dim=-1)
        return F.kl_div(log_p, teacher, reduction="batchmean") * temperature**2
    raise ConfigError(f"distillation loss must be 'mse' or 'kl'; got {kind!r}")


def _progress(items: Sequence[Any], show: bool, description: str) -> Iterator[Any]:
    if not show:
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=description, leave=False, dynamic_ncols=True)


def train_student(
    texts: Sequence[Sequence[str]],
    soft_targets: Sequence[np.ndarray],
    *,
    labels: Sequence[str],
    backbone: str = DEFAULT_BACKBONE,
    seed: int = 0,
    epochs: int = 3,
    lr: float | None = None,
    batch_size: int = 32,
    max_length: int = 128,
    loss: str = "mse",
    temperature: float = 1.0,
    freeze_layers: int = 3,
    cache_dir: Path | None = None,
    data_dir: Path | None = None,
    show_progress: bool = True,
    cache_tag: str = "",
    **options: Any,
) -> Tagger:
    """Train a fresh backbone to match teacher distributions on unlabelled text (Wu et al. 2020 §5).

    Defaults follow the paper: MSE on probabilities, lr 1e-4 for pretrained backbones (5e-4 for
    the random-init offline ones), embeddings and the bottom 3 layers frozen. For offline
    backbones without MLM pretraining, freezing random layers makes no sense, so the freeze is
    skipped there (documented deviation).

    >>> # student = train_student(texts, teacher.predict_proba(texts), labels=teacher.labels)
    """
    if len(texts) != len(soft_targets):
        raise ConfigError(f"{len(texts)} texts but {len(soft_targets)} target arrays")
    if lr is None:
        lr = 5e-4 if is_offline_backbone(backbone) else 1e-4
    if is_offline_backbone(backbone) and "mlm" not in backbone:
        # Deviation from Wu et al.: the bottom layers of a randomly initialised offline encoder
        # carry no pretrained knowledge worth protecting, so nothing is frozen there.
        freeze_layers = -1
    settings = make_settings(
        epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length, freeze_layers=freeze_layers, **options
    )
    root = _cache_root(cache_dir)
    backbone_path = resolve_backbone(backbone, cache_dir=root, data_dir=data_dir, extra_text=texts, seed=0, show_progress=show_progress)
    h = hashlib.sha256()
    for tokens, t in zip(texts, soft_targets, strict=True):
        h.update(json.dumps(list(tokens), ensure_ascii=False).encode())
        h.update(np.round(np.asarray(t, dtype=np.float32), 5).tobytes())
    key = _digest(
        {
            "code": TRAINING_CODE_VERSION,
            "kind": "student",
            "backbone": _backbone_identity(backbone, backbone_path),
            "labels": sorted(labels),
            "settings": asdict(settings),
            "loss": loss,
            "temperature": temperature,
            "seed": seed,
            "data": h.hexdigest(),
            "tag": cache_tag,
        }
    )[:20]
    target = root / "taggers" / f"student-{key}"

    def build(directory: Path) -> None:
        tagger = fit_token_model(
            backbone_path,
            texts,
            [np.asarray(t, dtype=np.float32) for t in soft_targets],
            labels=labels,
            settings=settings,
            seed=seed,
            soft_loss=loss,
            temperature=temperature,
            show_progress=show_progress,
            description=f"student {cache_tag or backbone}",
        )
        tagger.info.update({"backbone": backbone, "student_sentences": len(texts), "key": key})
        tagger.save(directory)

    return load_or_build(target, build)
