"""Span metrics vs seqeval (strict IOB2) on all of MasakhaNER 2.0 test, same inputs, same numbers.

Run: pytest benchmarks/bench_metrics.py --benchmark-only --benchmark-group-by=group
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pytest

from harness.conll import iter_conll_records
from harness.metrics import score_corpus


@pytest.fixture(scope="module")
def corpus(data_dir: Path) -> tuple[list[list[str]], list[list[str]]]:
    gold, pred = [], []
    rng = random.Random(0)
    for path in sorted((data_dir / "masakhaner2").glob("*/test.txt")):
        for record in iter_conll_records(path):
            tags = list(record.tags)
            gold.append(tags)
            noisy = list(tags)
            for i in range(len(noisy)):
                if rng.random() < 0.08:
                    noisy[i] = rng.choice(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "B-DATE", "I-DATE"])
            pred.append(noisy)
    return gold, pred


@pytest.mark.benchmark(group="span-f1-masakhaner2-test")
def test_bench_xner_span_f1(benchmark, corpus) -> None:  # type: ignore[no-untyped-def]
    gold, pred = corpus
    scores = benchmark(score_corpus, gold, pred)
    assert 0.0 < scores.f1 < 1.0


@pytest.mark.benchmark(group="span-f1-masakhaner2-test")
def test_bench_seqeval_strict_f1(benchmark, corpus) -> None:  # type: ignore[no-untyped-def]
    from seqeval.metrics.v1 import precision_recall_fscore_support
    from seqeval.scheme import IOB2

    gold, pred = corpus

    def seqeval_micro() -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(precision_recall_fscore_support(gold, pred, average="micro", scheme=IOB2, zero_division=0)[2])

    f1 = benchmark.pedantic(seqeval_micro, rounds=3, iterations=1)
    assert abs(f1 - score_corpus(gold, pred).f1) < 1e-9
