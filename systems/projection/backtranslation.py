"""Back-translation refinement, "tgt2tgt" (Politov et al. 2025, arXiv 2501.18750; systems.md §2c).

1. Translate the target sentence t into English e and tag e with an English NER system.
2. Bracket the entities of e and translate the marked sentence back: t′. Types come from fuzzy
   matching (ratio > 0.5) of each bracketed span against the entities back-translated one by one.
3. Align t′ with t (same language, so alignment is easier: surface matching works).
4. Project the spans of t′ onto t with the heuristic (§2b) or the ILP (§3).

Deviation: the reference code never updates its running maximum while matching types, so it takes
the *last* entity above 0.5; we take the best-scoring one, the evident intent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.data import Sentence, Span, iob2_from_spans
from systems.aligners import Aligner, Alignment
from systems.base import NERSystem
from systems.projection.alignment import project_by_alignment
from systems.projection.easyproject import CLOSE, OPEN, mark, normalise, parse_markers, ratio
from systems.projection.ilp import project_by_ilp
from systems.translators import Translator, simple_tokenize


@dataclass(frozen=True, slots=True)
class BackTranslation:
    """Intermediate results for one target sentence (kept for inspection and tests)."""

    english: tuple[str, ...]
    english_spans: tuple[Span, ...]
    back_tokens: tuple[str, ...]
    back_spans: tuple[Span, ...]
    alignment: Alignment
    spans: tuple[Span, ...]


def best_type(text: str, candidates: Sequence[tuple[str, str]], threshold: float = 0.5) -> str | None:
    """Type of the best fuzzy match above ``threshold`` among ``(back-translated entity, type)``.

    >>> best_type("Abuja", [("Bello", "PER"), ("Abujah", "LOC")])
    'LOC'
    """
    scored = [(ratio(text.lower(), c.lower()), label) for c, label in candidates]
    best = max(scored, default=(0.0, None), key=lambda x: x[0])
    return best[1] if best[0] > threshold else None


def back_translate_project(
    sentences: Sequence[Sentence],
    *,
    translator: Translator,
    source_system: NERSystem,
    aligner: Aligner,
    lang: str,
    method: str = "politov",
    threshold: float = 0.5,
) -> list[BackTranslation]:
    """Label target sentences by tgt2tgt back-translation (see the module docstring).

    ``method``: ``politov``/``garcia`` (alignment heuristic) or ``ilp``/``ilp-greedy``.
    """
    forward = translator.translate([s.tokens for s in sentences], src_lang=lang, tgt_lang="eng")
    english = [
        Sentence(f"{s.id}#eng", "eng", t.tokens, ("O",) * len(t.tokens)) for s, t in zip(sentences, forward, strict=True)
    ]
    english_tags = source_system.predict(english) if english else []
    english_tagged = [e.with_tags(tags) for e, tags in zip(english, english_tags, strict=True)]
    marked = [mark(e.tokens, e.spans) for e in english_tagged]
    back = translator.translate(marked, src_lang="eng", tgt_lang=lang)
    entities = [list(e.tokens[sp.start : sp.end]) for e in english_tagged for sp in e.spans]
    entity_back = translator.translate(entities, src_lang="eng", tgt_lang=lang) if entities else []
    back_tokens: list[tuple[str, ...]] = []
    back_spans: list[tuple[Span, ...]] = []
    cursor = 0
    for e, b in zip(english_tagged, back, strict=True):
        n = len(e.spans)
        candidates = [(" ".join(t.tokens), sp.label) for t, sp in zip(entity_back[cursor : cursor + n], e.spans, strict=True)]
        cursor += n
        text = b.text if b.text is not None else " ".join(b.tokens)
        tokens = simple_tokenize(normalise(text))
        parsed = parse_markers(tokens)
        if parsed is None:
            # Marker loss (EasyProject's failure mode, inherited here): nothing to project.
            clean = [t for t in tokens if t not in (OPEN, CLOSE)]
            back_tokens.append(tuple(clean))
            back_spans.append(())
            continue
        clean, ranges = parsed
        spans = []
        for a, z in ranges:
            if len(ranges) == n == 1:
                label: str | None = e.spans[0].label
            else:
                label = best_type(" ".join(clean[a:z]), candidates, threshold)
            if label is not None:
                spans.append(Span(a, z, label))
        back_tokens.append(tuple(clean))
        back_spans.append(tuple(spans))
    alignments = aligner.align(back_tokens, [s.tokens for s in sentences])
    out = []
    for s, e, bt, bs, links in zip(sentences, english_tagged, back_tokens, back_spans, alignments, strict=True):
        if method in ("politov", "garcia"):
            spans = project_by_alignment(bs, s.tokens, links, method=method)
        else:
            spans = project_by_ilp(bs, s.tokens, links, solver="greedy" if method == "ilp-greedy" else "exact")
        out.append(BackTranslation(e.tokens, e.spans, bt, bs, tuple(links), tuple(spans)))
    return out


def tags_of(result: BackTranslation, length: int) -> tuple[str, ...]:
    """IOB2 tags of the projected spans over a target sentence of ``length`` tokens."""
    return iob2_from_spans(result.spans, length)
