"""Entity-level perturbations: mention swaps from pools."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.data import Sentence
from harness.errors import ConfigError

from attacks import make_perturbation
from attacks.base import perturb_corpus
from attacks.entity import build_pool


def test_entity_swap_replaces_with_same_type_other_mention(yoruba: list[Sentence]) -> None:
    out = perturb_corpus(make_perturbation("entity-swap.v1", {"severity": 5}), yoruba, seed=3)
    pool = build_pool(yoruba)
    for before, p in zip(yoruba, out, strict=True):
        assert len(p.sentence.spans) == len(before.spans)
        for old, new in zip(before.spans, p.sentence.spans, strict=True):
            assert new.label == old.label
            mention = p.sentence.tokens[new.start : new.end]
            assert mention in pool[old.label]
            if len(pool[old.label]) > 1:
                assert mention != before.tokens[old.start : old.end]


def test_entity_swap_corpus_pool_requires_prepare(yoruba: list[Sentence]) -> None:
    with pytest.raises(ConfigError, match="prepare"):
        make_perturbation("entity-swap.v1").perturb(yoruba[0], np.random.default_rng(0))
    with pytest.raises(ConfigError, match="pool_dataset"):
        make_perturbation("entity-swap.v1", {"pool": "dataset"})


def test_entity_swap_cross_lingual_pool_from_dataset(yoruba: list[Sentence], data_dir: Path) -> None:
    p = make_perturbation(
        "entity-swap.v1",
        {"severity": 5, "pool": "dataset", "pool_dataset": "masakhaner2", "pool_lang": "swa", "pool_split": "dev", "data_dir": str(data_dir)},
    )
    out = perturb_corpus(p, yoruba, seed=0)
    swahili = build_pool(__import__("harness.datasets", fromlist=["load_ner"]).load_ner("masakhaner2", "swa", "dev", data_dir=data_dir).sentences)
    replaced = [e for o in out for e in o.edits if e.kind == "mention-replace"]
    assert replaced
    for e in replaced:
        assert tuple(e.after.split(" ")) in swahili[e.span.label]


def test_entity_swap_regression_equal_length_swap_with_stray_mark() -> None:
    # Found by the 10,000-example hypothesis run: two one-token mentions swapped in place.
    s = Sentence("hyp/yor/0", "yor", (",", ",", "\u064b", ",", ","), ("O", "O", "B-PER", "B-PER", "O"))
    out = perturb_corpus(make_perturbation("entity-swap.v1", {"severity": 4}), [s], seed=0)[0]
    assert out.sentence.tags == s.tags
    assert sorted(out.sentence.tokens) == sorted(s.tokens)
