"""The data model: sentences of tokens with IOB2 tags, and entity spans over token indices.

A ``Span`` is ``(start, end, label)`` with an exclusive end, as in spaCy. Tags are IOB2. There is
exactly one decoder, :func:`spans_from_iob2`, and it is strict in the sense of seqeval's
``mode="strict", scheme=IOB2``: a span starts only at ``B-X`` and continues over ``I-X`` of the
same type; an ``I-X`` that does not continue an ``X`` span starts nothing and is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from harness.errors import DataFormatError

OUTSIDE = "O"
_TAG_RE = re.compile(r"^(?:O|[BI]-\S+)$")
# Only these characters separate tokens in CoNLL files. Python's str.split() also splits on
# U+0085 and other controls that occur *inside* real MasakhaNER tokens, so never use it on data.
_TOKEN_BREAK_RE = re.compile(r"[ \t\r\n]")
# C0 controls (NUL, ESC, ...) and DEL are rejected inside tokens. The invisible characters that do
# occur in real tokens are accepted: C1 controls such as U+0081/U+0085/U+008D (mis-decoded
# cp1252 in MasakhaNER) and format characters (U+200B zero-width space, U+200F RLM, ZWJ/ZWNJ).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """An entity mention over token indices ``[start, end)``.

    >>> Span(0, 2, "PER").length
    2
    """

    start: int
    end: int  # exclusive
    label: str

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end):
            raise DataFormatError(f"span [{self.start}, {self.end}) must have 0 <= start < end")
        if not self.label or any(c.isspace() for c in self.label):
            raise DataFormatError(f"span label {self.label!r} must be a non-empty word")

    @property
    def length(self) -> int:
        return self.end - self.start


def spans_from_iob2(tags: Sequence[str]) -> list[Span]:
    """Decode IOB2 tags into spans, strictly (seqeval strict IOB2 semantics).

    Orphan ``I-X`` tags (after ``O`` or after another type) are ignored, exactly as seqeval's strict
    mode ignores them. Use :func:`orphan_positions` to find them.

    >>> spans_from_iob2(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"])
    [Span(start=0, end=2, label='PER'), Span(start=4, end=5, label='LOC')]
    """
    spans: list[Span] = []
    start = -1
    label = ""
    for i, tag in enumerate(tags):
        if tag.startswith("I-") and start >= 0 and tag[2:] == label:
            continue
        if start >= 0:
            spans.append(Span(start, i, label))
            start = -1
        if tag.startswith("B-"):
            start, label = i, tag[2:]
    if start >= 0:
        spans.append(Span(start, len(tags), label))
    return spans


def iob2_from_spans(spans: Iterable[Span], length: int) -> tuple[str, ...]:
    """Encode non-overlapping spans as IOB2 tags of ``length`` tokens.

    >>> iob2_from_spans([Span(1, 3, "LOC")], 4)
    ('O', 'B-LOC', 'I-LOC', 'O')
    """
    tags = [OUTSIDE] * length
    for span in sorted(spans):
        if span.end > length:
            raise DataFormatError(f"span {span} ends after the sentence ({length} tokens)")
        if any(tags[i] != OUTSIDE for i in range(span.start, span.end)):
            raise DataFormatError(f"span {span} overlaps another span")
        tags[span.start] = f"B-{span.label}"
        for i in range(span.start + 1, span.end):
            tags[i] = f"I-{span.label}"
    return tuple(tags)


def orphan_positions(tags: Sequence[str]) -> list[int]:
    """Indices of ``I-X`` tags that do not continue an ``X`` span.

    >>> orphan_positions(["O", "I-PER", "B-LOC", "I-PER"])
    [1, 3]
    """
    out = []
    previous = OUTSIDE
    for i, tag in enumerate(tags):
        if tag.startswith("I-") and (previous == OUTSIDE or previous[2:] != tag[2:]):
            out.append(i)
        previous = tag
    return out


def tag_errors(tags: Sequence[str]) -> list[str]:
    """Describe every way ``tags`` is not valid IOB2 (empty list when valid).

    >>> tag_errors(["B-PER", "I-LOC", "X"])
    ["token 2: 'X' is not O, B-<type> or I-<type>"]
    >>> tag_errors(["B-PER", "I-LOC"])
    ["token 1: 'I-LOC' continues no LOC span (orphan I- tag)"]
    """
    errors = []
    orphans = set()
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not _TAG_RE.match(tag):
            errors.append(f"token {i}: {tag!r} is not O, B-<type> or I-<type>")
    if not errors:
        orphans = set(orphan_positions(tags))
    for i in sorted(orphans):
        errors.append(f"token {i}: {tags[i]!r} continues no {tags[i][2:]} span (orphan I- tag)")
    return errors


def is_valid_iob2(tags: Sequence[str]) -> bool:
    """True when every tag is well formed and no ``I-X`` is an orphan."""
    return not tag_errors(tags)


@dataclass(frozen=True, slots=True)
class Sentence:
    """One tokenised sentence with gold IOB2 tags, validated on construction.

    Args:
        id: a stable path-like id, e.g. ``masakhaner2/yor/test/412``.
        lang: ISO 639-3 code.
        tokens: the words (no whitespace inside a token).
        tags: IOB2 tags, one per token. Use all-``O`` tags for unlabelled text.

    >>> s = Sentence("demo/yor/test/0", "yor", ("Adé", "lọ", "sí", "Èkó"), ("B-PER", "O", "O", "B-LOC"))
    >>> s.spans
    (Span(start=0, end=1, label='PER'), Span(start=3, end=4, label='LOC'))
    """

    id: str
    lang: str
    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    spans: tuple[Span, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept lists for convenience but store tuples: the object must stay immutable and hashable.
        if not isinstance(self.tokens, tuple):
            object.__setattr__(self, "tokens", tuple(self.tokens))
        if not isinstance(self.tags, tuple):
            object.__setattr__(self, "tags", tuple(self.tags))
        if len(self.tokens) != len(self.tags):
            raise DataFormatError(
                f"{len(self.tokens)} tokens but {len(self.tags)} tags", sentence_id=self.id
            )
        for i, token in enumerate(self.tokens):
            if not isinstance(token, str) or not token or _TOKEN_BREAK_RE.search(token):
                raise DataFormatError(
                    f"token {i} {token!r} is empty or contains whitespace", sentence_id=self.id
                )
            control = _CONTROL_RE.search(token)
            if control:
                raise DataFormatError(
                    f"token {i} {token!r} contains the control character U+{ord(control.group()):04X}; only "
                    "visible text and the documented invisible characters (C1 controls, zero-width and "
                    "direction marks) may occur in tokens",
                    sentence_id=self.id,
                )
        errors = tag_errors(self.tags)
        if errors:
            raise DataFormatError("invalid IOB2: " + "; ".join(errors), sentence_id=self.id)
        object.__setattr__(self, "spans", tuple(spans_from_iob2(self.tags)))

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    def with_tags(self, tags: Sequence[str]) -> Sentence:
        """The same sentence with other tags (e.g. predictions)."""
        return Sentence(self.id, self.lang, self.tokens, tuple(tags))

    def unlabelled(self) -> Sentence:
        """The same sentence with all tags ``O`` (what a system sees)."""
        return Sentence(self.id, self.lang, self.tokens, (OUTSIDE,) * len(self.tokens))

    def mention_text(self, span: Span) -> str:
        return " ".join(self.tokens[span.start : span.end])


def entity_labels(tags: Iterable[str]) -> set[str]:
    """The entity types used in ``tags``.

    >>> sorted(entity_labels(["B-PER", "O", "I-LOC"]))
    ['LOC', 'PER']
    """
    return {t[2:] for t in tags if t != OUTSIDE}
