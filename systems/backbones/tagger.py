"""The trained tagger: IOB2 tags and per-word probabilities over words, saved with ``save_pretrained``."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.data import Sentence
from harness.errors import ModelUnavailableError
from systems.backbones.encoding import SubwordEncoder, Window, length_buckets, pad_windows
from systems.backbones.labels import repair_iob2, tag_names_for
from systems.backbones.sources import quiet_hub

TAGGER_FILE = "xner_tagger.json"
TAGGER_FORMAT_VERSION = "1"
#: Inference batch of saved taggers: fastest of 16/32/64/128 for the offline model on 2 CPU cores
#: (benchmarks/bench_inference.py). Not part of any cache key: batching does not change outputs.
INFERENCE_BATCH_SIZE = 32



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
                ids, mask = pad_windows([windows[i] for i in batch], self.pad_id)
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
        # Names this trained instance, not its inputs: a retrain of the same inputs (a wiped cache,
        # another machine) trains different weights, and the prediction cache must not serve the
        # old model's outputs for it (harness.work.prediction_cache_key). Kept on re-save.
        self.info.setdefault("build_id", uuid.uuid4().hex[:16])
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


def load_or_build(target: Path, build: Callable[[Path], None]) -> Tagger:
    """Load the tagger cached at ``target`` or build it into a temporary directory and move it there."""
    if (target / TAGGER_FILE).is_file():
        return Tagger.load(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        build(tmp)
        if not (target / TAGGER_FILE).is_file():  # else built concurrently by another process
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
    finally:  # a crash or Ctrl-C mid-training leaves no half-written directory behind
        shutil.rmtree(tmp, ignore_errors=True)
    return Tagger.load(target)
