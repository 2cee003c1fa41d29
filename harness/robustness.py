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
        out.add(Span(mapped[0], mapped[-1] + 1, span.label))  # type: ignore[arg-type,operator]
    return out


def _sum(outcomes: Sequence[SentenceOutcome]) -> SpanCounts:
    total = SpanCounts()
    for outcome in outcomes:
        total = total + outcome.total
    return total


def _consistent(before: SentenceOutcome, after: SentenceOutcome) -> bool:
    """Predicted spans unchanged once the clean prediction is carried through the perturbation."""
    alignment = after.alignment if after.alignment is not None else tuple(range(len(before.tokens)))
    return map_spans(spans_from_iob2(before.pred), alignment, after.span_map) == set(spans_from_iob2(after.pred))


def _compare(
    before: Sequence[SentenceOutcome],
    after: Sequence[SentenceOutcome],
    *,
    n_sentences: int,
    resamples: int,
    seed: int,
) -> RobustnessRow:
    """Robustness figures of paired outcomes (``before[i]`` and ``after[i]`` are one sentence)."""
    clean_counts, pert_counts = _sum(before), _sum(after)
    interval = paired_bootstrap_delta(
        [o.total for o in before], [o.total for o in after], resamples=resamples, seed=seed
    )
    delta = clean_counts.f1 - pert_counts.f1
    n_changed = sum(a is not b for a, b in zip(after, before, strict=True))
    return RobustnessRow(
        n_sentences=n_sentences,
        n_changed=n_changed,
        coverage=n_changed / n_sentences if n_sentences else 0.0,
        clean_f1=clean_counts.f1,
        perturbed_f1=pert_counts.f1,
        delta_f1=delta,
        relative_drop=delta / clean_counts.f1 if clean_counts.f1 else 0.0,
        clean_recall=clean_counts.recall,
        perturbed_recall=pert_counts.recall,
        recall_drop=clean_counts.recall - pert_counts.recall,
        consistency=sum(map(_consistent, before, after)) / len(after) if after else 1.0,
        delta_ci_low=interval.low,
        delta_ci_high=interval.high,
    )


def robustness_row(
    clean: Sequence[SentenceOutcome],
    perturbed: Sequence[SentenceOutcome],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> RobustnessRow:
    """Robustness of one perturbation cell against its clean cell (same system, language, seed),
    on the sentences the perturbation changed."""
    clean_by_id = {o.sentence_id: o for o in clean}
    changed = [o for o in perturbed if o.changed and o.sentence_id in clean_by_id]
    if not changed:
        # Nothing was perturbed (e.g. dropping diacritics from Hausa text that has none): the
        # perturbed corpus *is* the clean corpus, so report its F1 on both sides, not 0/0.
        return _compare(perturbed, perturbed, n_sentences=len(perturbed), resamples=resamples, seed=seed)
    before = [clean_by_id[o.sentence_id] for o in changed]
    return _compare(before, changed, n_sentences=len(perturbed), resamples=resamples, seed=seed)


def worst_case_row(
    clean: Sequence[SentenceOutcome],
    variants: Mapping[str, Sequence[SentenceOutcome]],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> RobustnessRow:
    """Corpus-level worst-case F1 over a family of perturbations (clean included as a variant).

    Coverage is the share of sentences whose worst variant is a perturbed one; consistency is
    measured over all sentences.
    """
    by_variant = {name: {o.sentence_id: o for o in outs} for name, outs in variants.items()}
    worst: list[SentenceOutcome] = []
    for base in clean:
        chosen = base
        for name in sorted(by_variant):  # ties keep the earlier variant: deterministic
            candidate = by_variant[name].get(base.sentence_id)
            if candidate is not None and candidate.total.errors > chosen.total.errors:
                chosen = candidate
        worst.append(chosen)
    return _compare(clean, worst, n_sentences=len(clean), resamples=resamples, seed=seed)
