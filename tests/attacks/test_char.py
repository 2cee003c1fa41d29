"""Character perturbations: grapheme safety, keyboard layouts, scope."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from harness.data import Sentence

from attacks import make_perturbation
from attacks.base import perturb_corpus
from attacks.char import keyboard_for, keyboards
from attacks.text import graphemes, strip_marks

CHAR = ["char-typos.v1", "char-keyboard.v1", "char-insert.v1", "char-delete.v1", "char-substitute.v1", "char-swap.v1", "char-ocr.v1", "char-homoglyph.v1"]


def test_keyboards_have_sources_languages_and_symmetric_neighbours() -> None:
    layouts = keyboards()
    assert {"qwerty", "azerty", "yoruba", "hausa", "swahili"} <= set(layouts)
    for kb in layouts.values():
        assert len(kb.source) > 40 and kb.languages
        for key, near in kb.neighbours.items():
            assert near, f"{kb.name}: {key} has no neighbours"
            for other in near:
                assert key in kb.neighbours[other]
    assert set(layouts["qwerty"].neighbours["g"]) == {"f", "h", "t", "y", "v", "b"}
    assert "ẹ" in layouts["yoruba"].variants["e"] and "ɓ" in layouts["hausa"].variants["b"]


def test_keyboard_for_maps_languages_to_layouts() -> None:
    assert [keyboard_for(x) for x in ("yor", "hau", "swa", "fon", "eng", "amh")] == ["yoruba", "hausa", "swahili", "azerty", "qwerty", None]


@pytest.mark.parametrize("name", CHAR)
def test_char_perturbation_never_breaks_grapheme_clusters(name: str, yoruba: list[Sentence]) -> None:
    p = make_perturbation(name, {"severity": 5})
    for seed in range(30):
        for before, out in zip(yoruba, perturb_corpus(p, yoruba, seed=seed), strict=True):
            assert out.alignment == tuple(range(len(before.tokens)))
            assert out.sentence.tags == before.tags
            for old, new in zip(before.tokens, out.sentence.tokens, strict=True):
                # Every cluster with a tone mark in the output carries it on a vowel, as in the input.
                for cluster in graphemes(new):
                    marks = [c for c in unicodedata.normalize("NFD", cluster) if unicodedata.combining(c)]
                    if "\u0300" in marks or "\u0301" in marks:
                        assert strip_marks(cluster).lower() in "aeiouɛɔnmаеіо", (name, old, new, cluster)


def test_char_typos_uses_yoruba_modifier_variants() -> None:
    s = Sentence("t/yor/0", "yor", ("sese",) * 40, ("O",) * 40)
    out = make_perturbation("char-keyboard.v1", {"severity": 5}).perturb(s, np.random.default_rng(0))
    assert any("ṣ" in t or "ẹ" in t for t in out.sentence.tokens)


def test_entity_typos_touch_only_entity_tokens(yoruba: list[Sentence]) -> None:
    p = make_perturbation("entity-typos.v1", {"severity": 5})
    for seed in range(10):
        for before, out in zip(yoruba, perturb_corpus(p, yoruba, seed=seed), strict=True):
            for old, new, tag in zip(before.tokens, out.sentence.tokens, before.tags, strict=True):
                if tag == "O":
                    assert old == new


def test_char_typos_severity_increases_changes(yoruba: list[Sentence]) -> None:
    def changed_tokens(severity: int) -> int:
        p = make_perturbation("char-typos.v1", {"severity": severity})
        return sum(len(o.edits) for seed in range(20) for o in perturb_corpus(p, yoruba, seed=seed))

    assert changed_tokens(1) < changed_tokens(3) < changed_tokens(5)


def test_homoglyph_keeps_marks_on_replaced_letter() -> None:
    s = Sentence("t/yor/0", "yor", ("ẹ́ẹ́ẹ́",) * 10, ("O",) * 10)
    out = make_perturbation("char-homoglyph.v1", {"severity": 5}).perturb(s, np.random.default_rng(1))
    changed = [t for t in out.sentence.tokens if t != "ẹ́ẹ́ẹ́"]
    assert changed
    for token in changed:
        assert "\u0435" in token  # Cyrillic ie
        assert len(graphemes(token)) == 3
        assert strip_marks(token) == strip_marks(token, keep=frozenset())  # marks still removable
        assert unicodedata.normalize("NFD", token).count("\u0301") == 3
