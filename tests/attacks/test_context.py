"""Context-level perturbations: code-switching and sentence concatenation."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.data import Sentence
from harness.errors import DataFormatError, UnsupportedLanguageError

from attacks import make_perturbation
from attacks.base import perturb_corpus
from attacks.context import read_lexicon_tsv


def test_code_switch_from_tsv_replaces_context_words_only(yoruba: list[Sentence], lexicon_file: Path) -> None:
    p = make_perturbation("code-switch.v1", {"severity": 5, "lexicon": str(lexicon_file), "lexicon_lang": "yor"})
    out = perturb_corpus(p, yoruba, seed=0)
    assert out[0].sentence.tokens[3:5] == ("go", "to")
    assert out[1].sentence.tokens[:3] == ("Wọ́n", "do", "meeting")
    assert out[0].sentence.tags == yoruba[0].tags
    with pytest.raises(UnsupportedLanguageError):
        perturb_corpus(p, [Sentence("t/hau/0", "hau", ("ya",), ("O",))], seed=0)


def test_read_lexicon_tsv_rejects_multiword_entries(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("lọ\tgo away\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad.tsv:1.*single words"):
        read_lexicon_tsv(bad)


@pytest.mark.slow
def test_code_switch_learned_from_mafand(yoruba: list[Sentence], data_dir: Path) -> None:
    p = make_perturbation("code-switch.v1", {"severity": 5, "data_dir": str(data_dir)})
    out = perturb_corpus(p, yoruba, seed=0)
    assert any(out_.changed for out_ in out)
    assert all(o.sentence.tags == s.tags for o, s in zip(out, yoruba, strict=True))


def test_sentence_concat_declares_new_mentions(yoruba: list[Sentence]) -> None:
    out = perturb_corpus(make_perturbation("sentence-concat.v1", {"position": "prepend"}), yoruba, seed=0)
    first = out[0]
    assert first.changed and len(first.sentence.tokens) > len(yoruba[0].tokens)
    # original tokens are shifted to the end and keep their tags
    for i, j in enumerate(first.alignment):
        assert first.sentence.tokens[j] == yoruba[0].tokens[i] and first.sentence.tags[j] == yoruba[0].tags[i]
    assert len(first.sentence.spans) > len(yoruba[0].spans)
