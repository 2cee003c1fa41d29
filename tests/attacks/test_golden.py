"""Golden input/output examples, one per registered perturbation (NL-Augmenter's test.json idea).

Each row: perturbation (severity 4), run seed, expected tokens (ASCII-escaped so that no editor can
renormalise them), expected tags and alignment, on the first demo sentence of a two-sentence
Yoruba corpus (the second feeds the pools of entity-swap and sentence-concat). The comment above
each row shows the output as text. A failure here means a behaviour change: give the perturbation
a new versioned name instead of updating the row.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.data import Sentence

from attacks import make_perturbation
from attacks.base import perturb_corpus

CORPUS = [
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
]
LEXICON = "lọ\tgo\nsí\tto\nní\tin\nṣe\tdo\nìpàdé\tmeeting\npẹ̀lú\twith\n"

GOLDEN = [
    # ọ̀gbẹ́ni Adéwálé ṣóyínká lọ sí èkó ní ọjọ́ ajé .
    ('case-change.v1', 7, ('\u1ecd\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e63\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', '\xe8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀bẹ́n Adéwálé Ṣóíná ọ s Èkó ní ọjọ́ Ajé .
    ('char-delete.v1', 7, ('\u1ecc\u0300b\u1eb9\u0301n', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3\xedn\xe1', '\u1ecd', 's', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ѕ̣óyínkа́ lо̣ ѕі́ Èkó ní ọjọ́ Ajé .
    ('char-homoglyph.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u0405\u0323\xf3y\xednk\u0430\u0301', 'l\u043e\u0323', '\u0455\u0456\u0301', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbwẹ́mni Adéwálé Ṣóyínká lọ sí TRÈkó niuí ọjọ́ WAjwé .
    ('char-insert.v1', 7, ('\u1ecc\u0300gbw\u1eb9\u0301mni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', 'TR\xc8k\xf3', 'niu\xed', '\u1ecdj\u1ecd\u0301', 'WAjw\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Ádéwápé Ṣóyknmá lọ sí Ènó ní ọjọ́ Ajé .
    ('char-keyboard.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', '\xc1d\xe9w\xe1p\xe9', '\u1e62\xf3yknm\xe1', 'l\u1ecd', 's\xed', '\xc8n\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni AcIéwálé Ṣóyínká lọ sí Èkó ní ọjọ́ Ajé .
    ('char-ocr.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'AcI\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lọ sí Èkó uy zpọ́ Ajé .
    ('char-substitute.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', '\xc8k\xf3', 'uy', 'zp\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Aéwdálé Ṣóyínká lọ sí kóÈ ní ọjọ́ Ajé .
    ('char-swap.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'A\xe9wd\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', 'k\xf3\xc8', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lọ sí Èómk íj ọjọ́ Ajé .
    ('char-typos.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', '\xc8\xf3mk', '\xedj', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lọ sí Èkó in ọjọ́ Ajé .
    ('code-switch.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', '\xc8k\xf3', 'in', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwàlé Ṣoyínká lọ sí Èkó ní ọjọ́ Ajè .
    ('diacritic-noise.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe0l\xe9', '\u1e62oy\xednk\xe1', 'l\u1ecd', 's\xed', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe8', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ogbeni Adewale Soyinka lo si Eko ni ojo Aje .
    ('diacritics-drop.v1', 7, ('Ogbeni', 'Adewale', 'Soyinka', 'lo', 'si', 'Eko', 'ni', 'ojo', 'Aje', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lọ sí Èkó ní ọjọ́ Ajẹ́ .
    ('dotted-letters.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\u1eb9\u0301', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé ṣóyínká lọ sí Èkó ní ọjọ́ ajé .
    ('entity-casing.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e63\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lọ sí Abuja ní ọjọ́ Ajé .
    ('entity-swap.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', 'Abuja', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé XṢóíynká lọ sí Èkó ní ọọ̀j Ajé .
    ('entity-typos.v1', 8, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', 'X\u1e62\xf3\xedynk\xe1', 'l\u1ecd', 's\xed', '\xc8k\xf3', 'n\xed', '\u1ecd\u1ecd\u0300j', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lọ ṣé sí Èkó ní sá ọjọ́ Ajé ṣe .
    ('filler-insert.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', '\u1e63\xe9', 's\xed', '\xc8k\xf3', 'n\xed', 's\xe1', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '\u1e63e', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'O', 'B-LOC', 'O', 'O', 'B-DATE', 'I-DATE', 'O', 'O'), (0, 1, 2, 3, 5, 6, 7, 9, 10, 12)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyíbká pọ aí Èló bí ọjọ́ Ajé .
    ('nlpaug-keyboard.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xedbk\xe1', 'p\u1ecd', 'a\xed', '\xc8l\xf3', 'b\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀9bẹ́ni Adéwálé Ṣóyínká 1ọ sí Èkó ní ọjọ́ Ajé .
    ('nlpaug-ocr.v1', 7, ('\u1ecc\u03009b\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', '1\u1ecd', 's\xed', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lọ sí Èók ín ọjọ́ Ajé .
    ('nlpaug-random-char.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', '\xc8\xf3k', '\xedn', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lọ sí ; Èkó ní ọjọ́ Ajé .
    ('punctuation-noise.v1', 8, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', ';', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 6, 7, 8, 9, 10)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lọ sí Èkó ní ọjọ́ Ajé . Wọ́n ṣe ìpàdé ní Abuja lánàá pẹ̀lú Àjọ Ìṣọ̀kan Àgbáyé
    ('sentence-concat.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.', 'W\u1ecd\u0301n', '\u1e63e', '\xecp\xe0d\xe9', 'n\xed', 'Abuja', 'l\xe1n\xe0\xe1', 'p\u1eb9\u0300l\xfa', '\xc0j\u1ecd', '\xcc\u1e63\u1ecd\u0300kan', '\xc0gb\xe1y\xe9'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O', 'O', 'O', 'O', 'O', 'B-LOC', 'O', 'O', 'B-ORG', 'I-ORG', 'I-ORG'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gẹ́ni Adéwál Ṣóyínká ọ s Èkó ní ọjọ́ Ajé .
    ('ta-char-delete.v1', 7, ('\u1ecc\u0300g\u1eb9\u0301ni', 'Ad\xe9w\xe1l', '\u1e62\xf3y\xednk\xe1', '\u1ecd', 's', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lPọ sí Èkó ní ọjọ́ Ajé .
    ('ta-char-insert.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'lP\u1ecd', 's\xed', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lq sR Èkó ní ọjD Ajé .
    ('ta-char-substitute.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'lq', 'sR', '\xc8k\xf3', 'n\xed', '\u1ecdjD', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lọ ís Èók ní jọọ́ Ajé .
    ('ta-char-swap.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', '\xeds', '\xc8\xf3k', 'n\xed', 'j\u1ecd\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ոi Aԁéwálé Ṣóyínká lọ sí Èkó ní ọjọ́ Ajé .
    ('ta-homoglyph.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301\u0578i', 'A\u0501\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lọ sí Èkó ní ọjọ́ Aué .
    ('ta-qwerty.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Au\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lọ sí Èkó ní ọjọ́ Ajé .
    ('unicode-normalization.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ade\u0301wa\u0301le\u0301', '\u1e62\xf3y\xednk\xe1', 'lo\u0323', 'si\u0301', 'E\u0300ko\u0301', 'ni\u0301', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)),
    # Ọ̀gb ẹ́ni Adéwálé Ṣóyínká lọ sí Èkó n í ọjọ́ Ajé .
    ('whitespace-noise.v1', 7, ('\u1ecc\u0300gb', '\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 's\xed', '\xc8k\xf3', 'n', '\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 2, 3, 4, 5, 6, 7, 9, 10, 11)),
    # Adéwálé Ṣóyínká lọ Èkó ní ọjọ́ Ajé .
    ('word-delete.v1', 7, ('Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('B-PER', 'I-PER', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (None, 0, 1, 2, None, 3, 4, 5, 6, 7)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká lọ lọ sí Èkó ní ọjọ́ Ajé . .
    ('word-duplicate.v1', 7, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 'l\u1ecd', 'l\u1ecd', 's\xed', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O', 'O'), (0, 1, 2, 3, 5, 6, 7, 8, 9, 10)),
    # Ọ̀gbẹ́ni Adéwálé Ṣóyínká sí lọ Èkó ní ọjọ́ Ajé .
    ('word-swap.v1', 8, ('\u1ecc\u0300gb\u1eb9\u0301ni', 'Ad\xe9w\xe1l\xe9', '\u1e62\xf3y\xednk\xe1', 's\xed', 'l\u1ecd', '\xc8k\xf3', 'n\xed', '\u1ecdj\u1ecd\u0301', 'Aj\xe9', '.'), ('O', 'B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'O', 'B-DATE', 'I-DATE', 'O'), (0, 1, 2, 4, 3, 5, 6, 7, 8, 9)),
]


@pytest.mark.parametrize(("name", "seed", "tokens", "tags", "alignment"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_output(name: str, seed: int, tokens: tuple, tags: tuple, alignment: tuple, tmp_path: Path) -> None:
    params: dict[str, object] = {"severity": 4}
    if name == "code-switch.v1":
        lexicon = tmp_path / "lex.tsv"
        lexicon.write_text(LEXICON, encoding="utf-8")
        params["lexicon"] = str(lexicon)
    out = perturb_corpus(make_perturbation(name, params), CORPUS, seed=seed)[0]
    assert out.sentence.tokens == tokens
    assert out.sentence.tags == tags
    assert out.alignment == alignment
    assert out.changed
