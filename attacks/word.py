"""Word-level perturbations on context tokens: deletion, duplication, neighbour swap, fillers.

Only tokens tagged ``O`` are deleted, duplicated or moved, and nothing is inserted inside a
mention (before an ``I-`` tag), so every mention survives intact; the :class:`~attacks.base.Rewriter`
realigns tags and records the alignment (SeqAttack's "do not modify entities" rule, applied
statically from gold tags rather than judged by the victim model).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

import numpy as np

from harness.data import OUTSIDE, Sentence
from harness.errors import ConfigError

from attacks.base import BasePerturbation, Perturbed, Rewriter
from attacks.char import _resource_text


class WordDelete(BasePerturbation):
    """Delete context tokens (never the last remaining token)."""

    name = "word-delete.v1"
    scope = "context"
    family = "word"
    description = "delete context words"

    def _perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        n = len(sentence.tokens)
        draws = rng.random(n)
        w = Rewriter(sentence)
        remaining = n
        for i, tag in enumerate(sentence.tags):
            if tag == OUTSIDE and draws[i] < self.rate and remaining > 1:
                w.delete(i)
                remaining -= 1
            else:
                w.keep(i)
        return w.build()


class WordDuplicate(BasePerturbation):
    """Repeat context tokens (a stutter or a copy-paste slip)."""

    name = "word-duplicate.v1"
    scope = "context"
    family = "word"
    description = "duplicate context words"

    def _perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        draws = rng.random(len(sentence.tokens))
        w = Rewriter(sentence)
        for i, tag in enumerate(sentence.tags):
            w.keep(i)
            # Inserting after an O token is always safe: the next tag cannot be I- (strict IOB2).
            if tag == OUTSIDE and draws[i] < self.rate:
                w.insert(sentence.tokens[i], kind="token-duplicate")
        return w.build()


class WordSwap(BasePerturbation):
    """Swap adjacent pairs of context tokens (local word-order noise)."""

    name = "word-swap.v1"
    scope = "context"
    family = "word"
    description = "swap neighbouring context words"

    def _perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        n = len(sentence.tokens)
        draws = rng.random(n)
        w = Rewriter(sentence)
        tags, tokens = sentence.tags, sentence.tokens
        i = 0
        while i < n:
            if (
                i + 1 < n
                and tags[i] == OUTSIDE
                and tags[i + 1] == OUTSIDE
                and tokens[i] != tokens[i + 1]
                and draws[i] < self.rate
            ):
                w.move(i + 1, kind="token-swap")
                w.move(i, kind="token-swap")
                i += 2
            else:
                w.keep(i)
                i += 1
        return w.build()


@functools.cache
def filler_lists() -> dict[str, tuple[str, ...]]:
    """Per-language filler tokens from ``resources/fillers.json``."""
    raw = json.loads(_resource_text("fillers.json"))
    return {k: tuple(v) for k, v in raw.items() if not k.startswith("_")}


class FillerInsert(BasePerturbation):
    """Insert discourse fillers (``uh``, Yoruba ``ṣé``, Swahili ``yaani`` ...) between context tokens.

    Args:
        fillers: comma-separated filler words to use for any language instead of the built-in
            per-language lists (``resources/fillers.json``).
    """

    name = "filler-insert.v1"
    scope = "context"
    family = "word"
    description = "insert filler words between context words"

    def __init__(self, severity: int = 2, fillers: str | None = None) -> None:
        super().__init__(severity=severity)
        self.fillers = fillers
        if fillers is not None:
            words = tuple(w.strip() for w in fillers.split(",") if w.strip())
            if not words or any(not w or any(c.isspace() for c in w) for w in words):
                raise ConfigError(
                    f"The 'fillers' parameter of perturbation {self.name!r} must be comma-separated "
                    f"single words. Got {fillers!r} instead."
                )
            self._custom: tuple[str, ...] | None = words
        else:
            self._custom = None

    @property
    def languages(self) -> frozenset[str] | None:  # type: ignore[override]
        return None if self._custom else frozenset(filler_lists())

    def _words(self, lang: str) -> Sequence[str]:
        return self._custom or filler_lists()[lang]

    def _perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        words = self._words(sentence.lang)
        n = len(sentence.tokens)
        draws = rng.random(n + 1)
        w = Rewriter(sentence)
        for j in range(n + 1):
            # Slot j is before token j; it is inside a mention when token j continues one.
            if draws[j] < self.rate and (j == n or not sentence.tags[j].startswith("I-")) and n > 0:
                w.insert(words[int(rng.integers(len(words)))], kind="filler-insert")
            if j < n:
                w.keep(j)
        return w.build()


__all__ = ["FillerInsert", "WordDelete", "WordDuplicate", "WordSwap", "filler_lists"]
