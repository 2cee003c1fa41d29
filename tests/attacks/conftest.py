"""Fixtures for the attacks tests: small Yoruba/Hausa sentences and a tiny lexicon."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.data import Sentence


@pytest.fixture
def yoruba() -> list[Sentence]:
    return [
        Sentence(
            "demo/yor/0",
            "yor",
            ("Ọ̀gbẹ́ni", "Adéwálé", "Ṣóyínká", "lọ", "sí", "Èkó", "ní", "ọjọ́", "Ajé", "."),
            ("O", "B-PER", "I-PER", "O", "O", "B-LOC", "O", "B-DATE", "I-DATE", "O"),
        ),
        Sentence(
            "demo/yor/1",
            "yor",
            ("Wọ́n", "ṣe", "ìpàdé", "ní", "Abuja", "lánàá", "pẹ̀lú", "Àjọ", "Ìṣọ̀kan", "Àgbáyé"),
            ("O", "O", "O", "O", "B-LOC", "O", "O", "B-ORG", "I-ORG", "I-ORG"),
        ),
        Sentence("demo/yor/2", "yor", ("Bọ́lá",), ("B-PER",)),
        Sentence("demo/yor/3", "yor", (), ()),
    ]


@pytest.fixture
def lexicon_file(tmp_path: Path) -> Path:
    path = tmp_path / "yor-eng.tsv"
    path.write_text("# demo lexicon\nlọ\tgo\nsí\tto\nní\tin\nṣe\tdo\nìpàdé\tmeeting\npẹ̀lú\twith\n", encoding="utf-8")
    return path
