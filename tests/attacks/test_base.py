"""The perturbation contract: Perturbed, the invariant check, per-item seeding, the registry."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from harness.data import Sentence, Span
from harness.errors import ConfigError, ConformanceError, UnknownComponentError, UnsupportedLanguageError

from attacks import PERTURBATIONS, make_perturbation
from attacks.base import (
    BasePerturbation,
    Edit,
    Perturbed,
    Rewriter,
    TokenPerturbation,
    item_seed,
    perturb_corpus,
    unchanged,
    verify_perturbed,
)

S = Sentence("t/yor/0", "yor", ("Adé", "lọ", "sí", "Èkó", "Ìbàdàn"), ("B-PER", "O", "O", "B-LOC", "I-LOC"))


class _Broken(BasePerturbation):
    """A perturbation whose edit is given by the test."""

    name = "broken.v0"

    def __init__(self, result=None, scope: str = "both", may_change: bool = False) -> None:  # type: ignore[no-untyped-def]
        super().__init__(severity=2)
        self.result = result
        self.scope = scope  # type: ignore[assignment]
        self.may_change_entity_count = may_change  # type: ignore[misc]

    def _perturb(self, sentence, rng):  # type: ignore[no-untyped-def]
        return self.result(sentence)


def test_perturbed_map_span_through_alignment_and_replacement() -> None:
    w = Rewriter(S)
    w.keep(0)
    w.delete(1)
    w.keep(2)
    w.replace_mention(Span(3, 5, "LOC"), ["Kàdúná"])
    p = w.build()
    assert p.sentence.tokens == ("Adé", "sí", "Kàdúná")
    assert p.alignment == (0, None, 1, 2, None)
    assert p.map_span(Span(0, 1, "PER")) == Span(0, 1, "PER")
    assert p.map_span(Span(3, 5, "LOC")) == Span(2, 3, "LOC")
    assert p.map_span(Span(0, 2, "X")) is None  # token 1 deleted
    assert p.changed and p.changed_token_fraction == pytest.approx(3 / 5)


def test_verify_perturbed_rejects_changed_tags_in_place() -> None:
    # Tags changed without any declared edit: the carried spans and the new tags disagree.
    bad = _Broken(lambda s: Perturbed(s.with_tags(("B-ORG", "O", "O", "B-LOC", "I-LOC")), tuple(range(5)), ()))
    with pytest.raises(ConformanceError, match=r"broken.v0.*t/yor/0.*gold spans from the new tags differ"):
        bad.perturb(S, np.random.default_rng(0))


def test_verify_perturbed_rejects_mention_replaced_by_a_span_of_another_type() -> None:
    # A declared mention replacement whose new span has another label: the type-change check
    # (and only it) must name the mention and the new type; the new tags agree with the new span.
    def swap_type(s: Sentence) -> Perturbed:
        tags = ("B-ORG", "O", "O", "B-LOC", "I-LOC")
        edit = Edit("mention-replace", 0, 0, "Adé", "Adé", span=Span(0, 1, "PER"), new_span=Span(0, 1, "ORG"))
        return Perturbed(s.with_tags(tags), tuple(range(5)), (edit,))

    with pytest.raises(ConformanceError) as info:
        _Broken(swap_type).perturb(S, np.random.default_rng(0))
    message = str(info.value)
    assert "mention Span(start=0, end=1, label='PER') changed type to ORG" in message
    assert "gold spans from the new tags differ" not in message


def test_verify_perturbed_rejects_lost_mention() -> None:
    def drop_entity(s: Sentence) -> Perturbed:
        w = Rewriter(s)
        w.delete(0)
        for i in range(1, 5):
            w.keep(i)
        return w.build()

    with pytest.raises(ConformanceError, match="not carried"):
        _Broken(drop_entity).perturb(S, np.random.default_rng(0))


def test_verify_perturbed_allows_declared_entity_count_change() -> None:
    def drop_entity(s: Sentence) -> Perturbed:
        w = Rewriter(s)
        w.delete(0)
        for i in range(1, 5):
            w.keep(i)
        return w.build()

    out = _Broken(drop_entity, may_change=True).perturb(S, np.random.default_rng(0))
    assert out.sentence.spans == (Span(2, 4, "LOC"),)


def test_verify_perturbed_rejects_scope_violation() -> None:
    def edit_entity(s: Sentence) -> Perturbed:
        w = Rewriter(s)
        w.keep(0, "Adée")
        for i in range(1, 5):
            w.keep(i)
        return w.build()

    with pytest.raises(ConformanceError, match="context perturbation changed 'Adé'"):
        _Broken(edit_entity, scope="context").perturb(S, np.random.default_rng(0))


def test_verify_perturbed_rejects_detached_combining_mark() -> None:
    def detach(s: Sentence) -> Perturbed:
        w = Rewriter(s)
        w.keep(0)
        w.keep(1, "\u0323lo")
        for i in range(2, 5):
            w.keep(i)
        return w.build()

    with pytest.raises(ConformanceError, match="detached combining mark"):
        _Broken(detach).perturb(S, np.random.default_rng(0))


def test_verify_perturbed_rejects_token_with_space() -> None:
    class Spacey(TokenPerturbation):
        name = "spacey.v0"

        def edit_token(self, token: str, rng: np.random.Generator) -> str:
            return token[:1] + " " + token[1:]

    with pytest.raises(ConformanceError, match="spacey.v0.*t/yor/0"):
        Spacey(severity=5).perturb_at(S, [1], np.random.default_rng(0))


def test_verify_perturbed_rejects_non_injective_alignment() -> None:
    bad = Perturbed(S, (0, 0, 2, 3, 4), (Edit("x", 1, 0, "lọ", "Adé"),))
    with pytest.raises(ConformanceError, match="two original tokens"):
        verify_perturbed(_Broken(), S, bad)


def test_verify_perturbed_rejects_undeclared_new_mention() -> None:
    bad = Perturbed(S.with_tags(("B-PER", "B-ORG", "O", "B-LOC", "I-LOC")), tuple(range(5)), ())
    with pytest.raises(ConformanceError, match="unexpected"):
        verify_perturbed(_Broken(), S, bad)


def test_item_seed_is_stable_across_processes() -> None:
    # A pinned value: a change means every published perturbed set changes; rename versions instead.
    code = "from attacks.base import item_seed; print(item_seed(3, 'char-typos.v1', {'severity': 2}, 'x/yor/test/1'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert int(out) == item_seed(3, "char-typos.v1", {"severity": 2}, "x/yor/test/1")
    assert item_seed(3, "char-typos.v1", {"severity": 2}, "x/yor/test/1") != item_seed(
        4, "char-typos.v1", {"severity": 2}, "x/yor/test/1"
    )


def test_perturb_corpus_is_per_item_deterministic(yoruba: list[Sentence]) -> None:
    p = make_perturbation("char-typos.v1", {"severity": 5})
    forward = perturb_corpus(p, yoruba, seed=11)
    backward = perturb_corpus(p, yoruba[::-1], seed=11)[::-1]
    subset = perturb_corpus(p, yoruba[1:2], seed=11)
    assert forward == backward
    assert subset[0] == forward[1]
    assert perturb_corpus(p, yoruba, seed=12) != forward


def test_perturb_corpus_seed_ignores_data_dir_location(yoruba: list[Sentence]) -> None:
    a = make_perturbation("entity-swap.v1", {"severity": 5, "data_dir": "/a"})
    b = make_perturbation("entity-swap.v1", {"severity": 5, "data_dir": "/b"})
    assert perturb_corpus(a, yoruba, seed=1) == perturb_corpus(b, yoruba, seed=1)
    assert a.params["data_dir"] == "/a"


def test_perturb_corpus_refuses_unsupported_language_before_work() -> None:
    amharic = Sentence("t/amh/0", "amh", ("ሰላም",), ("O",))
    with pytest.raises(UnsupportedLanguageError, match="char-typos.v1.*'amh'.*supports: .*yor"):
        perturb_corpus(make_perturbation("char-typos.v1"), [amharic], seed=0)
    # An explicit layout supports any language (Ge'ez letters simply have no neighbours).
    out = perturb_corpus(make_perturbation("char-typos.v1", {"layout": "qwerty"}), [amharic], seed=0)
    assert out[0].sentence.tags == ("O",)


def test_make_perturbation_unknown_param_lists_accepted() -> None:
    with pytest.raises(ConfigError, match="no parameter 'strength'; it accepts: severity, target, layout, min_length"):
        make_perturbation("char-typos.v1", {"strength": 3})


def test_make_perturbation_invalid_value_names_parameter() -> None:
    with pytest.raises(ConfigError, match=r"'severity' parameter of perturbation 'char-typos.v1' must be one of 1, 2, 3, 4, 5. Got 9"):
        make_perturbation("char-typos.v1", {"severity": 9})


def test_make_perturbation_unknown_name_suggests() -> None:
    with pytest.raises(UnknownComponentError, match="Did you mean 'char-typos.v1'"):
        make_perturbation("char-typo.v1")


@pytest.mark.parametrize("name", sorted(set(PERTURBATIONS.names()) - {"textattack.v1", "nlpaug.v1"}))
def test_registered_perturbation_declares_contract(name: str) -> None:
    p = make_perturbation(name)
    assert p.name == name and name.rsplit(".", 1)[1].startswith("v")
    assert p.scope in ("context", "entity", "both")
    assert isinstance(p.may_change_entity_count, bool)
    assert p.params["severity"] in (1, 2, 3, 4, 5)
    json.dumps(p.params)  # JSON-able for manifests
    assert p.supports("yor") or p.supports("hau")


def test_unchanged_has_identity_alignment() -> None:
    out = unchanged(S)
    assert out.alignment == (0, 1, 2, 3, 4) and not out.changed


def test_import_attacks_is_light() -> None:
    code = "import sys, attacks; print(','.join(m for m in ('torch', 'textattack', 'nlpaug', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_item_rng_matches_perturb_corpus(yoruba: list[Sentence]) -> None:
    from attacks.base import item_rng

    p = make_perturbation("char-typos.v1", {"severity": 5})
    corpus = perturb_corpus(p, yoruba, seed=2)
    single = [p.perturb(s, item_rng(2, p, s.id)) for s in yoruba]
    assert corpus == single
