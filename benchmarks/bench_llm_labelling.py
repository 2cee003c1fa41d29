"""LLM labelling throughput: the bundled llama.cpp server with concurrent requests vs one at a time.

What ``llm-teacher`` pays to label unlabelled target text, and ``llm-tagger`` to tag a test set:
the real bundled model (``$XNER_BENCH_LLM``, default ``qwen2.5-coder-1.5b``) behind the real
``llama-server``, the real prompt (3 demonstrations from the target language's dev split, the
JSON schema), on the first ``$XNER_BENCH_N`` (default 12) sentences of MasakhaNER 2.0
``$XNER_BENCH_LANG`` (default swa) train. Each round labels with an empty answer cache, so every
sentence costs a real call.

* ``parallel``: :func:`systems.llm_teacher.annotate` with ``llm_parallel`` requests in flight
  (default 4: the server decodes them together in its slots);
* ``one at a time``: the plain loop: the same server and prompts, one request after the other.

The server is started once per mode, before timing (its load time is reported separately).

Run: ``pytest benchmarks/bench_llm_labelling.py`` (pytest-benchmark), or
``python benchmarks/bench_llm_labelling.py`` for the sentences/s table in ``benchmarks/README.md``.
Skipped with a reason when the model wheels or the data are missing.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
LLM = os.environ.get("XNER_BENCH_LLM", "qwen2.5-coder-1.5b")
LANG = os.environ.get("XNER_BENCH_LANG", "swa")
N = int(os.environ.get("XNER_BENCH_N", "12"))
LABELS = ("LOC", "ORG", "PER")


def _inputs() -> tuple[list[tuple[str, ...]], list[Any]]:
    from harness.datasets import load_ner
    from systems.llm_teacher import choose_demonstrations

    if not (SHARED / "masakhaner2" / LANG / "train.txt").is_file():
        pytest.skip(f"needs ../shared/data/masakhaner2/{LANG}")
    texts = [s.tokens for s in load_ner("masakhaner2", LANG, "train", data_dir=SHARED).sentences[:N]]
    shots = choose_demonstrations(load_ner("masakhaner2", LANG, "dev", data_dir=SHARED).sentences, LABELS, 3)
    return texts, shots


def _generator(parallel: int) -> Any:
    from harness.errors import ModelUnavailableError
    from systems.base import default_cache_dir
    from systems.llm_teacher import BundledGenerator

    try:
        generator = BundledGenerator(LLM, cache_dir=default_cache_dir(), parallel=parallel)
    except ModelUnavailableError as exc:
        pytest.skip(str(exc))
    started = time.perf_counter()
    generator._ensure_server()  # start and load the server now, so labelling time excludes it
    generator.load_seconds = time.perf_counter() - started
    return generator


def label_once(generator: Any, texts: list[tuple[str, ...]], shots: list[Any]) -> float:
    """Label ``texts`` with a fresh answer cache; seconds taken."""
    from systems.llm_teacher import annotate

    with tempfile.TemporaryDirectory(prefix="xner-llm-bench-") as cache:
        started = time.perf_counter()
        annotate(generator, texts, LANG, LABELS, cache_dir=Path(cache), demonstrations=shots)
        return time.perf_counter() - started


@pytest.mark.parametrize("parallel", [4, 1], ids=["parallel", "one at a time"])
def test_llm_labelling(benchmark: Any, parallel: int) -> None:
    texts, shots = _inputs()
    generator = _generator(parallel)
    try:
        benchmark.extra_info.update({"model": LLM, "lang": LANG, "sentences": len(texts), "server_load_seconds": generator.load_seconds})
        seconds = benchmark.pedantic(label_once, args=(generator, texts, shots), rounds=1, iterations=1)
        benchmark.extra_info["sentences_per_second"] = len(texts) / seconds
    finally:
        generator.close()


def main() -> None:
    texts, shots = _inputs()
    rows = []
    for parallel in (4, 1):
        generator = _generator(parallel)
        try:
            seconds = label_once(generator, texts, shots)
        finally:
            generator.close()
        rows.append((parallel, generator.load_seconds, seconds))
    print(f"{LLM}, {len(texts)} {LANG} sentences, 3 shots, JSON schema, {os.cpu_count()} cores")
    print("| requests in flight | server load s | labelling s | sentences/s |")
    print("|---|---|---|---|")
    for parallel, load, seconds in rows:
        print(f"| {parallel} | {load:.1f} | {seconds:.1f} | {len(texts) / seconds:.3f} |")
    print(f"ratio parallel / one at a time: {rows[1][2] / rows[0][2]:.2f}x")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
