"""A fast check, in the default test run, that a neural tagger learns from real data (issue 12,
item 23). The conformance checks pass a system that tags everything ``O``; this one cannot.

It fine-tunes the ``offline-tiny`` backbone (random init, tokenizer trained on the training text;
no network) on 200 MasakhaNER 2.0 Hausa training sentences for 6 epochs of batch 16 (78 steps) and
asserts that the loss falls and that F1 on the training sentences and on unseen test sentences is
well above the all-``O`` floor of 0. The same check on the real pretrained backbone (e5-small) is
``tests/systems/test_e5.py::test_e5_small_learns_english_ner_in_a_few_dozen_steps``.
"""

from __future__ import annotations

from pathlib import Path

from harness.datasets import load_ner
from harness.metrics import score_corpus
from systems.backbones import train_tagger

BACKBONE = "offline-tiny"
LABELS = ["DATE", "LOC", "ORG", "PER"]


def test_tagger_learns_hausa_ner_in_a_few_dozen_steps(data_dir: Path, tmp_path: Path) -> None:
    train = load_ner("masakhaner2", "hau", "train", data_dir=data_dir).sentences[:200]
    test = load_ner("masakhaner2", "hau", "test", data_dir=data_dir).sentences[:200]
    tagger = train_tagger(
        train, labels=LABELS, backbone=BACKBONE, epochs=6, lr=5e-3, batch_size=16, max_length=64,
        cache_dir=tmp_path, data_dir=None, show_progress=False,
    )
    losses = [epoch["loss"] for epoch in tagger.info["history"]]
    assert losses[-1] < losses[0] / 2, losses
    seen = score_corpus([s.tags for s in train], tagger.predict(train))
    unseen = score_corpus([s.tags for s in test], tagger.predict(test))
    assert seen.f1 > 0.25, seen.micro
    assert unseen.f1 > 0.05 and unseen.micro.tp > 20, unseen.micro
