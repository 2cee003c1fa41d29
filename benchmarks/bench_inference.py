"""Inference speed of the backbone tagger: our batched path vs a per-sentence loop vs ``pipeline``.

All three run the same model on the same sentences and must give identical word-level tags
(argmax of the first subword, before IOB2 repair, which ``pipeline`` does not do):

* ``batched``: :meth:`systems.backbones.Tagger.predict` (length-bucketed batches, windows,
  ``torch.inference_mode``);
* ``loop``: what one writes first: per sentence, ``tokenizer(..., is_split_into_words=True)``,
  one forward pass under ``torch.no_grad``, first-subword argmax via ``word_ids()``;
* ``pipeline``: ``transformers.pipeline("token-classification", aggregation_strategy="none")``
  on the whitespace-joined sentence; words are read back from character offsets;
* ``bare forward``: the floor: one fast-tokenizer call for all sentences, batches of the same
  size in input order, one padded forward pass each, first-subword argmax; no windows, no
  bookkeeping (it truncates, so only sentences that fit one window are used).

Model: ``$XNER_BENCH_TAGGER`` (a saved tagger directory, e.g. the CoNLL-trained offline model),
otherwise a tagger on ``$XNER_BENCH_BACKBONE`` (default ``offline``; ``e5-small`` for the real
pretrained encoder) trained briefly here (data from ``../shared/data`` when present, else the toy data). Sentences: MasakhaNER 2.0 Yorùbá test (first ``$XNER_BENCH_N``, default 300)
or toy sentences.

Run: ``pytest benchmarks/bench_inference.py`` (pytest-benchmark), or
``python benchmarks/bench_inference.py`` for the ratio table quoted in the issue note.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@lru_cache(maxsize=1)
def setup() -> tuple[Any, list[Any]]:
    from harness.data import Sentence
    from systems.backbones import Tagger, train_tagger

    n = int(os.environ.get("XNER_BENCH_N", "300"))
    if (SHARED / "masakhaner2" / "yor" / "test.txt").is_file():
        from harness.datasets import load_ner

        sentences = load_ner("masakhaner2", "yor", "test", data_dir=SHARED).sentences[:n]
        data_dir = SHARED
        train = load_ner("conll2003", "eng", "train", data_dir=SHARED).sentences[:400]
    else:
        from systems._toy import toy_sentences, write_toy_data_dir

        data_dir = write_toy_data_dir(tempfile.mkdtemp(prefix="xner-bench-"), n=60)
        sentences = toy_sentences("yor", n, split="test")
        train = toy_sentences("eng", 60)
    path = os.environ.get("XNER_BENCH_TAGGER")
    if path:
        tagger = Tagger.load(path)
    else:
        cache = Path(os.environ.get("XNER_CACHE_DIR", Path(tempfile.gettempdir()) / "xner-bench-cache"))
        tagger = train_tagger(
            train, labels=["LOC", "MISC", "ORG", "PER"], backbone=os.environ.get("XNER_BENCH_BACKBONE", "offline"), epochs=1,
            cache_dir=cache, data_dir=data_dir, show_progress=False,
        )
    if os.environ.get("XNER_BENCH_BATCH"):
        tagger.batch_size = int(os.environ["XNER_BENCH_BATCH"])
    # Keep only sentences that fit one window: the loop and pipeline baselines truncate, we don't.
    limit = tagger.max_length - 2
    fitting = [s for s in sentences if len(tagger.encoder.subwords([s.tokens])[0][0]) <= limit]
    return tagger, [Sentence(s.id, s.lang, s.tokens, ("O",) * len(s.tokens)) for s in fitting]


def raw_tags(tagger: Any, sentences: Sequence[Any]) -> list[tuple[str, ...]]:
    return [tuple(tagger.tag_names[i] for i in z.argmax(-1)) for z in tagger.logits(sentences)]


def loop_tags(tagger: Any, sentences: Sequence[Any]) -> list[tuple[str, ...]]:
    import torch

    model, tokenizer = tagger.model, tagger.tokenizer
    model.eval()
    out = []
    with torch.no_grad():
        for s in sentences:
            if not s.tokens:
                out.append(())
                continue
            enc = tokenizer(list(s.tokens), is_split_into_words=True, return_tensors="pt", truncation=True, max_length=tagger.max_length)
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits[0]
            first: dict[int, int] = {}
            for position, word in enumerate(enc.word_ids(0)):
                if word is not None and word not in first:
                    first[word] = position
            out.append(tuple(tagger.tag_names[int(logits[first[w]].argmax())] for w in range(len(s.tokens))))
    return out


def bare_forward_tags(tagger: Any, sentences: Sequence[Any]) -> list[tuple[str, ...]]:
    import torch

    model, tokenizer = tagger.model, tagger.tokenizer
    model.eval()
    enc = tokenizer([list(s.tokens) for s in sentences], is_split_into_words=True, truncation=True, max_length=tagger.max_length)
    out = []
    with torch.inference_mode():
        for lo in range(0, len(sentences), tagger.batch_size):
            rows = list(range(lo, min(lo + tagger.batch_size, len(sentences))))
            width = max(len(enc["input_ids"][r]) for r in rows)
            ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for k, r in enumerate(rows):
                ids[k, : len(enc["input_ids"][r])] = torch.tensor(enc["input_ids"][r])
                mask[k, : len(enc["input_ids"][r])] = 1
            best = model(input_ids=ids, attention_mask=mask).logits.argmax(-1).numpy()
            for k, r in enumerate(rows):
                first: dict[int, int] = {}
                for position, word in enumerate(enc.word_ids(r)):
                    if word is not None and word not in first:
                        first[word] = position
                out.append(tuple(tagger.tag_names[int(best[k, first[w]])] for w in range(len(sentences[r].tokens))))
    return out


@lru_cache(maxsize=1)
def _pipeline(batch_size: int) -> Any:
    from transformers import pipeline

    tagger, _ = setup()
    return pipeline(
        "token-classification", model=tagger.model, tokenizer=tagger.tokenizer, aggregation_strategy="none",
        ignore_labels=[], device=-1, batch_size=batch_size,
    )


def pipeline_tags(tagger: Any, sentences: Sequence[Any], batch_size: int = 1) -> list[tuple[str, ...]]:
    pipe = _pipeline(batch_size)
    texts = [" ".join(s.tokens) for s in sentences]
    results = pipe(texts)
    out = []
    for s, entities in zip(sentences, results, strict=True):
        starts, position = [], 0
        for token in s.tokens:
            starts.append(position)
            position += len(token) + 1
        tags = []
        for start, token in zip(starts, s.tokens, strict=True):
            end = start + len(token)
            # The word's first subword is the first piece starting inside it or on the space before it:
            # a lone "▁" piece (before punctuation) carries the offsets of that space.
            piece = next(e for e in entities if start - 1 <= e["start"] < end and e["end"] > e["start"])
            tags.append(piece["entity"])
        out.append(tuple(tags))
    return out


def test_inference_paths_agree() -> None:
    tagger, sentences = setup()
    batched = raw_tags(tagger, sentences)
    assert batched == loop_tags(tagger, sentences)
    assert batched == pipeline_tags(tagger, sentences)
    assert batched == bare_forward_tags(tagger, sentences)


@pytest.mark.parametrize("path", ["batched", "loop", "pipeline", "bare"])
def test_bench_inference(benchmark: Any, path: str) -> None:
    tagger, sentences = setup()
    fn = {
        "batched": lambda: tagger.predict(sentences),
        "loop": lambda: loop_tags(tagger, sentences),
        "pipeline": lambda: pipeline_tags(tagger, sentences),
        "bare": lambda: bare_forward_tags(tagger, sentences),
    }[path]
    benchmark.pedantic(fn, rounds=3, warmup_rounds=1)


def main() -> None:
    import torch

    tagger, sentences = setup()
    words = sum(len(s.tokens) for s in sentences)
    print(f"{len(sentences)} sentences, {words} words; torch threads {torch.get_num_threads()}")
    reference = raw_tags(tagger, sentences)
    paths = {
        "batched (ours)": lambda: raw_tags(tagger, sentences),
        "per-sentence loop": lambda: loop_tags(tagger, sentences),
        "pipeline (batch_size=1)": lambda: pipeline_tags(tagger, sentences, 1),
        "pipeline (batch_size=32)": lambda: pipeline_tags(tagger, sentences, 32),
        "bare batched forward": lambda: bare_forward_tags(tagger, sentences),
    }
    identical = {name: fn() == reference for name, fn in paths.items()}  # also the warm-up
    # Rounds interleave the paths so that load changes on a shared machine hit all of them alike.
    timings = {name: float("inf") for name in paths}
    for _ in range(int(os.environ.get("XNER_BENCH_ROUNDS", "3"))):
        for name, fn in paths.items():
            started = time.perf_counter()
            fn()
            timings[name] = min(timings[name], time.perf_counter() - started)
    for name, best in timings.items():
        print(f"{name:26s} {best:7.3f} s  {words / best:9.0f} words/s  identical={identical[name]}")
    base = timings["batched (ours)"]
    for name, seconds in timings.items():
        print(f"speed-up of batched over {name}: {seconds / base:.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
