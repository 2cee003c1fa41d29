from __future__ import annotations

from harness.data import Span
from harness.metrics import count_sentence
from harness.robustness import map_spans, robustness_row, worst_case_row
from harness.store import SentenceOutcome


def outcome(sid: str, gold: list[str], pred: list[str], *, changed: bool = False, alignment: tuple[int | None, ...] | None = None) -> SentenceOutcome:
    return SentenceOutcome(sid, 0, changed, count_sentence(gold, pred), tuple(f"t{i}" for i in range(len(gold))), tuple(gold), tuple(pred), alignment)


def test_map_spans_follows_insertions_and_marks_deleted_tokens() -> None:
    assert map_spans([Span(1, 3, "PER")], [0, 2, 3]) == {Span(2, 4, "PER")}
    deleted = map_spans([Span(0, 2, "PER")], [0, None])
    assert all(s.label.startswith("\0unmappable") for s in deleted)


def test_robustness_row_compares_only_changed_sentences() -> None:
    clean = [outcome("a", ["B-PER", "O"], ["B-PER", "O"]), outcome("b", ["B-LOC"], ["B-LOC"])]
    perturbed = [
        outcome("a", ["B-PER", "O"], ["O", "O"], changed=True, alignment=(0, 1)),
        outcome("b", ["B-LOC"], ["B-LOC"], changed=False, alignment=(0,)),
    ]
    row = robustness_row(clean, perturbed, resamples=50)
    assert row.n_changed == 1 and row.coverage == 0.5
    assert row.clean_f1 == 1.0 and row.perturbed_f1 == 0.0 and row.delta_f1 == 1.0 and row.relative_drop == 1.0
    assert row.recall_drop == 1.0 and row.consistency == 0.0


def test_robustness_row_consistency_maps_predictions_through_alignment() -> None:
    clean = [outcome("a", ["B-PER", "O"], ["B-PER", "O"])]
    # A filler token inserted before the mention: the prediction moved with it, so it is consistent.
    perturbed = [outcome("a", ["O", "B-PER", "O"], ["O", "B-PER", "O"], changed=True, alignment=(1, 2))]
    row = robustness_row(clean, perturbed, resamples=20)
    assert row.consistency == 1.0 and row.delta_f1 == 0.0


def test_robustness_row_without_changes_reports_the_unchanged_f1() -> None:
    clean = [outcome("a", ["B-PER"], ["B-PER"]), outcome("b", ["B-LOC"], ["O"])]
    row = robustness_row(clean, clean, resamples=20)
    assert row.n_changed == 0 and row.clean_f1 == row.perturbed_f1 == 2 / 3 and row.delta_f1 == 0.0


def test_worst_case_picks_the_variant_with_most_errors_per_sentence() -> None:
    clean = [outcome("a", ["B-PER"], ["B-PER"]), outcome("b", ["B-LOC"], ["B-LOC"])]
    variants = {
        "p1": [outcome("a", ["B-PER"], ["O"], changed=True, alignment=(0,)), outcome("b", ["B-LOC"], ["B-LOC"])],
        "p2": [outcome("a", ["B-PER"], ["B-PER"]), outcome("b", ["B-LOC"], ["B-PER"], changed=True, alignment=(0,))],
    }
    row = worst_case_row(clean, variants, resamples=20)
    # a: p1 (1 error); b: p2 (2 errors) -> tp 0, fp 1, fn 2
    assert row.perturbed_f1 == 0.0 and row.n_changed == 2 and row.clean_f1 == 1.0


def test_robustness_row_follows_a_swapped_mention_of_another_length() -> None:
    clean = [outcome("a", ["B-PER", "I-PER", "O"], ["B-PER", "I-PER", "O"])]
    # "Adé Bello lọ" -> "Kofi lọ": the two-token mention was replaced by a one-token mention.
    swapped = SentenceOutcome(
        "a", 0, True, count_sentence(["B-PER", "O"], ["B-PER", "O"]), ("Kofi", "lọ"), ("B-PER", "O"), ("B-PER", "O"),
        (0, None, 1), ((0, 2, 0, 1),),
    )
    row = robustness_row(clean, [swapped], resamples=20)
    assert row.consistency == 1.0
