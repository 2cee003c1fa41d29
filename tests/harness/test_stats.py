"""harness.stats against hand-computed cases and against harness.metrics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import DataFormatError
from harness.metrics import Interval, SpanCounts, approximate_randomization, paired_bootstrap_delta
from harness.stats import (
    count_array,
    f1_of_sums,
    holm,
    ols_slope,
    paired_bootstrap,
    paired_randomization,
    seed_spread,
    trend,
)


def test_holm_matches_the_textbook_example() -> None:
    # Holm (1979) as in every textbook: m = 4, sorted p (0.005, 0.01, 0.03, 0.04) times (4, 3, 2, 1)
    # = 0.02, 0.03, 0.06, 0.04 → made monotone: 0.02, 0.03, 0.06, 0.06; reported in input order.
    assert holm([0.01, 0.04, 0.03, 0.005]) == [0.03, 0.06, 0.06, 0.02]


def test_holm_caps_at_one_and_keeps_ties_monotone() -> None:
    # m = 5: 0.05, 0.08, 0.09, max(0.09, 0.08), max(0.09, 0.05)
    assert holm([0.01, 0.02, 0.03, 0.04, 0.05]) == [0.05, 0.08, 0.09, 0.09, 0.09]
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([]) == []


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
def test_holm_is_between_raw_and_bonferroni(p: list[float]) -> None:
    adjusted = holm(p)
    for raw, adj in zip(p, adjusted, strict=True):
        assert raw - 1e-12 <= adj <= min(1.0, len(p) * raw) + 1e-12
    order = sorted(range(len(p)), key=lambda i: p[i])
    assert all(adjusted[order[i]] <= adjusted[order[i + 1]] + 1e-12 for i in range(len(p) - 1))


def test_ols_slope_matches_a_hand_computed_fit() -> None:
    # x̄ = 2.5, ȳ = 5; Σ(x−x̄)(y−ȳ) = 1.5·3 + 0.5·0.9 + 0.5·0.9 + 1.5·3 = 9.9; Σ(x−x̄)² = 5 → 1.98
    assert float(ols_slope([1, 2, 3, 4], np.array([2.0, 4.1, 5.9, 8.0]))) == pytest.approx(1.98)
    with pytest.raises(DataFormatError, match="two distinct x"):
        ols_slope([2, 2], np.array([1.0, 2.0]))


def test_trend_slope_ci_collapses_on_a_constructed_case() -> None:
    # Every sentence of a condition has the same counts, so every resample gives the same F1:
    # k=1 (1,1,1) → 0.5, k=2 (3,1,1) → 0.75, k=3 (1,0,0) → 1.0: slope exactly 0.25, CI [0.25, 0.25].
    conditions = [np.array([[c] * 7]) for c in ([1, 1, 1], [3, 1, 1], [1, 0, 0])]
    t = trend([1, 2, 3], conditions, resamples=200)
    assert (t.slope, t.low, t.high) == (0.25, 0.25, 0.25)
    assert t.values == (0.5, 0.75, 1.0) and t.best_x == 3.0
    recall = trend([1, 2, 3], conditions, metric="recall", resamples=50)
    assert recall.slope == pytest.approx(0.25)  # 0.5, 0.75, 1.0 again


def test_trend_ci_contains_the_point_slope_on_noisy_data() -> None:
    rng = np.random.default_rng(3)
    conditions = [rng.integers(0, 4, size=(2, 40, 3)) for _ in range(4)]
    t = trend([1, 2, 3, 4], conditions, resamples=300)
    values = [float(f1_of_sums(c.sum(axis=1)).mean()) for c in conditions]
    per_seed = [np.polyfit([1, 2, 3, 4], [float(f1_of_sums(c[s].sum(axis=0))) for c in conditions], 1)[0] for s in range(2)]
    assert t.slope == pytest.approx(float(np.mean(per_seed)))
    assert t.values == pytest.approx(tuple(values))
    assert t.low <= t.slope <= t.high


def test_paired_bootstrap_equals_the_metrics_delta_for_one_seed() -> None:
    rng = np.random.default_rng(0)
    a = [SpanCounts(*map(int, row)) for row in rng.integers(0, 3, size=(30, 3))]
    b = [SpanCounts(*map(int, row)) for row in rng.integers(0, 3, size=(30, 3))]
    ours = paired_bootstrap([count_array([a]), count_array([b])], lambda s: f1_of_sums(s[0]) - f1_of_sums(s[1]), resamples=300, seed=4)
    reference = paired_bootstrap_delta(a, b, resamples=300, seed=4)
    assert (ours.estimate, ours.low, ours.high) == pytest.approx((reference.estimate, reference.low, reference.high))


def test_paired_randomization_equals_the_metrics_test_for_one_condition() -> None:
    rng = np.random.default_rng(1)
    a = [SpanCounts(*map(int, row)) for row in rng.integers(0, 3, size=(25, 3))]
    b = [SpanCounts(*map(int, row)) for row in rng.integers(0, 2, size=(25, 3))]
    ours = paired_randomization([count_array([a])], [count_array([b])], lambda sa, sb: f1_of_sums(sa[0]) - f1_of_sums(sb[0]), trials=500, seed=2)
    assert ours == pytest.approx(approximate_randomization(a, b, trials=500, seed=2))


def test_paired_randomization_of_identical_systems_is_one() -> None:
    a = np.array([[[1, 1, 0], [0, 1, 1], [2, 0, 0]]] * 2)
    p = paired_randomization([a, a], [a, a], lambda sa, sb: (f1_of_sums(sa[0]) - f1_of_sums(sa[1])) - (f1_of_sums(sb[0]) - f1_of_sums(sb[1])), trials=100)
    assert p == 1.0


def test_seed_spread_says_which_dominates() -> None:
    iv = Interval(0.5, 0.4, 0.6, 0.95, 1000)  # se = 0.2 / (2 · 1.96) ≈ 0.051
    assert seed_spread([0.5, 0.52], iv).dominant == "sentences"
    assert seed_spread([0.3, 0.7], iv).dominant == "seeds"
    one = seed_spread([0.5], iv)
    assert one.seed_sd is None and one.dominant == "sentences (one seed)"
    assert one.bootstrap_se == pytest.approx(0.2 / (2 * 1.959964), rel=1e-4)


def test_count_array_rejects_seeds_over_different_sentences() -> None:
    with pytest.raises(DataFormatError, match="different numbers of sentences"):
        count_array([[SpanCounts(1, 0, 0)], []])
