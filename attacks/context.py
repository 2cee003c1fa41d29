"""Context-level perturbations: code-switching into English, and sentence concatenation.

Code-switching with English is everyday practice in Nigerian, Kenyan and Tanzanian writing. We
replace context words (tagged ``O``) by an English translation from a bilingual lexicon, one
word for one word, so tags and positions stay as they are. The lexicon is either a user TSV file
or learned from the MAFAND-MT parallel data with ``systems.translators.learn_bilingual_lexicon``
(eflomal word alignments, ``p(english | word)``); only confident one-word entries are kept.
"""

from __future__ import annotations

import functools
import hashlib
import os
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.data import Sentence
from harness.errors import ConfigError, DataFormatError

from attacks.base import (
    BasePerturbation,
    Perturbed,
    Rewriter,
    TokenPerturbation,
    _check_choice,
    unchanged,
)
from attacks.orthography import COVERAGE_RATES

MAFAND_LANGUAGES = frozenset({"hau", "ibo", "swa", "yor"})


def read_lexicon_tsv(path: str | Path) -> dict[str, str]:
    """Read ``word<TAB>english`` lines (``#`` comments, blank lines allowed); keys case-folded NFC.

    Raises:
        DataFormatError: a line without exactly two tab-separated fields, or a multi-word entry.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFormatError(f"cannot read lexicon: {exc.strerror}", path=path) from None
    out: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise DataFormatError(f"expected 'word<TAB>english', found {line!r}", path=path, line=number)
        src, dst = (unicodedata.normalize("NFC", f.strip()) for f in fields)
        if any(c.isspace() for c in src + dst):
            raise DataFormatError(
                f"entries must be single words (code-switching replaces one token by one token); found {line!r}",
                path=path,
                line=number,
            )
        out.setdefault(src.casefold(), dst)
    return out


def _cache_dir() -> Path:
    root = os.environ.get("XNER_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "xner-bench") / "attacks"


@functools.cache
def learned_lexicon(lang: str, data_dir: str | None, min_count: int = 3, min_prob: float = 0.3) -> dict[str, str]:
    """``word → english`` learned from MAFAND-MT (dev + test) for ``lang``, cached on disk.

    Uses ``systems.translators.learn_bilingual_lexicon`` (eflomal links, ``p(en | word)``), then keeps
    for each word its best translation when seen at least ``min_count`` times with probability at
    least ``min_prob``, alphabetic, and different from the word itself (names and numbers are
    copied by the aligner and would not code-switch anything).
    """
    from harness.datasets import data_files, load_parallel

    files = {}
    pairs: list[tuple[str, str]] = []
    for split in ("dev", "test"):
        files.update(data_files("mafand", lang, split, data_dir=data_dir))
        pairs += [(tgt, en) for en, tgt in load_parallel("mafand", lang, split, data_dir=data_dir)]
    key = hashlib.sha256(repr((sorted(files.items()), min_count, min_prob)).encode()).hexdigest()[:16]
    cache = _cache_dir() / f"lexicon-{lang}-eng-{key}.tsv"
    if cache.is_file():
        return read_lexicon_tsv(cache)
    from systems.translators import learn_bilingual_lexicon

    lexicon = learn_bilingual_lexicon(pairs, src_lang=lang, tgt_lang="eng", min_count=min_count)
    out = {}
    for word, options in lexicon.entries.items():
        target, prob = options[0]
        if (
            prob >= min_prob
            and lexicon.counts.get(word, 0) >= min_count
            and target.isalpha()
            and word.isalpha()
            and target != word
        ):
            out[word] = target
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".tmp")
    tmp.write_text(
        f"# learned from mafand {lang} dev+test with eflomal; min_count={min_count} min_prob={min_prob}\n"
        + "".join(f"{w}\t{t}\n" for w, t in sorted(out.items())),
        encoding="utf-8",
    )
    tmp.replace(cache)
    return out


class CodeSwitch(TokenPerturbation):
    """Replace context words with their English translation (code-switching).

    Args:
        severity: 1-5, share of translatable context words replaced (0.2 ... 1.0).
        lexicon: path to a ``word<TAB>english`` TSV; when omitted the lexicon is learned from the
            MAFAND-MT parallel data (hau, ibo, swa, yor).
        lexicon_lang: the language the TSV is for (``None``: any language).
        data_dir: data root holding ``mafand_mt`` (else ``$XNER_DATA_DIR``).
    """

    name = "code-switch.v1"
    scope = "context"
    family = "context"
    description = "replace context words by English translations (lexicon: TSV or learned from MAFAND-MT)"
    edit_kind = "code-switch"
    severity_rates = COVERAGE_RATES

    def __init__(
        self,
        severity: int = 2,
        lexicon: str | Path | None = None,
        lexicon_lang: str | None = None,
        data_dir: str | Path | None = None,
    ) -> None:
        super().__init__(severity=severity)
        self.lexicon = None if lexicon is None else str(lexicon)
        self.lexicon_lang = lexicon_lang
        self.data_dir = None if data_dir is None else str(data_dir)
        self._table: dict[str, str] | None = read_lexicon_tsv(self.lexicon) if self.lexicon else None
        self._current: Mapping[str, str] = {}

    @property
    def languages(self) -> frozenset[str] | None:  # type: ignore[override]
        if self.lexicon:
            return None if self.lexicon_lang is None else frozenset({self.lexicon_lang})
        return MAFAND_LANGUAGES

    @property
    def seed_params(self) -> dict[str, Any]:
        """Seed from the lexicon's content, not its path (same file elsewhere, same output)."""
        out = super().seed_params
        if self.lexicon:
            out["lexicon"] = "sha256:" + hashlib.sha256(Path(self.lexicon).read_bytes()).hexdigest()
        return out

    def table(self, lang: str) -> Mapping[str, str]:
        if self._table is not None:
            return self._table
        return learned_lexicon(lang, self.data_dir)

    def perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        self.check_language(sentence.lang)
        self._current = self.table(sentence.lang)
        return super().perturb(sentence, rng)

    def applicable(self, token: str) -> bool:
        return unicodedata.normalize("NFC", token).casefold() in self._current

    def edit_token(self, token: str, rng: np.random.Generator) -> str:
        target = self._current[unicodedata.normalize("NFC", token).casefold()]
        if token[:1].isupper():
            target = target[:1].upper() + target[1:]
        return target


class SentenceConcat(BasePerturbation):
    """Concatenate the sentence with another sentence of the same language from the corpus.

    Systems trained on single sentences meet longer inputs and unrelated context; the mentions of
    the added sentence are declared (``may_change_entity_count``) and tagged from its gold tags.

    Args:
        severity: 1-5, share of sentences that get a partner (0.2 ... 1.0).
        position: ``"append"``, ``"prepend"`` or ``"random"``.
    """

    name = "sentence-concat.v1"
    scope = "context"
    may_change_entity_count = True
    family = "context"
    description = "append / prepend another sentence of the corpus"
    severity_rates = COVERAGE_RATES

    def __init__(self, severity: int = 5, position: str = "append") -> None:
        super().__init__(severity=severity)
        self.position = position
        _check_choice(self, "position", position, ("append", "prepend", "random"))
        self._pool: dict[str, list[Sentence]] = {}
        self._ready = False

    def prepare(self, sentences: Sequence[Sentence]) -> None:
        pool: dict[str, list[Sentence]] = defaultdict(list)
        for s in sentences:
            if s.tokens:
                pool[s.lang].append(s)
        self._pool = {lang: sorted(group, key=lambda s: s.id) for lang, group in pool.items()}
        self._ready = True

    def _perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        if not self._ready:
            raise ConfigError(
                f"perturbation {self.name!r} needs prepare(sentences) before perturb(); "
                "perturb_corpus() calls it for you"
            )
        if rng.random() >= self.rate:
            return unchanged(sentence)
        candidates = [s for s in self._pool.get(sentence.lang, ()) if s.id != sentence.id]
        if not candidates:
            return unchanged(sentence)
        other = candidates[int(rng.integers(len(candidates)))]
        prepend = self.position == "prepend" or (self.position == "random" and rng.random() < 0.5)
        w = Rewriter(sentence)
        if prepend:
            w.insert_sentence(other, kind="sentence-prepend")
        for i in range(len(sentence.tokens)):
            w.keep(i)
        if not prepend:
            w.insert_sentence(other)
        return w.build()


__all__ = ["CodeSwitch", "SentenceConcat", "learned_lexicon", "read_lexicon_tsv"]
