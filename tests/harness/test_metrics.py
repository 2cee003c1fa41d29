from __future__ import annotations

import random
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.conll import iter_conll_records
from harness.metrics import (
    SpanCounts,
    aggregate,
    approximate_randomization,
    bootstrap_f1,
    count_sentence,
    paired_bootstrap_delta,
    score_corpus,
)

seqeval_v1 = pytest.importorskip("seqeval.metrics.v1")
from seqeval.scheme import IOB2  # noqa: E402

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-DATE", "I-DATE"]


def corrupt(tags: tuple[str, ...], rng: random.Random, rate: float = 0.08) -> list[str]:
    """Prediction-like noise, including ill-formed I- tags, reproducibly."""
    labels = sorted({t[2:] for t in tags if t != "O"} | {"PER", "LOC"})
    out = list(tags)
    for i in range(len(out)):
        if rng.random() < rate:
            out[i] = rng.choice(["O"] + [f"{p}-{label}" for p in "BI" for label in labels])
    return out


def seqeval_scores(gold: list[list[str]], pred: list[list[str]]) -> tuple[tuple[float, float, float], dict[str, tuple[float, float, float, int]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        micro = seqeval_v1.precision_recall_fscore_support(gold, pred, average="micro", scheme=IOB2, zero_division=0)
        p, r, f, s = seqeval_v1.precision_recall_fscore_support(gold, pred, average=None, scheme=IOB2, zero_division=0)
        labels = sorted(seqeval_v1.unique_labels(gold, pred, IOB2, suffix=False))
    return (micro[0], micro[1], micro[2]), {label: (p[i], r[i], f[i], s[i]) for i, label in enumerate(labels)}


def assert_equal_to_seqeval(gold: list[list[str]], pred: list[list[str]]) -> None:
    ours = score_corpus(gold, pred)
    (p, r, f), per_type = seqeval_scores(gold, pred)
    assert abs(ours.precision - p) < 1e-9 and abs(ours.recall - r) < 1e-9 and abs(ours.f1 - f) < 1e-9
    for label, (tp_, tr, tf, support) in per_type.items():
        counts = ours.per_type.get(label, SpanCounts())
        assert abs(counts.precision - tp_) < 1e-9, label
        assert abs(counts.recall - tr) < 1e-9, label
        assert abs(counts.f1 - tf) < 1e-9, label
        assert counts.support == support, label


def ner_files(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*/*.txt") if p.parent.parent.name != "mafand_mt")


def test_score_corpus_equals_seqeval_strict_on_every_real_ner_file(data_dir: Path) -> None:
    files = ner_files(data_dir)
    assert len(files) >= 40
    for path in files:
        rng = random.Random(path.name + path.parent.name)
        gold = [list(r.tags) for r in iter_conll_records(path)]  # raw tags, orphans included
        pred = [corrupt(tuple(g), rng) for g in gold]
        assert_equal_to_seqeval(gold, pred)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(TAGS), st.sampled_from(TAGS)), max_size=12), min_size=1, max_size=8))
def test_score_corpus_equals_seqeval_strict_on_random_tag_sequences(rows: list[list[tuple[str, str]]]) -> None:
    gold = [[g for g, _ in row] for row in rows]
    pred = [[p for _, p in row] for row in rows]
    assert_equal_to_seqeval(gold, pred)


def test_count_sentence_requires_equal_lengths() -> None:
    with pytest.raises(ValueError, match="gold has 2 tags but prediction has 1"):
        count_sentence(["O", "O"], ["O"])


def test_span_counts_add_and_derive_scores() -> None:
    total = SpanCounts(2, 1, 0) + SpanCounts(0, 0, 1)
    assert (total.tp, total.fp, total.fn) == (2, 1, 1)
    assert total.precision == pytest.approx(2 / 3) and total.recall == pytest.approx(2 / 3)
    assert SpanCounts().f1 == 0.0


def test_aggregate_sums_per_type() -> None:
    scores = aggregate([{"PER": SpanCounts(1, 0, 0)}, {"PER": SpanCounts(0, 1, 0), "LOC": SpanCounts(0, 0, 1)}])
    assert scores.per_type["PER"] == SpanCounts(1, 1, 0) and scores.micro == SpanCounts(1, 1, 1)


def test_bootstrap_f1_interval_contains_estimate_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    counts = [SpanCounts(int(rng.integers(0, 3)), int(rng.integers(0, 2)), int(rng.integers(0, 2))) for _ in range(300)]
    a = bootstrap_f1(counts, resamples=500, seed=7)
    b = bootstrap_f1(counts, resamples=500, seed=7)
    assert a == b and a.low <= a.estimate <= a.high and a.high - a.low < 0.2


def test_paired_bootstrap_delta_is_zero_for_identical_systems() -> None:
    counts = [SpanCounts(1, 1, 0), SpanCounts(0, 0, 1), SpanCounts(2, 0, 0)] * 20
    interval = paired_bootstrap_delta(counts, counts, resamples=200)
    assert interval.estimate == 0.0 and interval.low == 0.0 and interval.high == 0.0


def test_paired_bootstrap_delta_detects_a_clear_difference() -> None:
    better = [SpanCounts(1, 0, 0)] * 100
    worse = [SpanCounts(0, 1, 1)] * 60 + [SpanCounts(1, 0, 0)] * 40
    interval = paired_bootstrap_delta(better, worse, resamples=500)
    assert interval.low > 0.3


def test_approximate_randomization_separates_different_from_equal_systems() -> None:
    a = [SpanCounts(1, 0, 0)] * 80 + [SpanCounts(0, 1, 1)] * 20
    b = [SpanCounts(0, 1, 1)] * 50 + [SpanCounts(1, 0, 0)] * 50
    assert approximate_randomization(a, b, trials=999, seed=1) < 0.01
    assert approximate_randomization(a, a, trials=999, seed=1) == 1.0
