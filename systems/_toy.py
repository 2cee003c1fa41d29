"""A tiny synthetic data directory in the real layout, for tests, doctests and benchmarks.

The sentences are generated from templates (no real data is copied): English CoNLL-style training
text with PER/ORG/LOC/MISC and a few "target languages" (``hau``, ``yor``, ``swa``) in MasakhaNER
layout with PER/ORG/LOC/DATE, plus MAFAND-style parallel text. Names carry tone marks and
diacritics so tokenisers meet non-ASCII text.
"""

from __future__ import annotations

import random
from pathlib import Path

from harness.conll import write_conll
from harness.data import Sentence, iob2_from_spans, Span

_PERSONS = ["John Smith", "Adé Ọlá", "Amina Bello", "Kwame Mensah", "Mary Jones", "Chinedu Okafor", "Ọ̀gbẹ́ni Adéwálé"]
_PLACES = ["Lagos", "Nairobi", "Kano", "London", "Èkó", "Dodoma", "Ìbàdàn"]
_ORGS = ["Reuters", "Arsenal", "Unilever", "Dangote Group", "BBC"]
_MISC = ["German", "Nigerian", "English"]
_DATES = ["Monday", "2021", "January"]

_TEMPLATES = {
    "eng": [
        ("{PER} visited {LOC} with {ORG} officials .", None),
        ("{ORG} said {PER} will travel to {LOC} .", None),
        ("The {MISC} minister met {PER} in {LOC} .", None),
        ("Shares of {ORG} rose in {LOC} on Friday .", None),
    ],
    "hau": [("{PER} ya je {LOC} ranar {DATE} .", None), ("Kamfanin {ORG} ya ce {PER} na {LOC} .", None)],
    "yor": [("{PER} lọ sí {LOC} ní ọjọ́ {DATE} .", None), ("Ilé-iṣẹ́ {ORG} sọ pé {PER} wà ní {LOC} .", None)],
    "swa": [("{PER} alikwenda {LOC} siku ya {DATE} .", None), ("Kampuni ya {ORG} ilisema {PER} yuko {LOC} .", None)],
}


def toy_sentences(lang: str, n: int, *, seed: int = 0, dataset: str = "toy", split: str = "train") -> list[Sentence]:
    """``n`` template sentences of ``lang`` with gold IOB2 tags.

    >>> s = toy_sentences("yor", 1)[0]
    >>> len(s.tokens) == len(s.tags) and s.lang == "yor"
    True
    """
    rng = random.Random(f"{lang}-{seed}-{split}")
    out = []
    fillers = {"PER": _PERSONS, "LOC": _PLACES, "ORG": _ORGS, "MISC": _MISC, "DATE": _DATES}
    for i in range(n):
        template, _ = rng.choice(_TEMPLATES[lang])
        tokens: list[str] = []
        spans: list[Span] = []
        for word in template.split(" "):
            if word.startswith("{") and word.endswith("}"):
                label = word[1:-1]
                words = rng.choice(fillers[label]).split(" ")
                spans.append(Span(len(tokens), len(tokens) + len(words), label))
                tokens += words
            else:
                tokens.append(word)
        out.append(Sentence(f"{dataset}/{lang}/{split}/{i}", lang, tuple(tokens), iob2_from_spans(spans, len(tokens))))
    return out


def write_toy_data_dir(root: str | Path, *, n: int = 30, seed: int = 0) -> Path:
    """Write a toy data directory (``conll2003/eng``, ``masakhaner2/{hau,yor,swa}``, ``mafand_mt``).

    ``swa`` has no train split, like most MasakhaNER languages in ../shared/data.
    """
    root = Path(root)
    for split in ("train", "dev", "test"):
        write_conll(root / "conll2003" / "eng" / f"{split}.txt", toy_sentences("eng", n, seed=seed, dataset="conll2003", split=split))
        for lang in ("hau", "yor", "swa"):
            if lang == "swa" and split == "train":
                continue
            sentences = toy_sentences(lang, max(4, n // 2), seed=seed, dataset="masakhaner2", split=split)
            write_conll(root / "masakhaner2" / lang / f"{split}.txt", sentences)
    for lang in ("hau", "yor"):
        folder = root / "mafand_mt" / lang
        folder.mkdir(parents=True, exist_ok=True)
        english = [" ".join(s.tokens) for s in toy_sentences("eng", 6, seed=seed, split="mafand")]
        target = [" ".join(s.tokens) for s in toy_sentences(lang, 6, seed=seed, split="mafand")]
        (folder / "dev.en").write_text("\n".join(english) + "\n", encoding="utf-8")
        (folder / f"dev.{lang}").write_text("\n".join(target) + "\n", encoding="utf-8")
    (root / "manifest.json").write_text("{}\n", encoding="utf-8")
    return root
