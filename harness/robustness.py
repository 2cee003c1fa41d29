"""Robustness figures rebuilt from per-sentence span counts (anchors.md, table (b), "Adapting").

For one perturbation p, with S the sentences p actually changed and N all sentences:

* clean F1 and perturbed F1 **on S** (TextFlint ori_/trans_, HELM "before"): comparing on the same
  items, so an attack that touches few sentences is not diluted by the untouched ones;
* ΔF1 = clean − perturbed; relative drop ΔF1/clean (= PromptBench's PDR); recall drop;
* coverage |S|/N (NL-Augmenter);
* consistency: share of sentences in S whose predicted span set is unchanged once the clean
  prediction is mapped through the perturbation's token alignment (CheckList INV);
* a paired bootstrap CI over the sentences of S for ΔF1.

Across a family of perturbations, worst-case F1 picks, for each sentence, the variant (clean
included) with the most errors (FP + FN; ties broken by perturbation name), sums the counts and
computes F1 once — HELM's worst-case rebuilt for a corpus-level metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from harness.data import Span, spans_from_iob2
from harness.metrics import SpanCounts, paired_bootstrap_delta
from harness.store import SentenceOutcome


@dataclass(frozen=True, slots=True)
class RobustnessRow:
    n_sentences: int
    n_changed: int
    coverage: float
    clean_f1: float
    perturbed_f1: float
    delta_f1: float
    relative_drop: float
    clean_recall: float
    perturbed_recall: float
    recall_drop: float
    consistency: float
    delta_ci_low: float
    delta_ci_high: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def map_spans(
    spans: Sequence[Span],
    alignment: Sequence[int | None],
    span_map: Sequence[tuple[int, int, int, int]] = (),
) -> set[Span]:
    """Carry spans through a perturbation: a replaced mention (``span_map``) maps to its
    replacement, any other span through the token alignment. A span with a deleted token, or whose
    tokens are no longer contiguous, becomes an impossible marker so that it never matches.

    >>> sorted(map_spans([Span(0, 2, "PER")], [1, 2, 3]))
    [Span(start=1, end=3, label='PER')]
    >>> sorted(map_spans([Span(0, 2, "PER")], [0, None], [(0, 2, 0, 1)]))
    [Span(start=0, end=1, label='PER')]
    """
    replaced = {(s, e): (ns, ne) for s, e, ns, ne in span_map}
    out: set[Span] = set()
    for span in spans:
        if (span.start, span.end) in replaced:
            new_start, new_end = replaced[(span.start, span.end)]
            out.add(Span(new_start, new_end, span.label))
            continue
        mapped = [alignment[i] if i < len(alignment) else None for i in range(span.start, span.end)]
        if any(m is None for m in mapped) or any(b != a + 1 for a, b in zip(mapped, mapped[1:])):  # type: ignore[operator]
            out.add(Span(0, 1, f"\0unmappable-{span.start}-{span.label}"))
            continue
        out.add(Span(mapped[0], mapped[-1] + 1, span.label))  # type: ignore[operator]
    return out


def _sum(outcomes: Sequence[SentenceOutcome]) -> SpanCounts:
    total = SpanCounts()
    for outcome in outcomes:
        total = total + outcome.total
    return total


def robustness_row(
    clean: Sequence[SentenceOutcome],
    perturbed: Sequence[SentenceOutcome],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> RobustnessRow:
    """Robustness of one perturbation cell against its clean cell (same system, language, seed)."""
    clean_by_id = {o.sentence_id: o for o in clean}
    changed = [o for o in perturbed if o.changed and o.sentence_id in clean_by_id]
    before = [clean_by_id[o.sentence_id] for o in changed]
    clean_counts, pert_counts = _sum(before), _sum(changed)
    consistent = 0
    for b, a in zip(before, changed, strict=True):
        alignment = a.alignment if a.alignment is not None else tuple(range(len(b.tokens)))
        if map_spans(spans_from_iob2(b.pred), alignment, a.span_map) == set(spans_from_iob2(a.pred)):
            consistent += 1
    interval = paired_bootstrap_delta(
        [o.total for o in before], [o.total for o in changed], resamples=resamples, seed=seed
    )
    n = len(perturbed)
    if not changed:
        # Nothing was perturbed (e.g. dropping diacritics from Hausa text that has none): the
        # perturbed corpus *is* the clean corpus, so report its F1 on both sides, not 0/0.
        whole = _sum([o for o in perturbed])
        clean_counts = pert_counts = whole
    delta = clean_counts.f1 - pert_counts.f1
    return RobustnessRow(
        n_sentences=n,
        n_changed=len(changed),
        coverage=len(changed) / n if n else 0.0,
        clean_f1=clean_counts.f1,
        perturbed_f1=pert_counts.f1,
        delta_f1=delta,
        relative_drop=delta / clean_counts.f1 if clean_counts.f1 else 0.0,
        clean_recall=clean_counts.recall,
        perturbed_recall=pert_counts.recall,
        recall_drop=clean_counts.recall - pert_counts.recall,
        consistency=consistent / len(changed) if changed else 1.0,
        delta_ci_low=interval.low,
        delta_ci_high=interval.high,
    )


def worst_case_row(
    clean: Sequence[SentenceOutcome],
    variants: Mapping[str, Sequence[SentenceOutcome]],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> RobustnessRow:
    """Corpus-level worst-case F1 over a family of perturbations (clean included as a variant)."""
    by_variant = {name: {o.sentence_id: o for o in outs} for name, outs in variants.items()}
    worst: list[SentenceOutcome] = []
    changed = 0
    for base in clean:
        chosen = base
        for name in sorted(by_variant):
            candidate = by_variant[name].get(base.sentence_id)
            if candidate is not None and candidate.total.errors > chosen.total.errors:
                chosen = candidate
        changed += chosen is not base
        worst.append(chosen)
    clean_counts, worst_counts = _sum(clean), _sum(worst)
    interval = paired_bootstrap_delta(
        [o.total for o in clean], [o.total for o in worst], resamples=resamples, seed=seed
    )
    delta = clean_counts.f1 - worst_counts.f1
    consistent = sum(
        set(spans_from_iob2(w.pred))
        == map_spans(spans_from_iob2(c.pred), w.alignment or tuple(range(len(c.tokens))), w.span_map)
        for c, w in zip(clean, worst, strict=True)
    )
    n = len(clean)
    return RobustnessRow(
        n_sentences=n,
        n_changed=changed,
        coverage=changed / n if n else 0.0,
        clean_f1=clean_counts.f1,
        perturbed_f1=worst_counts.f1,
        delta_f1=delta,
        relative_drop=delta / clean_counts.f1 if clean_counts.f1 else 0.0,
        clean_recall=clean_counts.recall,
        perturbed_recall=worst_counts.recall,
        recall_drop=clean_counts.recall - worst_counts.recall,
        consistency=consistent / n if n else 1.0,
        delta_ci_low=interval.low,
        delta_ci_high=interval.high,
    )
