"""Entity-level perturbations: mention swaps from a pool (RockNER style), typos and casing.

``entity-swap.v1`` replaces a mention with another mention of the same type. RockNER draws
same-fine-type Wikidata entities unseen in training; we have no entity linker for these
languages, so the pool is built from gold mentions, either of the corpus being perturbed or of a
given dataset split, optionally in *another* language (a Swahili name in a Yoruba sentence tests
whether a system uses context or memorised names). Replacements differ from the original string.
Severity is the share of mentions replaced (20%→100%, RockNER's five rounds).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from harness.data import Sentence
from harness.errors import ConfigError

from attacks.base import BasePerturbation, Perturbed, Rewriter, _check_choice, unchanged
from attacks.char import EntityTypos
from attacks.orthography import COVERAGE_RATES, EntityCasing

MentionPool = Mapping[str, tuple[tuple[str, ...], ...]]


def build_pool(sentences: Sequence[Sentence]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Label → sorted distinct mention token tuples (order-independent, so deterministic).

    >>> s = Sentence("d/0", "yor", ("Adé", "lọ", "sí", "Èkó"), ("B-PER", "O", "O", "B-LOC"))
    >>> build_pool([s])["LOC"]
    (('Èkó',),)
    """
    pool: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for s in sentences:
        for sp in s.spans:
            pool[sp.label].add(s.tokens[sp.start : sp.end])
    return {label: tuple(sorted(m)) for label, m in sorted(pool.items())}


class EntitySwap(BasePerturbation):
    """Replace mentions with other same-type mentions from a pool.

    Args:
        severity: 1-5, share of mentions replaced (0.2 ... 1.0).
        pool: ``"corpus"`` (mentions of the sentences passed to :meth:`prepare` /
            ``perturb_corpus``, same language as each sentence) or ``"dataset"`` (a split given by
            ``pool_dataset``/``pool_split``, loaded with ``harness.datasets.load_ner``).
        pool_dataset: registered dataset name for ``pool="dataset"`` (e.g. ``"masakhaner2"``).
        pool_split: ``train``, ``dev`` or ``test``.
        pool_lang: language of the pool; ``None`` means the sentence's own language, another code
            gives cross-lingual swaps (RockNER's memorisation test across languages).
        data_dir: local data root for ``pool="dataset"`` (else ``$XNER_DATA_DIR`` / the hub).
    """

    name = "entity-swap.v1"
    scope = "entity"
    family = "entity"
    description = "replace mentions with same-type mentions from a pool (same or other language)"
    severity_rates = COVERAGE_RATES

    def __init__(
        self,
        severity: int = 3,
        pool: str = "corpus",
        pool_dataset: str | None = None,
        pool_split: str = "train",
        pool_lang: str | None = None,
        data_dir: str | Path | None = None,
    ) -> None:
        super().__init__(severity=severity)
        self.pool = pool
        _check_choice(self, "pool", pool, ("corpus", "dataset"))
        self.pool_dataset = pool_dataset
        self.pool_split = pool_split
        _check_choice(self, "pool_split", pool_split, ("train", "dev", "test"))
        self.pool_lang = pool_lang
        self.data_dir = data_dir
        if pool == "dataset" and not pool_dataset:
            raise ConfigError(
                f"perturbation {self.name!r} with pool='dataset' needs pool_dataset "
                "(e.g. --param pool_dataset=masakhaner2)"
            )
        self._pools: dict[str, dict[str, tuple[tuple[str, ...], ...]]] = {}
        self._corpus_ready = False

    def prepare(self, sentences: Sequence[Sentence]) -> None:
        """Build the per-language pools from ``sentences`` (``pool="corpus"``)."""
        if self.pool != "corpus":
            return
        by_lang: dict[str, list[Sentence]] = defaultdict(list)
        for s in sentences:
            by_lang[s.lang].append(s)
        self._pools = {lang: build_pool(group) for lang, group in by_lang.items()}
        self._corpus_ready = True

    def _pool_for(self, lang: str) -> Mapping[str, tuple[tuple[str, ...], ...]]:
        pool_lang = self.pool_lang or lang
        if self.pool == "corpus":
            if not self._corpus_ready:
                raise ConfigError(
                    f"perturbation {self.name!r} with pool='corpus' needs prepare(sentences) before "
                    "perturb(); perturb_corpus() calls it for you"
                )
            return self._pools.get(pool_lang, {})
        if pool_lang not in self._pools:
            from harness.datasets import load_ner

            split = load_ner(self.pool_dataset or "", pool_lang, self.pool_split, data_dir=self.data_dir)
            self._pools[pool_lang] = build_pool(split.sentences)
        return self._pools[pool_lang]

    def _perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        spans = sentence.spans
        if not spans:
            return unchanged(sentence)
        pool = self._pool_for(sentence.lang)
        draws = rng.random(len(spans))
        replace = {}
        for sp, d in zip(spans, draws, strict=True):
            if d >= self.rate:
                continue
            current = sentence.tokens[sp.start : sp.end]
            options = [m for m in pool.get(sp.label, ()) if m != current]
            if options:
                replace[sp.start] = (sp, options[int(rng.integers(len(options)))])
        if not replace:
            return unchanged(sentence)
        w = Rewriter(sentence)
        i = 0
        n = len(sentence.tokens)
        while i < n:
            if i in replace:
                sp, mention = replace[i]
                w.replace_mention(sp, mention)
                i = sp.end
            else:
                w.keep(i)
                i += 1
        return w.build()


__all__ = ["EntityCasing", "EntitySwap", "EntityTypos", "build_pool"]
