"""Script and orthography perturbations: the low-resource realities of written African languages.

Real Yoruba and Igbo text on the web often drops tone marks, and frequently the dots below as
well (Orife 2018, "Attentive sequence-to-sequence learning for diacritic restoration of Yorùbá
language text"; Adelani et al. 2021, MasakhaNER). Text is mixed NFC/NFD depending on the keyboard
(dependencies.md §2b), letters with a dot below or open vowels (ọ/o, ẹ/e, ṣ/s, ɛ/e, ɔ/o) are
confused, and casing and punctuation are unreliable in informal text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from harness.data import OUTSIDE, Sentence

from attacks.base import (
    SCOPES,
    BasePerturbation,
    Perturbed,
    Rewriter,
    TokenPerturbation,
    _check_choice,
)
from attacks.text import LETTER_MARKS, TONE_MARKS, graphemes, starts_with_mark, strip_marks

# Rates for perturbations whose natural unit is "how much of the text is affected".
COVERAGE_RATES: Mapping[int, float] = {1: 0.2, 2: 0.4, 3: 0.6, 4: 0.8, 5: 1.0}


class DiacriticsDrop(TokenPerturbation):
    """Remove diacritics from tokens, as in real web text.

    Args:
        severity: 1-5 → share of tokens carrying marks that lose them (20% ... 100%).
        marks: ``"all"`` removes every combining mark (tones and dots below: ``Ọ̀gbẹ́ni``→``Ogbeni``,
            the most common form of informal Yoruba); ``"tone"`` removes only tone marks and keeps
            letter-forming dots (``Ọgbẹni``).
        target: which tokens may change.

    >>> import numpy as np
    >>> from harness.data import Sentence
    >>> s = Sentence("d/yor/0", "yor", ("Ọ̀gbẹ́ni", "Adéwálé"), ("O", "B-PER"))
    >>> DiacriticsDrop(severity=5, marks="tone").perturb(s, np.random.default_rng(0)).sentence.tokens
    ('Ọgbẹni', 'Adewale')
    """

    name = "diacritics-drop.v1"
    family = "orthography"
    description = "remove tone marks (and dots below) as in informal text"
    edit_kind = "diacritics-drop"
    severity_rates = COVERAGE_RATES

    def __init__(self, severity: int = 3, marks: str = "all", target: str = "both") -> None:
        super().__init__(severity=severity)
        self.marks = marks
        _check_choice(self, "marks", marks, ("all", "tone"))
        self.target = target
        _check_choice(self, "target", target, SCOPES)
        self.scope = target  # type: ignore[assignment]

    def _dropped(self, c: str) -> bool:
        return bool(unicodedata.combining(c)) and (self.marks == "all" or c in TONE_MARKS)

    def applicable(self, token: str) -> bool:
        if token.isascii():
            return False
        return any(self._dropped(c) for c in unicodedata.normalize("NFD", token))

    def edit_token(self, token: str, rng: np.random.Generator) -> str:
        keep = frozenset() if self.marks == "all" else frozenset(
            c for c in set(unicodedata.normalize("NFD", token)) if unicodedata.combining(c) and c not in TONE_MARKS
        )
        # A token made only of stray marks (5 such tokens in MasakhaNER 2.0 dev/test, e.g. a lone
        # U+0301 in yor/test) would become empty: leave it, it carries no letter to un-accent.
        return strip_marks(token, keep=keep) or token


_VOWELS = frozenset("aeiouɛɔAEIOUƐƆ")
_TONES = ("\u0300", "\u0301")  # grave (low) and acute (high): the two written tones of Yoruba/Igbo


class DiacriticNoise(TokenPerturbation):
    """Wrong tone marks: on one vowel cluster per chosen token, add a missing tone, swap grave and
    acute, or remove the tone. Dots below are kept (they belong to the letter)."""

    name = "diacritic-noise.v1"
    family = "orthography"
    description = "add / flip / remove tone marks on vowels"
    edit_kind = "diacritic-noise"

    def __init__(self, severity: int = 2, target: str = "both") -> None:
        super().__init__(severity=severity)
        self.target = target
        _check_choice(self, "target", target, SCOPES)
        self.scope = target  # type: ignore[assignment]

    def applicable(self, token: str) -> bool:
        return any(strip_marks(c)[:1] in _VOWELS for c in graphemes(token))

    def edit_token(self, token: str, rng: np.random.Generator) -> str:
        clusters = list(graphemes(token))
        vowels = [i for i, c in enumerate(clusters) if strip_marks(c)[:1] in _VOWELS]
        if not vowels:
            return token
        i = vowels[int(rng.integers(len(vowels)))]
        decomposed = unicodedata.normalize("NFD", clusters[i])
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        letter = "".join(c for c in decomposed if unicodedata.combining(c) and c not in TONE_MARKS)
        tones = [c for c in decomposed if c in TONE_MARKS]
        if not tones:
            new_tone = _TONES[int(rng.integers(2))]
        elif rng.random() < 0.5:
            new_tone = ""
        else:
            new_tone = _TONES[1] if tones[0] == _TONES[0] else _TONES[0]
        clusters[i] = unicodedata.normalize("NFC", base + letter + new_tone)
        return "".join(clusters)


class UnicodeNormalization(TokenPerturbation):
    """Switch the Unicode normal form of tokens (NFC ↔ NFD). The text looks identical; a system
    that does not normalise its input sees different code points.

    Args:
        form: ``"NFD"``, ``"NFC"``, ``"NFKC"``, ``"NFKD"`` or ``"switch"`` (NFC tokens → NFD and back).
    """

    name = "unicode-normalization.v1"
    family = "orthography"
    description = "switch Unicode normal form NFC <-> NFD (looks identical)"
    edit_kind = "unicode-normalization"
    severity_rates = COVERAGE_RATES

    def __init__(self, severity: int = 5, form: str = "NFD") -> None:
        super().__init__(severity=severity)
        self.form = form
        _check_choice(self, "form", form, ("NFC", "NFD", "NFKC", "NFKD", "switch"))

    def applicable(self, token: str) -> bool:
        return not token.isascii()

    def edit_token(self, token: str, rng: np.random.Generator) -> str:
        if self.form == "switch":
            form = "NFC" if unicodedata.is_normalized("NFD", token) else "NFD"
        else:
            form = self.form
        out = unicodedata.normalize(form, token)
        # NFKC can turn a token into something with whitespace (e.g. U+00A0 → space): refuse it.
        return token if not out or any(c.isspace() for c in out) else out


# Dotted / open letters and the plain letters they are confused with. Plain → dotted direction
# only uses the letters of the sentence's language (a Yoruba writer adds dots, not hooks).
DOTTED_TO_PLAIN: Mapping[str, str] = {
    "ọ": "o", "ẹ": "e", "ṣ": "s", "ị": "i", "ụ": "u", "ṅ": "n", "ɛ": "e", "ɔ": "o",
    "ɓ": "b", "ɗ": "d", "ƙ": "k", "ƴ": "y", "ŋ": "n", "ɖ": "d", "ƒ": "f",
}
LANGUAGE_LETTERS: Mapping[str, str] = {
    "yor": "ọẹṣ", "ibo": "ịọụṅ", "hau": "ɓɗƙƴ", "ewe": "ɛɔŋɖƒ", "fon": "ɛɔŋɖ", "twi": "ɛɔ",
    "bam": "ɛɔŋ", "mos": "ɛ", "bbj": "ɛɔŋ", "lin": "ɛɔ",
}


def _case_like(template: str, letter: str) -> str:
    return letter.upper() if template != template.lower() else letter


class DottedLetters(TokenPerturbation):
    """Confuse dotted/open/hooked letters with plain ones: ọ/o, ẹ/e, ṣ/s, ɛ/e, ɔ/o, ɓ/b ...

    Tone marks on the cluster are kept (``ọ̀``→``ò``).

    Args:
        direction: ``"drop"`` (dotted → plain only) or ``"both"`` (also plain → the dotted letters
            of the sentence's language, hypercorrection).
    """

    name = "dotted-letters.v1"
    family = "orthography"
    description = "dotted/open letter confusions (ọ/o ẹ/e ṣ/s ɛ/e ɔ/o)"
    edit_kind = "dotted-letter"

    def __init__(self, severity: int = 2, direction: str = "both", target: str = "both") -> None:
        super().__init__(severity=severity)
        self.direction = direction
        _check_choice(self, "direction", direction, ("drop", "both"))
        self.target = target
        _check_choice(self, "target", target, SCOPES)
        self.scope = target  # type: ignore[assignment]
        self._lang = ""

    def perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        self._lang = sentence.lang
        return super().perturb(sentence, rng)

    def perturb_at(self, sentence, indices, rng):  # type: ignore[no-untyped-def]
        self._lang = sentence.lang
        return super().perturb_at(sentence, indices, rng)

    def _options(self, cluster: str) -> tuple[str, str, list[str]]:
        decomposed = unicodedata.normalize("NFD", cluster)
        tones = "".join(c for c in decomposed if c in TONE_MARKS)
        letter = strip_marks(cluster, keep=LETTER_MARKS)
        low = letter.lower()
        options = []
        if low in DOTTED_TO_PLAIN:
            options.append(DOTTED_TO_PLAIN[low])
        if self.direction == "both":
            options += [d for d in LANGUAGE_LETTERS.get(self._lang, "") if DOTTED_TO_PLAIN[d] == low]
        return letter, tones, options

    def applicable(self, token: str) -> bool:
        return any(self._options(c)[2] for c in graphemes(token))

    def edit_token(self, token: str, rng: np.random.Generator) -> str:
        clusters = list(graphemes(token))
        candidates = [(i, *self._options(c)) for i, c in enumerate(clusters)]
        candidates = [c for c in candidates if c[3]]
        if not candidates:
            return token
        i, letter, tones, options = candidates[int(rng.integers(len(candidates)))]
        new = _case_like(letter, options[int(rng.integers(len(options)))])
        clusters[i] = unicodedata.normalize("NFC", new + tones)
        return "".join(clusters)


class CaseChange(TokenPerturbation):
    """Change letter case of tokens: ``lower``, ``upper``, ``title`` or ``random`` (one of the three
    per token). At severity 5 every eligible token changes (an all-lower/all-upper sentence)."""

    name = "case-change.v1"
    family = "orthography"
    description = "lower / upper / title case"
    edit_kind = "case"
    severity_rates = COVERAGE_RATES
    default_target: ClassVar[str] = "both"
    default_mode: ClassVar[str] = "lower"

    def __init__(self, severity: int = 5, mode: str | None = None, target: str | None = None) -> None:
        super().__init__(severity=severity)
        self.mode = self.default_mode if mode is None else mode
        _check_choice(self, "mode", self.mode, ("lower", "upper", "title", "random"))
        self.target = self.default_target if target is None else target
        _check_choice(self, "target", self.target, SCOPES)
        self.scope = self.target  # type: ignore[assignment]

    def applicable(self, token: str) -> bool:
        return token.lower() != token.upper()

    def edit_token(self, token: str, rng: np.random.Generator) -> str:
        mode = self.mode
        if mode == "random":
            mode = ("lower", "upper", "title")[int(rng.integers(3))]
        # NFC after case mapping: e.g. "İ".lower() is "i" + U+0307.
        out = unicodedata.normalize("NFC", getattr(token, mode)())
        return out or token


class EntityCasing(CaseChange):
    """Case changes on entity tokens only (lower-cased names are common in informal text)."""

    name = "entity-casing.v1"
    family = "entity"
    description = "lower/upper/title case inside entity mentions"
    default_target = "entity"


def _is_punct(token: str) -> bool:
    return all(unicodedata.category(c).startswith("P") for c in token)


PUNCTUATION = (",", ".", ";", ":", "!", "?", "-", "…")


class PunctuationNoise(BasePerturbation):
    """Punctuation noise on context tokens: delete or replace punctuation tokens, and insert
    stray punctuation after context tokens (never inside a mention). Tags realigned."""

    name = "punctuation-noise.v1"
    scope = "context"
    family = "orthography"
    description = "delete / replace / insert punctuation tokens"

    def _perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        n = len(sentence.tokens)
        if n == 0:
            return Perturbed(sentence, (), ())
        draws = rng.random((n, 2))
        w = Rewriter(sentence)
        rate = self.rate
        for i, (tok, tag) in enumerate(zip(sentence.tokens, sentence.tags, strict=True)):
            if tag == OUTSIDE and _is_punct(tok) and draws[i, 0] < rate and n > 1:
                if rng.random() < 0.5:
                    w.delete(i, kind="punct-delete")
                    continue
                options = [p for p in PUNCTUATION if p != tok]
                w.keep(i, options[int(rng.integers(len(options)))], kind="punct-replace")
            else:
                w.keep(i)
            nxt = sentence.tags[i + 1] if i + 1 < n else OUTSIDE
            if tag == OUTSIDE and not _is_punct(tok) and not nxt.startswith("I-") and draws[i, 1] < rate / 2:
                w.insert(PUNCTUATION[int(rng.integers(len(PUNCTUATION)))], kind="punct-insert")
        return w.build()


class WhitespaceNoise(BasePerturbation):
    """Whitespace noise on context tokens: merge two adjacent context tokens (missing space) or
    split one at a grapheme boundary (spurious space). Realigned: a merged token keeps the first
    token's position, the second is recorded as deleted; a split adds an ``O`` token."""

    name = "whitespace-noise.v1"
    scope = "context"
    family = "orthography"
    description = "merge / split context tokens (missing or extra spaces)"

    def _perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        n = len(sentence.tokens)
        draws = rng.random(n)
        w = Rewriter(sentence)
        rate = self.rate
        i = 0
        tags = sentence.tags
        while i < n:
            tok = sentence.tokens[i]
            if tags[i] == OUTSIDE and draws[i] < rate:
                # Never merge onto a token that starts with a stray mark: it would attach to our last letter.
                if i + 1 < n and tags[i + 1] == OUTSIDE and not starts_with_mark(sentence.tokens[i + 1]) and rng.random() < 0.5:
                    w.keep(i, tok + sentence.tokens[i + 1], kind="space-merge")
                    w.delete(i + 1, kind="space-merge")
                    i += 2
                    continue
                clusters = graphemes(tok)
                if len(clusters) >= 2:
                    cut = 1 + int(rng.integers(len(clusters) - 1))
                    w.keep(i, "".join(clusters[:cut]), kind="space-split")
                    w.insert("".join(clusters[cut:]), kind="space-split")
                    i += 1
                    continue
            w.keep(i)
            i += 1
        return w.build()
