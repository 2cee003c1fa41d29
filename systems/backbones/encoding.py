"""Words -> subwords -> windows: the one place where word/subword alignment is decided.

The first subword of a word carries its label; nothing is truncated: a sentence longer than
``max_length`` subwords is cut into overlapping windows and each word is read from the window in
which its first subword is most central.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError


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


def pad_windows(windows: Sequence[Window], pad_id: int) -> tuple[Any, Any]:
    import torch

    width = max(len(w.input_ids) for w in windows)
    ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(windows), width), dtype=torch.long)
    for row, w in enumerate(windows):
        ids[row, : len(w.input_ids)] = torch.tensor(w.input_ids, dtype=torch.long)
        mask[row, : len(w.input_ids)] = 1
    return ids, mask
