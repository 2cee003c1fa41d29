"""Grapheme helpers."""

from __future__ import annotations

import unicodedata

from attacks.text import LETTER_MARKS, graphemes, has_marks, starts_with_mark, strip_marks


def test_graphemes_keeps_tone_on_dotted_vowel_nfc_and_nfd() -> None:
    assert graphemes("Ọ̀gbẹ́ni") == ("Ọ̀", "g", "b", "ẹ́", "n", "i")
    nfd = unicodedata.normalize("NFD", "Ọ̀gbẹ́ni")
    assert [unicodedata.normalize("NFC", c) for c in graphemes(nfd)] == ["Ọ̀", "g", "b", "ẹ́", "n", "i"]


def test_strip_marks_keeps_letter_marks_when_asked() -> None:
    assert strip_marks("Ọ̀gbẹ́ni", keep=LETTER_MARKS) == "Ọgbẹni"
    assert strip_marks("Ọ̀gbẹ́ni") == "Ogbeni"
    assert strip_marks("ɓaƙi") == "ɓaƙi"  # Hausa hooked letters are letters, not marks


def test_starts_with_mark_and_has_marks() -> None:
    assert starts_with_mark("\u0301a") and not starts_with_mark("á")
    assert has_marks("á") and not has_marks("abc")
