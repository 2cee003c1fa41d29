"""Throughput of our character perturbations vs. textattack's Augmenter and nlpaug's KeyboardAug.

Same 10,000 MasakhaNER 2.0 sentences for every contender (test splits of all languages present,
in sorted language order). Severity is matched: we edit 10% of the tokens (severity 2, one edit
per token); textattack gets ``pct_words_to_swap=0.1`` with one output per sentence, nlpaug
``aug_word_p=0.1`` with one character per word and ``tokenizer=str.split``. Only our side keeps the
labels: each of our outputs is a tagged, aligned, invariant-checked ``Perturbed``; the peers return
strings (``extra_info`` counts how often they changed the number of whitespace tokens, i.e. where
labels could not even be carried positionally).

Run: ``python -m pytest benchmarks/bench_attacks.py --benchmark-only -p no:cacheprovider``
(skips when ../shared/data is absent). Measured ratios, with the command that produced them, are in
benchmarks/README.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.data import Sentence

DATA = Path(os.environ.get("XNER_TEST_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
N = 10_000


@pytest.fixture(scope="module")
def sentences() -> list[Sentence]:
    if not (DATA / "masakhaner2").is_dir():
        pytest.skip(f"MasakhaNER 2.0 not found under {DATA}")
    from harness.datasets import languages, load_ner

    out: list[Sentence] = []
    for lang in languages("masakhaner2", data_dir=DATA):
        out += load_ner("masakhaner2", lang, "test", data_dir=DATA).sentences
    if len(out) < N:
        pytest.skip(f"only {len(out)} MasakhaNER test sentences under {DATA}")
    return out[:N]


def _ours(name: str, sentences: list[Sentence]) -> list:
    from attacks import make_perturbation
    from attacks.base import perturb_corpus

    # layout="qwerty": the comparison is about speed; the per-language layouts cost the same.
    params = {"severity": 2, "layout": "qwerty"}
    return perturb_corpus(make_perturbation(name, params), sentences, seed=0)


def _token_count_changes(sentences: list[Sentence], texts: list[str]) -> int:
    return sum(len(t.split()) != len(s.tokens) for s, t in zip(sentences, texts, strict=True))


@pytest.mark.benchmark(group="char-swap")
def test_bench_ours_char_swap(benchmark, sentences: list[Sentence]) -> None:  # type: ignore[no-untyped-def]
    out = benchmark.pedantic(_ours, args=("char-swap.v1", sentences), rounds=3, iterations=1)
    assert all(o.sentence.tags == s.tags for o, s in zip(out, sentences, strict=True))
    benchmark.extra_info["changed"] = sum(o.changed for o in out)
    benchmark.extra_info["labels_kept"] = len(out)


@pytest.mark.benchmark(group="char-swap")
def test_bench_textattack_neighbouring_char_swap(benchmark, sentences: list[Sentence]) -> None:  # type: ignore[no-untyped-def]
    from attacks.adapters import import_textattack_offline

    ta = import_textattack_offline()
    from textattack.augmentation import Augmenter
    from textattack.constraints.pre_transformation import RepeatModification

    augmenter = Augmenter(
        transformation=ta.transformations.WordSwapNeighboringCharacterSwap(),
        constraints=[RepeatModification()],
        pct_words_to_swap=0.1,
        transformations_per_example=1,
    )
    texts = [s.text for s in sentences]

    def run() -> list[str]:
        return [(augmenter.augment(t) or [t])[0] for t in texts]

    out = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["token_count_changed"] = _token_count_changes(sentences, out)
    benchmark.extra_info["labels_kept"] = 0


@pytest.mark.benchmark(group="keyboard")
def test_bench_ours_char_keyboard(benchmark, sentences: list[Sentence]) -> None:  # type: ignore[no-untyped-def]
    out = benchmark.pedantic(_ours, args=("char-keyboard.v1", sentences), rounds=3, iterations=1)
    assert all(o.sentence.tags == s.tags for o, s in zip(out, sentences, strict=True))
    benchmark.extra_info["changed"] = sum(o.changed for o in out)


@pytest.mark.benchmark(group="keyboard")
def test_bench_ours_char_typos(benchmark, sentences: list[Sentence]) -> None:  # type: ignore[no-untyped-def]
    out = benchmark.pedantic(_ours, args=("char-typos.v1", sentences), rounds=3, iterations=1)
    assert all(o.sentence.tags == s.tags for o, s in zip(out, sentences, strict=True))


@pytest.mark.benchmark(group="keyboard")
def test_bench_textattack_qwerty(benchmark, sentences: list[Sentence]) -> None:  # type: ignore[no-untyped-def]
    from attacks.adapters import import_textattack_offline

    ta = import_textattack_offline()
    from textattack.augmentation import Augmenter
    from textattack.constraints.pre_transformation import RepeatModification

    augmenter = Augmenter(
        transformation=ta.transformations.WordSwapQWERTY(),
        constraints=[RepeatModification()],
        pct_words_to_swap=0.1,
        transformations_per_example=1,
    )
    texts = [s.text for s in sentences]
    out = benchmark.pedantic(lambda: [(augmenter.augment(t) or [t])[0] for t in texts], rounds=1, iterations=1)
    benchmark.extra_info["token_count_changed"] = _token_count_changes(sentences, out)


@pytest.mark.benchmark(group="keyboard")
def test_bench_nlpaug_keyboard(benchmark, sentences: list[Sentence]) -> None:  # type: ignore[no-untyped-def]
    import nlpaug.augmenter.char as nac

    augmenter = nac.KeyboardAug(
        aug_word_p=0.1, aug_char_min=1, aug_char_max=1, tokenizer=str.split, reverse_tokenizer=" ".join
    )
    texts = [s.text for s in sentences]

    def run() -> list[str]:
        out = []
        for t in texts:
            res = augmenter.augment(t)
            out.append(res[0] if isinstance(res, list) and res else (res or t))
        return out

    out = benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info["token_count_changed"] = _token_count_changes(sentences, out)
    benchmark.extra_info["labels_kept"] = 0
