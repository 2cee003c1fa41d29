"""Word-level perturbations on context tokens."""

from __future__ import annotations

import pytest

from harness.data import Sentence
from harness.errors import ConfigError, UnsupportedLanguageError

from attacks import make_perturbation
from attacks.base import perturb_corpus

WORD = ["word-delete.v1", "word-duplicate.v1", "word-swap.v1", "filler-insert.v1"]


@pytest.mark.parametrize("name", WORD)
def test_word_perturbation_keeps_mentions_and_realigns(name: str, yoruba: list[Sentence]) -> None:
    p = make_perturbation(name, {"severity": 5})
    changed = 0
    for seed in range(10):
        for before, out in zip(yoruba, perturb_corpus(p, yoruba, seed=seed), strict=True):
            changed += out.changed
            assert [(out.sentence.mention_text(s), s.label) for s in out.sentence.spans] == [
                (before.mention_text(s), s.label) for s in before.spans
            ]
            for i, j in enumerate(out.alignment):
                if j is not None:
                    assert out.sentence.tags[j] == before.tags[i]
    assert changed > 0


def test_word_delete_never_empties_a_sentence() -> None:
    s = Sentence("t/yor/0", "yor", ("ó", "lọ"), ("O", "O"))
    p = make_perturbation("word-delete.v1", {"severity": 5})
    assert all(len(p.perturb(s, __import__("numpy").random.default_rng(i)).sentence.tokens) >= 1 for i in range(20))


def test_filler_insert_custom_list_and_unsupported_language() -> None:
    amharic = Sentence("t/amh/0", "amh", ("ሰላም", "ነው"), ("O", "O"))
    with pytest.raises(UnsupportedLanguageError, match="filler-insert.v1"):
        perturb_corpus(make_perturbation("filler-insert.v1"), [amharic], seed=0)
    p = make_perturbation("filler-insert.v1", {"fillers": "እንግዲህ", "severity": 5})
    outs = [perturb_corpus(p, [amharic], seed=seed)[0] for seed in range(10)]
    assert any("እንግዲህ" in o.sentence.tokens for o in outs)
    with pytest.raises(ConfigError, match="fillers"):
        make_perturbation("filler-insert.v1", {"fillers": "two words"})
