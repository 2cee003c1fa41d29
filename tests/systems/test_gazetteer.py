from __future__ import annotations


import pytest

from harness.conll import read_conll
from harness.data import Sentence
from harness.datasets import BUNDLED_ROOT
from systems.checks import parametrize_with_checks, run_checks
from systems.gazetteer import GazetteerTagger


def smoke_train(lang: str = "yor") -> list[Sentence]:
    sentences, _ = read_conll(BUNDLED_ROOT / "smoke" / lang / "train.txt", lang=lang, id_prefix=f"smoke/{lang}/train")
    return sentences


@parametrize_with_checks([GazetteerTagger().fit_sentences(smoke_train()), GazetteerTagger(case_fold=True, diacritic_fold=True).fit_sentences(smoke_train("hau"))])
def test_gazetteer_conforms(system, check) -> None:  # type: ignore[no-untyped-def]
    check(system)


def test_gazetteer_prefers_longest_match() -> None:
    train = [
        Sentence("t/0", "eng", ("New", "York"), ("B-LOC", "I-LOC")),
        Sentence("t/1", "eng", ("New", "York", "Times"), ("B-ORG", "I-ORG", "I-ORG")),
    ]
    tagger = GazetteerTagger().fit_sentences(train)
    out = tagger.predict([Sentence("q/0", "eng", ("the", "New", "York", "Times", "in", "New", "York"), ("O",) * 7)])
    assert out == [("O", "B-ORG", "I-ORG", "I-ORG", "O", "B-LOC", "I-LOC")]


def test_gazetteer_diacritic_folding_survives_dropped_tone_marks() -> None:
    train = [Sentence("t/0", "yor", ("Ìbàdàn",), ("B-LOC",))]
    plain = GazetteerTagger().fit_sentences(train)
    folded = GazetteerTagger(diacritic_fold=True).fit_sentences(train)
    query = [Sentence("q/0", "yor", ("Ibadan",), ("O",))]
    assert plain.predict(query) == [("O",)] and folded.predict(query) == [("B-LOC",)]


def test_gazetteer_predict_before_fit_is_explained() -> None:
    with pytest.raises(Exception, match="not fitted"):
        GazetteerTagger().predict([])


def test_check_suite_catches_undeclared_labels() -> None:
    class Liar(GazetteerTagger):
        @property
        def tags(self):  # type: ignore[no-untyped-def]
            from systems.base import SystemTags

            return SystemTags(labels=frozenset({"PER"}), trainable=True)

    results = run_checks(Liar().fit_sentences(smoke_train()))
    assert results["check_labels_declared"] is not None and "outside its declared set" in results["check_labels_declared"]
