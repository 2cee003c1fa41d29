"""Adversarial greedy search against a deterministic fake system and the gazetteer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.data import Sentence
from harness.errors import ConfigError

from attacks.adversarial import GreedyAttack, f1_loss, misprediction_score
from systems.base import SystemTags


class ExactMatchTagger:
    """Tags tokens it memorised (a one-token gazetteer): deterministic and typo-sensitive."""

    name = "exact-fake"

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table
        self.calls = 0

    @property
    def tags(self) -> SystemTags:
        return SystemTags(labels=frozenset({"PER", "LOC"}))

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        self.calls += len(sentences)
        return [tuple(f"B-{self.table[t]}" if t in self.table else "O" for t in s.tokens) for s in sentences]


CORPUS = [
    Sentence("a/yor/0", "yor", ("Adé", "lọ", "sí", "Èkó", "lánàá"), ("B-PER", "O", "O", "B-LOC", "O")),
    Sentence("a/yor/1", "yor", ("ó", "dára"), ("O", "O")),  # no mention: skipped
    Sentence("a/yor/2", "yor", ("Bọ́lá", "wá"), ("B-PER", "O")),  # not memorised: already wrong, skipped
    Sentence("a/yor/3", "yor", ("Ìbàdàn", "tóbi", "ju", "Ọ̀yọ́", "lọ"), ("B-LOC", "O", "O", "B-LOC", "O")),
]
TABLE = {"Adé": "PER", "Èkó": "LOC", "Ìbàdàn": "LOC", "Ọ̀yọ́": "LOC"}


def test_goal_scores() -> None:
    assert misprediction_score(["B-PER", "I-PER", "O"], ["B-LOC", "I-PER", "B-PER"]) == 0.5
    assert misprediction_score(["O"], ["B-PER"]) == 0.0
    assert f1_loss(["B-PER", "O", "B-LOC"], ["B-PER", "O", "O"]) == pytest.approx(1 - 2 / 3)


@pytest.mark.parametrize("search", ["wir", "greedy"])
def test_greedy_attack_breaks_exact_match_tagger(search: str) -> None:
    system = ExactMatchTagger(TABLE)
    attack = GreedyAttack(search=search, query_budget=100, max_fraction=0.5)
    results = attack.attack(system, CORPUS)
    assert [r.status for r in results] == ["successful", "skipped", "skipped", "successful"]
    for r, s in zip(results, CORPUS, strict=True):
        assert r.queries <= 100
        if r.status == "successful":
            assert r.perturbed is not None and r.perturbed.sentence.tags == s.tags
            assert r.final_score >= 0.5 > r.original_score
            assert 0 < r.perturbed_fraction <= 0.5
    summary = attack.summarize(CORPUS, results)
    assert (summary.successful, summary.failed, summary.skipped) == (2, 0, 2)
    assert summary.attack_success_rate == 1.0
    assert summary.f1_attacked < summary.f1_original
    assert dict(summary.rows())["Attack success rate"] == "100.00%"


def test_greedy_attack_respects_query_budget_and_reports_failure() -> None:
    system = ExactMatchTagger(TABLE)
    attack = GreedyAttack(search="greedy", query_budget=2, threshold=1.0)
    results = attack.attack(system, CORPUS[3:])
    assert results[0].status == "failed"
    assert results[0].queries <= 2


def test_greedy_attack_context_only_cannot_break_exact_match() -> None:
    results = GreedyAttack(target="context", query_budget=50).attack(ExactMatchTagger(TABLE), CORPUS[:1])
    assert results[0].status == "failed"
    assert all(e.index in (1, 2, 4) for e in results[0].perturbed.edits)  # type: ignore[union-attr]


def test_greedy_attack_is_deterministic() -> None:
    a = GreedyAttack(seed=3).attack(ExactMatchTagger(TABLE), CORPUS)
    b = GreedyAttack(seed=3).attack(ExactMatchTagger(TABLE), CORPUS)
    assert a == b


def test_greedy_attack_rejects_structural_perturbations() -> None:
    with pytest.raises(ConfigError, match="not a token-level perturbation"):
        GreedyAttack(attacks=["word-delete.v1"])
    with pytest.raises(ConfigError, match="goal"):
        GreedyAttack(goal="accuracy")


def test_greedy_attack_against_gazetteer(data_dir: Path) -> None:
    from harness.datasets import load_ner
    from systems.gazetteer import GazetteerTagger

    train = load_ner("masakhaner2", "yor", "train", data_dir=data_dir).sentences
    test = load_ner("masakhaner2", "yor", "test", data_dir=data_dir).sentences[:60]
    gazetteer = GazetteerTagger(train="masakhaner2/yor/train").fit_sentences(train)
    attack = GreedyAttack(query_budget=100)
    summary = attack.summarize(test, attack.attack(gazetteer, test))
    assert summary.successful + summary.failed > 0
    assert summary.attack_success_rate > 0.5
    assert summary.f1_attacked < summary.f1_original


# --- adversarial.v1: the search as a model-aware grid perturbation -------------------------------


def test_adversarial_perturbation_attacks_the_first_sentences_against_the_system() -> None:
    from attacks import make_perturbation

    search = make_perturbation("adversarial.v1", {"max_sentences": 3, "query_budget": 50})
    assert search.model_aware and search.params["max_sentences"] == 3  # type: ignore[attr-defined]
    victim = ExactMatchTagger(TABLE)
    perturbed, summary = search.attack_corpus(victim, CORPUS, seed=0)  # type: ignore[attr-defined]
    # The same search as GreedyAttack with the perturbation's settings (severity 2: 20% of the tokens).
    direct = GreedyAttack(query_budget=50, max_fraction=0.2, seed=0)
    expected = direct.attack(ExactMatchTagger(TABLE), CORPUS[:3])
    assert [p.sentence.tokens for p in perturbed[:3]] == [(r.perturbed.sentence if r.perturbed else s).tokens for r, s in zip(expected, CORPUS, strict=False)]
    assert perturbed[0].changed and perturbed[0].sentence.tags == CORPUS[0].tags  # labels carried over
    assert not perturbed[3].changed  # beyond max_sentences: clean
    assert summary["attacked"] == 3 and summary["statuses"] == {"a/yor/0": "successful", "a/yor/1": "skipped", "a/yor/2": "skipped"}
    assert summary["successful"] == 1 and summary["attack_success_rate"] == 1.0
    assert summary["f1_attacked"] < summary["f1_original"]


def test_adversarial_perturbation_cannot_perturb_without_a_system_and_checks_parameters() -> None:
    import numpy as np

    from attacks import make_perturbation

    search = make_perturbation("adversarial.v1")
    with pytest.raises(ConfigError, match="searches against a system.*xner adversarial"):
        search.perturb(CORPUS[0], np.random.default_rng(0))
    with pytest.raises(ConfigError, match="goal must be one of"):
        make_perturbation("adversarial.v1", {"goal": "confuse"})
    with pytest.raises(ConfigError, match="max_sentences must be a positive integer"):
        make_perturbation("adversarial.v1", {"max_sentences": 0})
    with pytest.raises(ConfigError, match="not a token-level perturbation"):
        make_perturbation("adversarial.v1", {"attacks": "word-swap.v1"})
