"""Translators: tokenisation, NLLB codes, the HF seq2seq path on a tiny local M2M100, parallel corpus, lexicon."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import UnknownComponentError, UnsupportedLanguageError, XnerError
from systems.translators import (
    NLLB_CODES,
    TRANSLATORS,
    BilingualLexicon,
    HFSeq2SeqTranslator,
    LexicalTranslator,
    ParallelCorpusTranslator,
    learn_bilingual_lexicon,
    make_translator,
    simple_tokenize,
)

from .tiny_models import build_tiny_m2m100


class Diagonal:
    """A fake aligner: word k ↔ word k."""

    name = "diagonal"

    def align(self, sources, targets):  # type: ignore[no-untyped-def]
        return [tuple((i, i) for i in range(min(len(s), len(t)))) for s, t in zip(sources, targets, strict=True)]


def test_simple_tokenize_keeps_tone_marks_and_inner_apostrophes() -> None:
    assert simple_tokenize("Ọ̀gbẹ́ni lọ sí Èkó, kuri'a.") == ["Ọ̀gbẹ́ni", "lọ", "sí", "Èkó", ",", "kuri'a", "."]


def test_simple_tokenize_splits_markers_off_words() -> None:
    assert simple_tokenize("[Bello] ya [[Kano]]") == ["[", "Bello", "]", "ya", "[", "[", "Kano", "]", "]"]


def test_nllb_codes_cover_masakhaner_projection_languages() -> None:
    # systems.md §0: NLLB lacks bbj and pcm; the other 18 MasakhaNER languages must be mapped.
    for lang in ["bam", "ewe", "fon", "hau", "ibo", "kin", "lug", "luo", "mos", "nya", "sna", "swa", "tsn", "twi", "wol", "xho", "yor", "zul"]:
        assert lang in NLLB_CODES
    assert "pcm" not in NLLB_CODES and NLLB_CODES["swa"] == "swh_Latn"


def test_hf_translator_unknown_language_names_known_codes() -> None:
    with pytest.raises(UnsupportedLanguageError, match="no NLLB code for 'pcm'"):
        HFSeq2SeqTranslator().code("pcm")


def test_translator_registry_and_unknown_name() -> None:
    assert {"nllb", "parallel-corpus", "lexical"} <= set(TRANSLATORS.names())
    with pytest.raises(UnknownComponentError, match="Did you mean 'lexical'"):
        make_translator("lexicall")


@pytest.fixture(scope="module")
def tiny_nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_m2m100(tmp_path_factory.mktemp("tiny-nllb"))


def test_hf_translator_translates_batches_with_local_model(tiny_nllb: Path) -> None:
    translator = HFSeq2SeqTranslator(model=str(tiny_nllb), batch_size=2, num_beams=2, max_new_tokens=6)
    sentences = [["Bello", "visited", "Kano"], ["Amina", "works"], ["Lagos"]]
    out = translator.translate(sentences, src_lang="eng", tgt_lang="hau")
    assert len(out) == 3
    assert all(t.alignment is None and isinstance(t.text, str) for t in out)
    # Batching must not change the output of a deterministic (beam) decoder.
    alone = [translator.translate([s], src_lang="eng", tgt_lang="hau")[0] for s in sentences]
    assert [t.tokens for t in alone] == [t.tokens for t in out]


def test_hf_translator_rejects_language_missing_from_tokenizer(tiny_nllb: Path) -> None:
    with pytest.raises(UnsupportedLanguageError, match="yor_Latn"):
        HFSeq2SeqTranslator(model=str(tiny_nllb)).translate([["a"]], src_lang="eng", tgt_lang="yor")


def test_hf_translator_similarity_is_symmetric_and_positive(tiny_nllb: Path) -> None:
    translator = HFSeq2SeqTranslator(model=str(tiny_nllb), batch_size=4)
    logp = translator.log_probability(["Bello visited Kano"], ["Bello ya ziyarci Kano"], src_lang="eng", tgt_lang="hau")
    assert len(logp) == 1 and logp[0] < 0
    ab = translator.similarity(["Bello"], ["Kano"], lang_a="eng", lang_b="hau")
    ba = translator.similarity(["Kano"], ["Bello"], lang_a="hau", lang_b="eng")
    assert ab[0] > 0 and ab[0] == pytest.approx(ba[0], rel=1e-5)


def test_hf_translator_missing_model_is_model_unavailable() -> None:
    from harness.errors import ModelUnavailableError

    with pytest.raises(ModelUnavailableError, match="lexical"):
        HFSeq2SeqTranslator(model="/nonexistent/nllb-dir").translate([["a"]], src_lang="eng", tgt_lang="hau")


def test_parallel_corpus_translator_returns_human_translation_both_ways() -> None:
    pairs = {"hau": [("Bello visited Kano.", "Bello ya ziyarci Kano."), ("Amina works.", "Amina tana aiki.")]}
    translator = ParallelCorpusTranslator(dataset="", pairs=pairs)
    [out] = translator.translate([["bello", "visited", "Kano", "."]], src_lang="eng", tgt_lang="hau")
    assert out.tokens == ("Bello", "ya", "ziyarci", "Kano", ".")
    [back] = translator.translate([["Amina", "tana", "aiki", "."]], src_lang="hau", tgt_lang="eng")
    assert back.text == "Amina works."


def test_parallel_corpus_translator_unknown_sentence_raises_without_fallback() -> None:
    translator = ParallelCorpusTranslator(dataset="", pairs={"hau": [("a b", "c d")]})
    with pytest.raises(XnerError, match="1 of 1 sentences are not in parallel corpus"):
        translator.translate([["x"]], src_lang="eng", tgt_lang="hau")


def test_parallel_corpus_translator_reads_mafand(data_dir: Path) -> None:
    from harness.datasets import load_parallel

    en, sw = load_parallel("mafand", "swa", "dev", data_dir=data_dir)[3]
    translator = ParallelCorpusTranslator(data_dir=data_dir, splits=("dev",))
    [out] = translator.translate([simple_tokenize(sw)], src_lang="swa", tgt_lang="eng")
    assert out.text == en


def test_learn_bilingual_lexicon_estimates_translation_probabilities() -> None:
    pairs = [("the house", "la casa"), ("a house", "una casa"), ("the car", "el coche"), ("the end", "la fin")]
    lexicon = learn_bilingual_lexicon(pairs, src_lang="eng", tgt_lang="spa", aligner=Diagonal())
    assert lexicon.candidates("the") == (("la", 2 / 3), ("el", 1 / 3))
    assert lexicon.best("House") == "Casa" and lexicon.counts["the"] == 3
    assert "car" in lexicon and "bus" not in lexicon and len(lexicon) == 5


def test_learn_bilingual_lexicon_min_count_and_punctuation() -> None:
    pairs = [("house .", "casa ."), ("house !", "casa !"), ("cat .", "gato .")]
    lexicon = learn_bilingual_lexicon(pairs, aligner=Diagonal(), min_count=2)
    assert set(lexicon.entries) == {"house"}  # cat seen once; punctuation dropped


def test_lexical_translator_copies_unknown_words_and_returns_diagonal_alignment() -> None:
    lexicon = BilingualLexicon("hau", "eng", {"ya": (("he", 1.0),), "ziyarci": (("visited", 1.0),)})
    translator = LexicalTranslator(dataset="", lexicons={("hau", "eng"): lexicon})
    [out] = translator.translate([["Bello", "ya", "ziyarci", "Kano", "[", "5", "]"]], src_lang="hau", tgt_lang="eng")
    assert out.tokens == ("Bello", "he", "visited", "Kano", "[", "5", "]")
    assert out.alignment == tuple((i, i) for i in range(7))


def test_lexical_translator_learns_from_pairs_with_given_aligner() -> None:
    pairs = {"hau": [("he visited Kano", "ya ziyarci Kano"), ("he went", "ya tafi")]}
    translator = LexicalTranslator(dataset="", pairs=pairs, aligner="surface", min_count=1)
    # 'surface' links only identical words, so only names and shared tokens are learned.
    assert translator.lexicon("eng", "hau").best("Kano") == "Kano"


def test_lexical_translator_without_parallel_text_is_model_unavailable() -> None:
    from harness.errors import ModelUnavailableError

    with pytest.raises(ModelUnavailableError, match="no parallel text for eng-zul"):
        LexicalTranslator(dataset="", pairs={}).translate([["a"]], src_lang="zul", tgt_lang="eng")


def test_lexical_translator_caches_learned_lexicon_on_disk() -> None:
    import os
    from pathlib import Path

    pairs = {"hau": [("he visited Kano", "ya ziyarci Kano"), ("he went home", "ya tafi gida")]}
    first = LexicalTranslator(dataset="", pairs=pairs, aligner="surface", min_count=1).lexicon("hau", "eng")
    cached = list((Path(os.environ["XNER_CACHE_DIR"]) / "lexicons").glob("hau-eng-*.json"))
    assert cached
    again = LexicalTranslator(dataset="", pairs=pairs, aligner="surface", min_count=1).lexicon("hau", "eng")
    assert again == first
