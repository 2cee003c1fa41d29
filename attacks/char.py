"""Character-level perturbations on grapheme clusters: keyboard typos, insertion, deletion,
substitution, adjacent swap, OCR confusions and homoglyphs.

Every operation works on extended grapheme clusters (:func:`attacks.text.graphemes`), so a tone
mark never migrates to another letter and no token is split or merged. Keyboard layouts, OCR
confusions and homoglyphs are data files in ``attacks/resources`` with their sources.

Severity is the share of eligible tokens edited (``DEFAULT_SEVERITY_RATES``); at severity 4 and 5
each chosen token gets two edits instead of one.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import ClassVar

import numpy as np

from harness.params import Annotated, Range

from attacks.base import SCOPES, TokenPerturbation, _check_choice, pick
from attacks.text import graphemes, starts_with_mark, strip_marks

OPS: tuple[str, ...] = ("keyboard", "insert", "delete", "swap", "substitute")


@dataclass(frozen=True, slots=True)
class Keyboard:
    """A keyboard layout: which keys neighbour each letter, and modifier variants on the same key."""

    name: str
    source: str
    neighbours: Mapping[str, tuple[str, ...]]
    variants: Mapping[str, tuple[str, ...]]
    languages: frozenset[str]

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(sorted(self.neighbours))


def _resource_text(name: str) -> str:
    return resources.files("attacks").joinpath("resources", name).read_text(encoding="utf-8")


@functools.cache
def keyboards() -> dict[str, Keyboard]:
    """All keyboard layouts from ``resources/keyboards.json`` (neighbours computed from rows)."""
    raw = json.loads(_resource_text("keyboards.json"))
    out = {}
    offsets = (0.0, 0.25, 0.75)  # ANSI/ISO row stagger
    for name, spec in raw.items():
        if name.startswith("_"):
            continue
        pos = {}
        for r, row in enumerate(spec["rows"]):
            for c, key in enumerate(row):
                pos[key] = (r, c + offsets[r])
        neighbours = {}
        for key, (r, x) in pos.items():
            near = sorted(
                k
                for k, (r2, x2) in pos.items()
                if k != key and ((r2 == r and abs(x2 - x) == 1) or (abs(r2 - r) == 1 and abs(x2 - x) <= 1))
            )
            neighbours[key] = tuple(near)
        variants = {k: tuple(v) for k, v in spec.get("altgr", {}).items()}
        out[name] = Keyboard(name, spec["source"], neighbours, variants, frozenset(spec["languages"]))
    return out


def keyboard_for(lang: str) -> str | None:
    """The layout name used for ``lang`` when ``layout="auto"``, or ``None``.

    >>> keyboard_for("yor"), keyboard_for("fon"), keyboard_for("swa")
    ('yoruba', 'azerty', 'swahili')
    """
    for name, kb in keyboards().items():
        if lang in kb.languages:
            return name
    return None


def _match_case(template: str, letter: str) -> str:
    return letter.upper() if template[:1].isupper() else letter


@functools.lru_cache(maxsize=65536)
def _key_options(layout: str, cluster: str) -> tuple[str, ...]:
    """Keys a slip can produce instead of ``cluster``: neighbours and modifier variants of its
    base letter, in the cluster's case, excluding the cluster itself."""
    kb = keyboards()[layout]
    base = strip_marks(cluster).lower()
    options = kb.neighbours.get(base, ()) + kb.variants.get(base, ())
    return tuple(dict.fromkeys(o for o in (_match_case(cluster, x) for x in options) if o != cluster))


@functools.cache
def _tsv_pairs(name: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for line in _resource_text(name).split("\n"):
        if not line or line.startswith("#"):
            continue
        src, dst = line.split("\t")
        pairs.append((unicodedata.normalize("NFC", src), unicodedata.normalize("NFC", dst)))
    return tuple(pairs)


class CharPerturbation(TokenPerturbation):
    """Shared parameters of the character perturbations.

    Args:
        severity: 1-5, share of eligible tokens edited.
        target: ``"context"``, ``"entity"`` or ``"both"`` (which tokens may change).
        layout: a layout name from ``resources/keyboards.json`` or ``"auto"`` (chosen per
            language; languages without a layout are refused).
        min_length: tokens with fewer grapheme clusters are left alone (short function words and
            punctuation would otherwise dominate).
    """

    family = "char"
    rate_over_applicable = False
    default_target: ClassVar[str] = "both"
    needs_layout: ClassVar[bool] = False

    def __init__(
        self, severity: int = 2, target: str | None = None, layout: str = "auto", min_length: Annotated[int, Range(1)] = 2
    ) -> None:
        super().__init__(severity=severity)
        self.target = self.default_target if target is None else target
        _check_choice(self, "target", self.target, SCOPES)
        self.scope = self.target  # type: ignore[assignment]
        self.layout = layout
        _check_choice(self, "layout", layout, ("auto", *keyboards()))
        self.min_length = int(min_length)
        self._lang_layout: dict[str, Keyboard] = {}

    @property
    def languages(self) -> frozenset[str] | None:  # type: ignore[override]
        if self.needs_layout and self.layout == "auto":
            return frozenset().union(*(kb.languages for kb in keyboards().values()))
        return None

    def keyboard(self, lang: str) -> Keyboard:
        name = self.layout if self.layout != "auto" else (keyboard_for(lang) or "qwerty")
        return keyboards()[name]

    def applicable(self, token: str) -> bool:
        n = self.min_length
        if len(token) < n:
            return False
        return token.isascii() or len(graphemes(token)) >= n

    def perturb(self, sentence, rng):  # type: ignore[no-untyped-def]
        self._kb = self.keyboard(sentence.lang)
        return super().perturb(sentence, rng)

    def perturb_at(self, sentence, indices, rng):  # type: ignore[no-untyped-def]
        self._kb = self.keyboard(sentence.lang)
        return super().perturb_at(sentence, indices, rng)

    @property
    def edits_per_token(self) -> int:
        return 2 if self.severity >= 4 else 1

    def edit_token(self, token: str, rng: np.random.Generator) -> str:
        clusters = list(graphemes(token))
        for _ in range(self.edits_per_token):
            clusters = self.edit_clusters(clusters, rng)
        return "".join(clusters)

    def edit_clusters(self, clusters: list[str], rng: np.random.Generator) -> list[str]:
        raise NotImplementedError

    # --- the primitive operations, shared by the subclasses --------------------------------------

    def _alphabet(self, clusters: list[str]) -> tuple[str, ...]:
        """Letters to insert/substitute: the layout's for Latin tokens, the token's own otherwise."""
        if all(strip_marks(c).isascii() for c in clusters):
            return self._kb.letters
        return tuple(sorted(set(clusters)))

    def op_keyboard(self, clusters: list[str], rng: np.random.Generator) -> list[str]:
        kb = self._kb
        candidates = [(i, o) for i, c in enumerate(clusters) if (o := _key_options(kb.name, c))]
        if not candidates:
            return clusters
        i, options = candidates[pick(rng, len(candidates))]
        out = list(clusters)
        out[i] = options[pick(rng, len(options))]
        return out

    def op_insert(self, clusters: list[str], rng: np.random.Generator) -> list[str]:
        # A fat-finger insertion: a neighbour of the key next to the insertion point, or (for
        # scripts without a layout) a doubled cluster. Never in front of a stray leading mark
        # (real tokens such as a lone U+0301 exist): the mark would attach to the new letter.
        lead = 1 if clusters and starts_with_mark(clusters[0]) else 0
        pos = lead + pick(rng, len(clusters) + 1 - lead)
        anchor = clusters[min(pos, len(clusters) - 1)] if clusters else ""
        options = self._kb.neighbours.get(strip_marks(anchor).lower(), ())
        if options:
            new = _match_case(anchor, options[pick(rng, len(options))]) if pos == 0 else options[pick(rng, len(options))]
        elif anchor:
            new = anchor
        else:
            return clusters
        return [*clusters[:pos], new, *clusters[pos:]]

    def op_delete(self, clusters: list[str], rng: np.random.Generator) -> list[str]:
        if len(clusters) < 2:
            return clusters
        i = pick(rng, len(clusters))
        return clusters[:i] + clusters[i + 1 :]

    def op_swap(self, clusters: list[str], rng: np.random.Generator) -> list[str]:
        # A cluster that starts with a mark (a stray leading mark) must not move: it would attach
        # to whatever letter ends up before it.
        pairs = [
            i
            for i in range(len(clusters) - 1)
            if clusters[i] != clusters[i + 1] and not starts_with_mark(clusters[i]) and not starts_with_mark(clusters[i + 1])
        ]
        if not pairs:
            return clusters
        i = pairs[pick(rng, len(pairs))]
        out = list(clusters)
        out[i], out[i + 1] = out[i + 1], out[i]
        return out

    def op_substitute(self, clusters: list[str], rng: np.random.Generator) -> list[str]:
        if not clusters:
            return clusters
        alphabet = self._alphabet(clusters)
        i = pick(rng, len(clusters))
        options = [a for a in alphabet if _match_case(clusters[i], a) != clusters[i]]
        if not options:
            return clusters
        out = list(clusters)
        out[i] = _match_case(clusters[i], options[pick(rng, len(options))])
        return out


class CharTypos(CharPerturbation):
    """Realistic typing errors: keyboard slips (neighbouring key or modifier variant, e.g. ``e``→``ẹ``
    on a Yoruba layout), fat-finger insertions, deletions and adjacent swaps, on grapheme clusters.

    The operation mix follows the four classic typo classes (Damerau 1964): substitution,
    insertion, deletion, transposition. Keyboard layout per language (``layout="auto"``).

    >>> import numpy as np
    >>> from harness.data import Sentence
    >>> s = Sentence("d/yor/0", "yor", ("Ọ̀gbẹ́ni", "Adéwálé", "lọ"), ("O", "B-PER", "O"))
    >>> p = CharTypos(severity=5).perturb(s, np.random.default_rng(3))
    >>> all(len(t) > 0 for t in p.sentence.tokens), p.sentence.tags == s.tags
    (True, True)
    """

    name = "char-typos.v1"
    description = "keyboard typos (per-language layout), insertions, deletions, adjacent swaps"
    edit_kind = "char-typo"
    needs_layout = True
    _OPS: ClassVar[tuple[str, ...]] = ("keyboard", "insert", "delete", "swap")
    _WEIGHTS: ClassVar[tuple[float, ...]] = (0.4, 0.2, 0.2, 0.2)

    def edit_clusters(self, clusters: list[str], rng: np.random.Generator) -> list[str]:
        u = rng.random()
        acc = 0.0
        for op, w in zip(self._OPS, self._WEIGHTS, strict=True):
            acc += w
            if u < acc:
                return getattr(self, f"op_{op}")(clusters, rng)
        return clusters


class EntityTypos(CharTypos):
    """``char-typos.v1`` restricted to entity tokens (tests reliance on exact surface forms)."""

    name = "entity-typos.v1"
    family = "entity"
    description = "typos inside entity mentions only"
    default_target = "entity"


class CharKeyboard(CharPerturbation):
    """Keyboard slips only: a neighbouring key, or a modifier variant on the same key."""

    name = "char-keyboard.v1"
    description = "keyboard neighbour / modifier-variant substitution (per-language layout)"
    edit_kind = "char-keyboard"
    needs_layout = True

    def edit_clusters(self, clusters: list[str], rng: np.random.Generator) -> list[str]:
        return self.op_keyboard(clusters, rng)


class CharInsert(CharPerturbation):
    """Insert one cluster (a key next to its neighbour, or a doubled cluster in other scripts)."""

    name = "char-insert.v1"
    description = "insert one character (grapheme cluster)"
    edit_kind = "char-insert"

    def edit_clusters(self, clusters: list[str], rng: np.random.Generator) -> list[str]:
        return self.op_insert(clusters, rng)


class CharDelete(CharPerturbation):
    """Delete one grapheme cluster (never the last one)."""

    name = "char-delete.v1"
    description = "delete one character (grapheme cluster)"
    edit_kind = "char-delete"

    def edit_clusters(self, clusters: list[str], rng: np.random.Generator) -> list[str]:
        return self.op_delete(clusters, rng)


class CharSubstitute(CharPerturbation):
    """Replace one cluster by a random letter of the layout (own clusters for non-Latin tokens)."""

    name = "char-substitute.v1"
    description = "substitute one character by a random letter"
    edit_kind = "char-substitute"

    def edit_clusters(self, clusters: list[str], rng: np.random.Generator) -> list[str]:
        return self.op_substitute(clusters, rng)


class CharSwap(CharPerturbation):
    """Swap two adjacent, different grapheme clusters."""

    name = "char-swap.v1"
    description = "swap two adjacent characters (grapheme clusters)"
    edit_kind = "char-swap"

    def edit_clusters(self, clusters: list[str], rng: np.random.Generator) -> list[str]:
        return self.op_swap(clusters, rng)


class _TableReplace(CharPerturbation):
    """Replace one matching cluster sequence using a (source, replacement) table."""

    table_file: ClassVar[str] = ""
    keep_marks: ClassVar[bool] = False

    def _pairs(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        return tuple((graphemes(src), dst) for src, dst in _tsv_pairs(self.table_file))

    def applicable(self, token: str) -> bool:
        return super().applicable(token) and bool(self._matches(list(graphemes(token))))

    def _matches(self, clusters: list[str]) -> list[tuple[int, int, str]]:
        found = []
        keys = [strip_marks(c) if self.keep_marks else unicodedata.normalize("NFC", c) for c in clusters]
        for src, dst in self._pairs():
            n = len(src)
            for i in range(len(clusters) - n + 1):
                if tuple(keys[i : i + n]) == src:
                    found.append((i, n, dst))
        return found

    def edit_clusters(self, clusters: list[str], rng: np.random.Generator) -> list[str]:
        found = self._matches(clusters)
        if not found:
            return clusters
        i, n, dst = found[pick(rng, len(found))]
        if self.keep_marks:
            # One cluster for one: the look-alike letter keeps the tone marks and dots of the original.
            decomposed = unicodedata.normalize("NFD", clusters[i])
            return [*clusters[:i], dst + "".join(c for c in decomposed if unicodedata.combining(c)), *clusters[i + n :]]
        return [*clusters[:i], *graphemes(dst), *clusters[i + n :]]


class CharOCR(_TableReplace):
    """OCR confusions (``rn``→``m``, ``l``→``1``, ``ẹ``→``e`` ...), table in ``resources/ocr_confusions.tsv``."""

    name = "char-ocr.v1"
    description = "OCR confusions (rn/m, l/1, O/0, dropped dots below)"
    edit_kind = "char-ocr"
    table_file = "ocr_confusions.tsv"


class CharHomoglyph(_TableReplace):
    """Latin letters replaced by identical-looking Cyrillic/Greek letters (UTS #39 confusables);
    tone marks stay on the replaced letter."""

    name = "char-homoglyph.v1"
    description = "Latin letter -> Cyrillic/Greek look-alike (marks kept)"
    edit_kind = "char-homoglyph"
    table_file = "homoglyphs.tsv"
    keep_marks = True

    def _pairs(self) -> tuple[tuple[tuple[str, ...], str], ...]:
        return tuple(((src,), dst) for src, dst in _tsv_pairs(self.table_file))
