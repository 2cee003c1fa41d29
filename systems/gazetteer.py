"""Gazetteer (memorisation) tagger: the floor every NER paper reports.

It learns the entity strings of a training set and tags exact matches in new text, longest match
first, left to right. Matching can fold case and strip diacritics, which makes it a useful probe
for orthographic perturbations: a diacritic-folding gazetteer is immune to ``diacritics-drop``.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence

from harness.data import OUTSIDE, Sentence
from harness.datasets import get_dataset
from harness.errors import ConfigError, XnerError
from harness.params import Annotated, Range
from systems.base import FitContext, SystemTags


def fold(token: str, *, case: bool, diacritics: bool) -> str:
    """Normalise a token for matching.

    >>> fold("Ẹ̀kọ́", case=True, diacritics=True)
    'eko'
    """
    text = unicodedata.normalize("NFC", token)
    if diacritics:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    if case:
        text = text.casefold()
    return text


class GazetteerTagger:
    """Tag exact matches of mentions seen in training.

    Args:
        train: ``"dataset/lang/split"``; ``{target}`` stands for each target language
            (e.g. ``"masakhaner2/{target}/train"`` for an in-language gazetteer).
        case_fold: match case-insensitively.
        diacritic_fold: ignore combining marks (tone marks, dots below).
        min_count: keep a mention only if seen at least this often.
        max_length: longest mention (in tokens) kept in the gazetteer.
    """

    name = "gazetteer"
    version = "1"

    def __init__(
        self,
        train: str = "conll2003/eng/train",
        case_fold: bool = False,
        diacritic_fold: bool = False,
        min_count: Annotated[int, Range(1)] = 1,
        max_length: Annotated[int, Range(1)] = 8,
    ) -> None:
        self.train = train
        self.case_fold = case_fold
        self.diacritic_fold = diacritic_fold
        self.min_count = min_count
        self.max_length = max_length
        self._tables: dict[str, dict[tuple[str, ...], str]] | None = None
        self._fitted_labels: frozenset[str] | None = None  # set by fit_sentences (no dataset spec)

    def _source(self) -> tuple[str, str, str]:
        parts = self.train.split("/")
        if len(parts) != 3:
            raise ConfigError(f"gazetteer train={self.train!r} must look like 'dataset/lang/split'")
        return parts[0], parts[1], parts[2]

    @property
    def tags(self) -> SystemTags:
        if self._fitted_labels is not None:
            return SystemTags(labels=self._fitted_labels, languages=None, trainable=True)
        dataset, _, _ = self._source()
        # String matching works in any language and script, so no language restriction is declared.
        return SystemTags(labels=get_dataset(dataset).labels, languages=None, trainable=True)

    def _key(self, tokens: Sequence[str]) -> tuple[str, ...]:
        return tuple(fold(t, case=self.case_fold, diacritics=self.diacritic_fold) for t in tokens)

    def _build(self, sentences: Sequence[Sentence]) -> dict[tuple[str, ...], str]:
        votes: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        for sentence in sentences:
            for span in sentence.spans:
                if span.length <= self.max_length:
                    votes[self._key(sentence.tokens[span.start : span.end])][span.label] += 1
        table = {}
        for key, counter in votes.items():
            # Majority label; ties broken alphabetically so training is deterministic.
            label, count = min(counter.items(), key=lambda kv: (-kv[1], kv[0]))
            if sum(counter.values()) >= self.min_count:
                table[key] = label
        return table

    def fit(self, context: FitContext) -> None:
        dataset, lang, split = self._source()
        tables: dict[str, dict[tuple[str, ...], str]] = {}
        if lang == "{target}":
            for target in context.target_languages:
                if context.has_split(dataset, target, split):
                    tables[target] = self._build(context.load(dataset, target, split))
                else:
                    tables[target] = {}  # no in-language data: the gazetteer is empty, recorded as such
        else:
            tables["*"] = self._build(context.load(dataset, lang, split))
        self._tables = tables
        empty = sorted(t for t, table in tables.items() if not table)
        # Stored with the run and shown by `xner results`: an empty gazetteer scores 0 for a reason.
        self.fit_report_ = {"empty_gazetteer": {t: f"no mentions learned from {dataset}/{t}/{split}" for t in empty}} if empty else {}

    def fit_sentences(self, sentences: Sequence[Sentence]) -> GazetteerTagger:
        """Train directly from sentences (for tests and notebooks)."""
        self._tables = {"*": self._build(sentences)}
        self._fitted_labels = frozenset(span.label for s in sentences for span in s.spans)
        return self

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        if self._tables is None:
            raise XnerError("gazetteer is not fitted: call fit(context) or fit_sentences(...) first")
        out = []
        for sentence in sentences:
            table = self._tables.get("*", self._tables.get(sentence.lang, {}))
            out.append(self._tag(sentence.tokens, table))
        return out

    def _tag(self, tokens: Sequence[str], table: dict[tuple[str, ...], str]) -> tuple[str, ...]:
        keys = self._key(tokens)
        tags = [OUTSIDE] * len(tokens)
        i = 0
        while i < len(tokens):
            for length in range(min(self.max_length, len(tokens) - i), 0, -1):
                label = table.get(keys[i : i + length])
                if label is not None:
                    tags[i] = f"B-{label}"
                    for j in range(i + 1, i + length):
                        tags[j] = f"I-{label}"
                    i += length
                    break
            else:
                i += 1
        return tuple(tags)
