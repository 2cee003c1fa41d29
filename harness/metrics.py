"""Span-level precision, recall and F1, stored as counts and derived on read.

Counting is per sentence (``count_sentence``), so per-sentence counts can be stored, summed in any
grouping, resampled for bootstrap confidence intervals and compared pairwise. Decoding is strict
IOB2 (:func:`harness.data.spans_from_iob2`), which equals seqeval's ``mode="strict",
scheme=IOB2`` (tested to 1e-9 on every NER file of ``../shared/data``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.data import spans_from_iob2
from harness.errors import DataFormatError

ALL = "ALL"  # the entity_type key of micro-averaged rows
SCHEME = "iob2-strict"  # recorded in manifests and result rows
SCORER_VERSION = "1"


@dataclass(frozen=True, slots=True)
class SpanCounts:
    """True positives, false positives and false negatives of span matching; adds like numbers.

    >>> (SpanCounts(3, 1, 0) + SpanCounts(1, 0, 1)).f1
    0.8
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: SpanCounts) -> SpanCounts:
        return SpanCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        # 2TP / (2TP + FP + FN) equals 2PR/(P+R) and avoids a second rounding.
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0

    @property
    def errors(self) -> int:
        return self.fp + self.fn

    @property
    def support(self) -> int:
        return self.tp + self.fn


def count_sentence(gold: Sequence[str], pred: Sequence[str]) -> dict[str, SpanCounts]:
    """Per-type span counts for one sentence (types with all-zero counts are omitted).

    >>> count_sentence(["B-PER", "I-PER", "O"], ["B-PER", "O", "B-LOC"])
    {'PER': SpanCounts(tp=0, fp=1, fn=1), 'LOC': SpanCounts(tp=0, fp=1, fn=0)}
    """
    if len(gold) != len(pred):
        raise DataFormatError(f"gold has {len(gold)} tags but prediction has {len(pred)}")
    gold_spans = set(spans_from_iob2(gold))
    pred_spans = set(spans_from_iob2(pred))
    out: dict[str, list[int]] = {}
    for span in gold_spans:
        row = out.setdefault(span.label, [0, 0, 0])
        if span in pred_spans:
            row[0] += 1
        else:
            row[2] += 1
    for span in pred_spans - gold_spans:
        out.setdefault(span.label, [0, 0, 0])[1] += 1
    return {label: SpanCounts(*row) for label, row in out.items()}


def total(counts: Mapping[str, SpanCounts]) -> SpanCounts:
    """Micro total over entity types of one sentence's counts."""
    result = SpanCounts()
    for value in counts.values():
        result = result + value
    return result


@dataclass(frozen=True, slots=True)
class Scores:
    """Micro and per-type counts for a corpus; P/R/F1 are derived."""

    micro: SpanCounts
    per_type: dict[str, SpanCounts]

    @property
    def f1(self) -> float:
        return self.micro.f1

    @property
    def precision(self) -> float:
        return self.micro.precision

    @property
    def recall(self) -> float:
        return self.micro.recall

    def macro_f1(self) -> float:
        return float(np.mean([c.f1 for c in self.per_type.values()])) if self.per_type else 0.0


def aggregate(per_sentence: Iterable[Mapping[str, SpanCounts]]) -> Scores:
    """Sum per-sentence per-type counts into corpus scores."""
    per_type: dict[str, SpanCounts] = {}
    for counts in per_sentence:
        for label, value in counts.items():
            per_type[label] = per_type.get(label, SpanCounts()) + value
    return Scores(total(per_type), dict(sorted(per_type.items())))


def score_corpus(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> Scores:
    """Strict IOB2 span scores of a corpus (vectorised; equal to summing :func:`count_sentence`).

    >>> round(score_corpus([["B-PER", "O"], ["B-LOC"]], [["B-PER", "O"], ["O"]]).f1, 4)
    0.6667
    """
    if len(gold) != len(pred):
        raise DataFormatError(f"{len(gold)} gold sentences but {len(pred)} predicted sentences")
    for index, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if len(g) != len(p):
            raise DataFormatError(f"gold has {len(g)} tags but prediction has {len(p)} (sentence index {index})")
    labels: dict[str, int] = {}
    gold_keys = _corpus_span_keys(gold, labels)
    pred_keys = _corpus_span_keys(pred, labels)
    names = sorted(labels, key=labels.__getitem__)
    matched = np.intersect1d(gold_keys, pred_keys, assume_unique=True)
    n = len(names)
    tp = np.bincount(matched & 0xFF, minlength=n)
    n_gold = np.bincount(gold_keys & 0xFF, minlength=n)
    n_pred = np.bincount(pred_keys & 0xFF, minlength=n)
    per_type = {
        names[i]: SpanCounts(int(tp[i]), int(n_pred[i] - tp[i]), int(n_gold[i] - tp[i]))
        for i in range(n)
        if n_gold[i] or n_pred[i]
    }
    return Scores(total(per_type), dict(sorted(per_type.items())))


_B, _I, _O, _DASH, _NEWLINE = ord("B"), ord("I"), ord("O"), ord("-"), ord("\n")


def _corpus_span_keys(corpus: Sequence[Sequence[str]], labels: dict[str, int]) -> np.ndarray:
    """All strict-IOB2 spans of a corpus as unique int64 keys ``start << 20 | length << 8 | type``.

    Why this shape: per-token Python work dominates span scoring, so the corpus is joined into one
    byte buffer (C speed), tags are located by newlines, and everything else is numpy. Sentences
    are separated by an ``O`` so no span crosses a boundary. A span is a ``B-X`` followed by the
    maximal run of positions that continue it (``I-X`` right after a non-``O`` tag of type X) —
    the same automaton as :func:`spans_from_iob2`. Entity types are identified by a 64-bit
    polynomial hash of their bytes (collisions among a dataset's handful of types are not a
    practical concern); each distinct type string is decoded once to name it.
    """
    buf = np.frombuffer("\nO\n".join(map("\n".join, corpus)).encode(), dtype=np.uint8)
    if len(buf) == 0:
        return np.zeros(0, dtype=np.int64)
    newlines = np.flatnonzero(buf == _NEWLINE)
    starts = np.concatenate(([0], newlines + 1))
    lengths = np.concatenate((newlines, [len(buf)])) - starts
    padded = np.concatenate((buf, np.zeros(2, dtype=np.uint8)))  # safe reads past the end
    # Most tags are O: find the others once, then work on that small subset only.
    others = np.flatnonzero((lengths != 1) | (padded[starts] != _O))
    others = others[lengths[others] > 0]  # empty sentences contribute empty strings, i.e. nothing
    o_starts, o_lengths = starts[others], lengths[others]
    first, second = padded[o_starts], padded[o_starts + 1]
    valid = (o_lengths >= 3) & ((first == _B) | (first == _I)) & (second == _DASH)
    if not valid.all():
        j = int(np.flatnonzero(~valid)[0])
        tag = bytes(buf[o_starts[j] : o_starts[j] + o_lengths[j]]).decode()
        raise DataFormatError(f"tag {tag!r} is not O, B-<type> or I-<type>")
    if others.size == 0:
        return np.zeros(0, dtype=np.int64)
    h = np.full(len(others), 1469598103934665603, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(2, int(o_lengths.max())):
            take = o_lengths > k
            byte = padded[np.minimum(o_starts + k, len(padded) - 1)].astype(np.uint64)
            h = np.where(take, (h ^ byte) * np.uint64(1099511628211), h)
    unique, first_seen, inverse = np.unique(h, return_index=True, return_inverse=True)
    ids = np.empty(len(unique), dtype=np.int64)
    for j, index in enumerate(first_seen):
        label = bytes(buf[o_starts[index] + 2 : o_starts[index] + o_lengths[index]]).decode()
        if label not in labels:
            if len(labels) >= 255:
                raise DataFormatError("more than 255 entity types")
            labels[label] = len(labels)
        ids[j] = labels[label]
    typ = ids[inverse.reshape(-1)]
    is_begin = first == _B
    # I-X continues when the tag right before it (adjacent position) is a non-O tag of type X.
    adjacent = np.concatenate(([False], others[1:] == others[:-1] + 1))
    same_type = np.concatenate(([False], typ[1:] == typ[:-1]))
    continues = ~is_begin & adjacent & same_type
    begins = np.flatnonzero(is_begin)
    breaks = np.concatenate((np.flatnonzero(~continues), [len(others)]))
    last = breaks[np.searchsorted(breaks, begins, side="right")] - 1  # index of the span's last tag
    span_starts = others[begins]
    span_lengths = others[last] + 1 - span_starts
    if span_lengths.size and span_lengths.max() >= 1 << 12:
        raise DataFormatError("an entity span longer than 4095 tokens")
    keys: np.ndarray = (span_starts.astype(np.int64) << 20) | (span_lengths << 8) | typ[begins]
    return keys


# --- Uncertainty -------------------------------------------------------------------------------


def _as_matrix(counts: Sequence[SpanCounts]) -> np.ndarray:
    return np.array([(c.tp, c.fp, c.fn) for c in counts], dtype=np.int64).reshape(-1, 3)


def _f1_of_sums(sums: np.ndarray) -> np.ndarray:
    tp, fp, fn = sums[..., 0], sums[..., 1], sums[..., 2]
    denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with a percentile bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    resamples: int


_CHUNK = 64  # resamples per block: bounds memory at ~64 x n x 3 integers on 20k-sentence test sets


def _resampled_sums(matrices: Sequence[np.ndarray], resamples: int, seed: int) -> list[np.ndarray]:
    """Count sums of each matrix under the same bootstrap resamples of rows (paired)."""
    n = len(matrices[0])
    rng = np.random.default_rng(seed)
    out: list[list[np.ndarray]] = [[] for _ in matrices]
    for start in range(0, resamples, _CHUNK):
        idx = rng.integers(0, n, size=(min(_CHUNK, resamples - start), n))
        for slot, matrix in zip(out, matrices, strict=True):
            slot.append(matrix[idx].sum(axis=1))
    return [np.concatenate(parts) for parts in out]


def bootstrap_f1(
    counts: Sequence[SpanCounts], *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """Percentile bootstrap CI of corpus micro F1, resampling sentences.

    >>> iv = bootstrap_f1([SpanCounts(1, 0, 0)] * 5 + [SpanCounts(0, 1, 1)] * 5, seed=1)
    >>> iv.estimate, iv.low <= iv.estimate <= iv.high
    (0.5, True)
    """
    matrix = _as_matrix(counts)
    estimate = float(_f1_of_sums(matrix.sum(axis=0)))
    if len(matrix) == 0:
        return Interval(estimate, estimate, estimate, confidence, 0)
    (sums,) = _resampled_sums([matrix], resamples, seed)
    samples = _f1_of_sums(sums)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(samples, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), confidence, resamples)


def paired_bootstrap_delta(
    a: Sequence[SpanCounts],
    b: Sequence[SpanCounts],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """CI of F1(a) − F1(b) where a[i] and b[i] are two outcomes on the same sentence i."""
    if len(a) != len(b):
        raise DataFormatError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    ma, mb = _as_matrix(a), _as_matrix(b)
    estimate = float(_f1_of_sums(ma.sum(axis=0)) - _f1_of_sums(mb.sum(axis=0)))
    if len(ma) == 0:
        return Interval(estimate, estimate, estimate, confidence, 0)
    sums_a, sums_b = _resampled_sums([ma, mb], resamples, seed)
    deltas = _f1_of_sums(sums_a) - _f1_of_sums(sums_b)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(deltas, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), confidence, resamples)


def approximate_randomization(
    a: Sequence[SpanCounts], b: Sequence[SpanCounts], *, trials: int = 2000, seed: int = 0
) -> float:
    """Two-sided p-value that systems a and b have equal F1, by paired approximate randomisation.

    Each trial swaps the two systems' outcomes on a random half of the sentences (Noreen 1989;
    the test used for NER comparisons since Yeh 2000). Add-one smoothing keeps p > 0.
    """
    if len(a) != len(b):
        raise DataFormatError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    ma, mb = _as_matrix(a), _as_matrix(b)
    observed = abs(float(_f1_of_sums(ma.sum(axis=0)) - _f1_of_sums(mb.sum(axis=0))))
    if len(ma) == 0:
        return 1.0
    rng = np.random.default_rng(seed)
    total_a, diff = ma.sum(axis=0), mb - ma
    extreme = 0
    for start in range(0, trials, _CHUNK):
        swap = rng.integers(0, 2, size=(min(_CHUNK, trials - start), len(ma)))
        # Swapping sentence i moves diff[i] from b's total into a's: sa = A + swap @ (B - A).
        moved = swap @ diff
        sa, sb = total_a + moved, mb.sum(axis=0) - moved
        extreme += int((np.abs(_f1_of_sums(sa) - _f1_of_sums(sb)) >= observed - 1e-12).sum())
    return float((extreme + 1) / (trials + 1))
