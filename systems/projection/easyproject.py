"""EasyProject: mark-then-translate projection (Chen et al., 2023; systems.md §1).

The source entities are wrapped in typeless ``[ ]`` markers, the marked sentence is translated,
the markers are normalised and parsed in the output, and each bracketed span gets a type by
matching it against the entities translated one by one (exact, then fuzzy with difflib's ratio).
Sentences that fail a gate are dropped, never repaired; :class:`ProjectionReport` counts every
drop by reason so that nothing disappears silently.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from harness.data import Sentence, Span, iob2_from_spans
from systems.translators import Translator, simple_tokenize

OPEN, CLOSE = "[", "]"
UNKNOWN = "X"

DROP_REASONS = ("marker-count", "span-count", "ambiguous-type", "label-mismatch", "empty-translation")


def mark(tokens: Sequence[str], spans: Sequence[Span]) -> list[str]:
    """Insert ``[`` before and ``]`` after every entity (typeless markers; adjacent entities give ``] [``).

    >>> mark(["Ana", "Pérez", "visited", "Paris"], [Span(0, 2, "PER"), Span(3, 4, "LOC")])
    ['[', 'Ana', 'Pérez', ']', 'visited', '[', 'Paris', ']']
    """
    starts = {s.start for s in spans}
    ends = Counter(s.end for s in spans)
    out: list[str] = []
    for i, token in enumerate(tokens):
        out.extend([CLOSE] * ends.get(i, 0))
        if i in starts:
            out.append(OPEN)
        out.append(token)
    out.extend([CLOSE] * ends.get(len(tokens), 0))
    return out


_DOUBLE_OPEN = re.compile(r"\[\s*\[")
_DOUBLE_CLOSE = re.compile(r"\]\s*\]")


def normalise(text: str) -> str:
    """Normalise markers as the reference decoder does: unescape HTML, map 《》【】 to ``[ ]`` and
    collapse doubled brackets (``[[``, ``]]``, ``[ [``, ``] ]``) to one.

    >>> normalise("【Ana】 went to [[ Paris ] ] &amp; 《Rome》")
    '[Ana] went to [ Paris ] & [Rome]'
    """
    text = html.unescape(text)
    text = text.replace("《", "[").replace("【", "[").replace("》", "]").replace("】", "]")
    while True:
        collapsed = _DOUBLE_CLOSE.sub("]", _DOUBLE_OPEN.sub("[", text))
        if collapsed == text:
            return text
        text = collapsed


def parse_markers(tokens: Sequence[str]) -> tuple[list[str], list[tuple[int, int]]] | None:
    """Remove marker tokens; return the clean tokens and the bracketed ``[start, end)`` ranges.

    Returns ``None`` when the markers are not well nested (a ``[`` inside an open span, a ``]``
    without an open span, or an unclosed ``[``). Empty brackets yield no range.

    >>> parse_markers(["[", "Ana", "]", "yaje", "[", "Kano", "]"])
    (['Ana', 'yaje', 'Kano'], [(0, 1), (2, 3)])
    >>> parse_markers(["[", "Ana", "[", "Kano", "]"]) is None
    True
    """
    clean: list[str] = []
    ranges: list[tuple[int, int]] = []
    start: int | None = None
    for token in tokens:
        if token == OPEN:
            if start is not None:
                return None
            start = len(clean)
        elif token == CLOSE:
            if start is None:
                return None
            if len(clean) > start:
                ranges.append((start, len(clean)))
            start = None
        else:
            clean.append(token)
    if start is not None:
        return None
    return clean, ranges


def ratio(a: str, b: str) -> float:
    """difflib's Ratcliff-Obershelp similarity ``2M / (|a| + |b|)``.

    >>> round(ratio("kano", "kanu"), 2)
    0.75
    """
    return SequenceMatcher(None, a, b).ratio()


def assign_types(
    bracketed: Sequence[str],
    source_entities: Sequence[tuple[str, str]],
    entity_translations: Sequence[str],
    *,
    threshold: float = 0.5,
) -> list[str] | None:
    """Types of the bracketed target strings (systems.md §1 step 5), or ``None`` to drop the sentence.

    With one entity, or when all entities share one type, the source types are copied in order.
    Otherwise each bracketed string (lower-cased) takes the type of the first match among: an exact
    match with a separately translated entity; an exact match with an English entity string; the
    first translated entity with ``ratio > threshold``; the first English entity with ``ratio >
    threshold``; else it is unknown. A single unknown takes the one label left in the multiset of
    source labels; two or more unknowns drop the sentence.

    Args:
        bracketed: target strings inside the markers, in target order.
        source_entities: ``(English text, type)`` of the source entities, in source order.
        entity_translations: each source entity translated alone, same order.

    >>> assign_types(["abuja", "bello"], [("Bello", "PER"), ("Abuja", "LOC")], ["Bello", "Abuja"])
    ['LOC', 'PER']
    """
    labels = [label for _, label in source_entities]
    if len(source_entities) == 1 or len(set(labels)) == 1:
        return list(labels)
    translated = [t.lower() for t in entity_translations]
    english = [e.lower() for e, _ in source_entities]
    out: list[str] = []
    for raw in bracketed:
        b = raw.lower()
        match = next((k for k, t in enumerate(translated) if t == b), None)
        if match is None:
            match = next((k for k, e in enumerate(english) if e == b), None)
        if match is None:
            match = next((k for k, t in enumerate(translated) if ratio(b, t) > threshold), None)
        if match is None:
            match = next((k for k, e in enumerate(english) if ratio(b, e) > threshold), None)
        out.append(labels[match] if match is not None else UNKNOWN)
    unknown = out.count(UNKNOWN)
    if unknown == 0:
        return out
    if unknown > 1:
        return None
    left = Counter(labels) - Counter(label for label in out if label != UNKNOWN)
    if sum(left.values()) != 1:
        return None
    remaining = next(iter(left))
    return [remaining if label == UNKNOWN else label for label in out]


@dataclass
class ProjectionReport:
    """Counts of a projection run: kept sentences and drops by reason (never hidden)."""

    total: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    def add(self, reason: str | None) -> None:
        self.total += 1
        if reason is None:
            self.kept += 1
        else:
            self.dropped[reason] += 1

    def merge(self, other: ProjectionReport) -> ProjectionReport:
        return ProjectionReport(self.total + other.total, self.kept + other.kept, self.dropped + other.dropped)

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, "kept": self.kept, **{f"dropped_{k}": v for k, v in sorted(self.dropped.items())}}


def decode(
    source: Sentence,
    marked_translation: str,
    entity_translations: Sequence[str],
    *,
    target_id: str,
    target_lang: str,
    threshold: float = 0.5,
) -> tuple[Sentence | None, str | None]:
    """Turn one marked translation into a labelled target sentence, or give the drop reason.

    >>> src = Sentence("s/eng/0", "eng", ("Bello", "visited", "Abuja"), ("B-PER", "O", "B-LOC"))
    >>> out, why = decode(src, "[Bello] ya ziyarci [Abuja] .", ["Bello", "Abuja"], target_id="t/0", target_lang="hau")
    >>> out.tags, why
    (('B-PER', 'O', 'O', 'B-LOC', 'O'), None)
    """
    entities = source.spans
    text = normalise(marked_translation)
    tokens = simple_tokenize(text)
    if not [t for t in tokens if t not in (OPEN, CLOSE)]:
        return None, "empty-translation"
    n = len(entities)
    if tokens.count(OPEN) != n or tokens.count(CLOSE) != n:
        return None, "marker-count"
    parsed = parse_markers(tokens)
    if parsed is None or len(parsed[1]) != n:
        return None, "span-count"
    clean, ranges = parsed
    bracketed = [" ".join(clean[a:b]) for a, b in ranges]
    source_entities = [(source.mention_text(s), s.label) for s in entities]
    types = assign_types(bracketed, source_entities, entity_translations, threshold=threshold)
    if types is None:
        return None, "ambiguous-type"
    # Final gate (step 6): the multiset of labels, hence the per-type counts, must equal the source's.
    if sorted(types) != sorted(s.label for s in entities):
        return None, "label-mismatch"
    spans = [Span(a, b, label) for (a, b), label in zip(ranges, types, strict=True)]
    return Sentence(target_id, target_lang, tuple(clean), iob2_from_spans(spans, len(clean))), None


def project_easyproject(
    sources: Sequence[Sentence],
    translator: Translator,
    *,
    tgt_lang: str,
    src_lang: str = "eng",
    threshold: float = 0.5,
    id_prefix: str = "easyproject",
) -> tuple[list[Sentence], ProjectionReport]:
    """Project labelled source sentences into ``tgt_lang`` by mark-then-translate.

    Every entity string is also translated alone, without context (step 2). Returns the kept target
    sentences and a report of the drops.
    """
    marked = [mark(s.tokens, s.spans) for s in sources]
    translations = translator.translate(marked, src_lang=src_lang, tgt_lang=tgt_lang)
    entity_tokens = [list(s.tokens[span.start : span.end]) for s in sources for span in s.spans]
    entity_out = translator.translate(entity_tokens, src_lang=src_lang, tgt_lang=tgt_lang) if entity_tokens else []
    report = ProjectionReport()
    kept: list[Sentence] = []
    cursor = 0
    for k, (source, translation) in enumerate(zip(sources, translations, strict=True)):
        n = len(source.spans)
        ents = [" ".join(t.tokens) for t in entity_out[cursor : cursor + n]]
        cursor += n
        text = translation.text if translation.text is not None else " ".join(translation.tokens)
        sentence, reason = decode(
            source, text, ents, target_id=f"{id_prefix}/{tgt_lang}/{k}", target_lang=tgt_lang, threshold=threshold
        )
        report.add(reason)
        if sentence is not None:
            kept.append(sentence)
    return kept, report
