"""Statistics for studies: paired comparisons over sentences and seeds, Holm, trend slopes.

Sibling of :mod:`harness.metrics` (which holds the one-pair bootstrap and approximate
randomisation); this module generalises them to the shapes a study compares:

* a *condition* is a count array of shape ``(seeds, sentences, 3)`` (TP, FP, FN per sentence),
  so a statistic is computed per seed and averaged over seeds;
* every resample draws **one** set of sentence indices and applies it to every condition and every
  seed, so differences stay paired (same sentences on both sides);
* approximate randomisation swaps the two systems' outcomes on a random half of the sentences
  (all seeds and all conditions of that sentence move together), Noreen 1989 / Yeh 2000;
* Holm's step-down correction for the family of per-language tests;
* the OLS slope of a metric against a varied parameter (e.g. number of source languages) with a
  paired bootstrap CI over sentences, and the best parameter value.

All functions are pure and seeded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.errors import DataFormatError
from harness.metrics import Interval, SpanCounts, _CHUNK

#: A statistic maps one array of count sums per condition, each ``(..., seeds, 3)``, to ``(...)``.
Statistic = Callable[[Sequence[np.ndarray]], np.ndarray]


def f1_of_sums(sums: np.ndarray) -> np.ndarray:
    """Micro F1 of count sums ``(..., 3)``; 0 where there is nothing to score.

    >>> float(f1_of_sums(np.array([2, 1, 1])))
    0.6666666666666666
    """
    tp, fp, fn = sums[..., 0], sums[..., 1], sums[..., 2]
    denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


def recall_of_sums(sums: np.ndarray) -> np.ndarray:
    """Micro recall of count sums ``(..., 3)``; 0 where there is no gold mention.

    >>> float(recall_of_sums(np.array([3, 5, 1])))
    0.75
    """
    tp, fn = sums[..., 0], sums[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)


METRICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"f1": f1_of_sums, "recall": recall_of_sums}


def count_array(per_seed: Sequence[Sequence[SpanCounts]]) -> np.ndarray:
    """``(seeds, sentences, 3)`` from one list of per-sentence counts per seed (same sentences).

    >>> count_array([[SpanCounts(1, 0, 0)], [SpanCounts(0, 1, 1)]]).shape
    (2, 1, 3)
    """
    lengths = {len(seed) for seed in per_seed}
    if len(lengths) > 1:
        raise DataFormatError(f"seeds cover different numbers of sentences: {sorted(lengths)}")
    return np.array([[(c.tp, c.fp, c.fn) for c in seed] for seed in per_seed], dtype=np.int64).reshape(len(per_seed), -1, 3)


def _check_conditions(conditions: Sequence[np.ndarray]) -> int:
    if not conditions:
        raise DataFormatError("a paired statistic needs at least one condition")
    shapes = {c.shape[1] for c in conditions}
    if len(shapes) > 1 or any(c.ndim != 3 or c.shape[2] != 3 for c in conditions):
        raise DataFormatError(f"paired conditions must be (seeds, sentences, 3) over the same sentences; got {[c.shape for c in conditions]}")
    return int(conditions[0].shape[1])


def _seed_mean(statistic: Statistic) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
    return lambda sums: np.asarray(statistic(sums)).mean(axis=-1)


def per_seed_values(conditions: Sequence[np.ndarray], statistic: Statistic) -> np.ndarray:
    """The statistic on every seed separately (its spread is the seed variance)."""
    _check_conditions(conditions)
    return np.asarray(statistic([c.sum(axis=1) for c in conditions]), dtype=float)


def paired_bootstrap(
    conditions: Sequence[np.ndarray],
    statistic: Statistic,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap CI of the seed-mean of ``statistic``, resampling sentences (paired).

    Args:
        conditions: count arrays ``(seeds, sentences, 3)`` over the same sentences and seeds.
        statistic: maps the per-condition sums ``(..., seeds, 3)`` to ``(..., seeds)``.

    >>> a = np.array([[[1, 0, 0]] * 4])          # F1 1.0 on 4 sentences, one seed
    >>> b = np.array([[[0, 1, 1]] * 4])          # F1 0.0
    >>> iv = paired_bootstrap([a, b], lambda s: f1_of_sums(s[0]) - f1_of_sums(s[1]))
    >>> iv.estimate, iv.low, iv.high
    (1.0, 1.0, 1.0)
    """
    n = _check_conditions(conditions)
    mean = _seed_mean(statistic)
    estimate = float(mean([c.sum(axis=1) for c in conditions]))
    if n == 0:
        return Interval(estimate, estimate, estimate, confidence, 0)
    rng = np.random.default_rng(seed)
    samples = []
    for start in range(0, resamples, _CHUNK):
        idx = rng.integers(0, n, size=(min(_CHUNK, resamples - start), n))
        # c[:, idx] is (seeds, R, n, 3); move the resample axis first: sums are (R, seeds, 3).
        samples.append(mean([np.moveaxis(c[:, idx].sum(axis=2), 0, 1) for c in conditions]))
    values = np.concatenate(samples)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), confidence, resamples)


def paired_randomization(
    a: Sequence[np.ndarray],
    b: Sequence[np.ndarray],
    statistic: Callable[[Sequence[np.ndarray], Sequence[np.ndarray]], np.ndarray],
    *,
    trials: int = 2000,
    seed: int = 0,
) -> float:
    """Two-sided approximate-randomisation p-value that ``statistic(a, b)`` is 0.

    ``a[j]`` and ``b[j]`` are the same condition (e.g. clean, perturbed) for the two systems; a trial
    swaps the systems on a random half of the sentences, moving every condition and seed of that
    sentence together. Add-one smoothing keeps p > 0 (as :func:`harness.metrics.approximate_randomization`,
    which this equals for one condition, one seed and ``statistic = F1(a) − F1(b)``).
    """
    if len(a) != len(b):
        raise DataFormatError(f"paired conditions differ in number: {len(a)} vs {len(b)}")
    n = _check_conditions([*a, *b])
    def mean(sa: Sequence[np.ndarray], sb: Sequence[np.ndarray]) -> np.ndarray:
        return np.asarray(np.asarray(statistic(sa, sb)).mean(axis=-1))

    totals_a = [c.sum(axis=1) for c in a]
    totals_b = [c.sum(axis=1) for c in b]
    observed = abs(float(mean(totals_a, totals_b)))
    if n == 0:
        return 1.0
    rng = np.random.default_rng(seed)
    diffs = [cb - ca for ca, cb in zip(a, b, strict=True)]  # (seeds, n, 3)
    extreme = 0
    for start in range(0, trials, _CHUNK):
        swap = rng.integers(0, 2, size=(min(_CHUNK, trials - start), n))
        # Swapping sentence i moves (b_i − a_i) from b's total into a's, on every seed.
        moved = [np.einsum("rn,snk->rsk", swap, d) for d in diffs]
        sa = [ta[None] + m for ta, m in zip(totals_a, moved, strict=True)]
        sb = [tb[None] - m for tb, m in zip(totals_b, moved, strict=True)]
        extreme += int((np.abs(mean(sa, sb)) >= observed - 1e-12).sum())
    return float((extreme + 1) / (trials + 1))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input order.

    Reject hypothesis i at level α when ``holm(p)[i] <= α``; this controls the family-wise error
    over the family (here: the languages of one comparison).

    >>> holm([0.01, 0.04, 0.03, 0.005])
    [0.03, 0.06, 0.06, 0.02]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return [round(p, 12) for p in adjusted]


def ols_slope(x: Sequence[float], y: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``y`` against ``x`` along the last axis (vectorised over leading axes).

    >>> float(ols_slope([1, 2, 3, 4], np.array([2.0, 4.1, 5.9, 8.0])))
    1.98
    """
    xs = np.asarray(x, dtype=float)
    if len(xs) < 2 or np.ptp(xs) == 0:
        raise DataFormatError(f"a slope needs at least two distinct x values; got {list(x)}")
    xc = xs - xs.mean()
    yc = np.asarray(y, dtype=float) - np.asarray(y, dtype=float).mean(axis=-1, keepdims=True)
    return np.asarray(np.round((yc * xc).sum(axis=-1) / (xc * xc).sum(), 12))


@dataclass(frozen=True, slots=True)
class Trend:
    """A metric against a varied parameter: values, OLS slope with a bootstrap CI, best value."""

    xs: tuple[float, ...]
    values: tuple[float, ...]  # seed-mean metric at each x
    slope: float
    low: float
    high: float
    best_x: float
    confidence: float
    resamples: int


def trend(
    xs: Sequence[float],
    conditions: Sequence[np.ndarray],
    *,
    metric: str = "f1",
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Trend:
    """Slope of ``metric`` vs ``xs`` (one condition per x, same sentences) with a paired bootstrap CI.

    Each resample draws sentences once and recomputes the metric at every x on them, then the OLS
    slope; the CI is the percentile interval of those slopes. ``best_x`` is the x of the highest
    seed-mean metric (the smallest x on ties: fewer sources is cheaper).

    >>> perfect = np.array([[[1, 0, 0]] * 3]); half = np.array([[[1, 1, 1]] * 3])
    >>> t = trend([1, 2], [half, perfect])
    >>> t.slope, t.low, t.high, t.best_x
    (0.5, 0.5, 0.5, 2.0)
    """
    if len(xs) != len(conditions):
        raise DataFormatError(f"trend needs one condition per x: {len(xs)} x values, {len(conditions)} conditions")
    score = METRICS[metric]

    def statistic(sums: Sequence[np.ndarray]) -> np.ndarray:
        # (..., seeds, 3) per x → metric (..., seeds, k) → slope per seed (..., seeds)
        return ols_slope(xs, np.stack([score(s) for s in sums], axis=-1))

    values = [float(score(c.sum(axis=1)).mean()) for c in conditions]
    interval = paired_bootstrap(conditions, statistic, resamples=resamples, confidence=confidence, seed=seed)
    best = max(range(len(xs)), key=lambda i: (round(values[i], 12), -xs[i]))
    return Trend(
        tuple(float(x) for x in xs), tuple(values), interval.estimate, interval.low, interval.high,
        float(xs[best]), confidence, interval.resamples,
    )


@dataclass(frozen=True, slots=True)
class SeedSpread:
    """Seed variance beside the bootstrap CI, and which of the two dominates the uncertainty."""

    seeds: int
    seed_sd: float | None  # sample standard deviation over seeds; None with one seed
    bootstrap_se: float  # CI half-width / z: the sentence-sampling standard error
    dominant: str  # "seeds", "sentences" or "sentences (one seed)"


def seed_spread(per_seed: Sequence[float], interval: Interval) -> SeedSpread:
    """Compare the seed standard deviation with the bootstrap standard error of the same estimate.

    >>> seed_spread([1.0, 3.0], Interval(2.0, 1.0, 3.0, 0.95, 1000)).dominant
    'seeds'
    """
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + interval.confidence / 2)
    se = (interval.high - interval.low) / (2 * z)
    if len(per_seed) < 2:
        return SeedSpread(len(per_seed), None, se, "sentences (one seed)")
    sd = float(np.std(np.asarray(per_seed, dtype=float), ddof=1))
    return SeedSpread(len(per_seed), sd, se, "seeds" if sd > se else "sentences")


__all__ = [
    "METRICS",
    "SeedSpread",
    "Trend",
    "count_array",
    "f1_of_sums",
    "holm",
    "ols_slope",
    "paired_bootstrap",
    "paired_randomization",
    "per_seed_values",
    "recall_of_sums",
    "seed_spread",
    "trend",
]
