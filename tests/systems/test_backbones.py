"""Backbones: offline build, first-subword alignment, windows, caching, determinism, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.data import Sentence, is_valid_iob2
from harness.errors import ConfigError, ModelUnavailableError
from systems import backbones
from systems._toy import toy_sentences, write_toy_data_dir
from systems.backbones import (
    SubwordEncoder,
    Tagger,
    distillation_loss,
    length_buckets,
    repair_iob2,
    resolve_backbone,
    tag_names_for,
    train_tagger,
)

LABELS = ["LOC", "MISC", "ORG", "PER"]
TAGS = st.lists(st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]), max_size=30)


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_data_dir(tmp_path_factory.mktemp("toy-data"), n=24)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def tagger(toy_dir: Path, cache: Path) -> Tagger:
    train = toy_sentences("eng", 24)
    return train_tagger(
        train, labels=LABELS, backbone="offline-tiny", epochs=2, lr=3e-3, batch_size=8,
        max_length=24, cache_dir=cache, data_dir=toy_dir, show_progress=False,
    )


def test_tag_names_for_is_sorted_with_o_first() -> None:
    assert tag_names_for(["PER", "LOC"]) == ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")
    with pytest.raises(ConfigError):
        tag_names_for(["O"])


@given(TAGS)
def test_repair_iob2_always_valid_and_only_changes_orphans(tags: list[str]) -> None:
    repaired = repair_iob2(tags)
    assert is_valid_iob2(repaired)
    for before, after in zip(tags, repaired, strict=True):
        assert before == after or (before.startswith("I-") and after == "B-" + before[2:])
    if is_valid_iob2(tags):
        assert repaired == tuple(tags)


def test_length_buckets_groups_similar_lengths() -> None:
    batches = length_buckets([5, 50, 6, 49, 7], 2)
    assert sorted(i for b in batches for i in b) == [0, 1, 2, 3, 4]
    assert batches[0] == [1, 3]


@settings(max_examples=40, deadline=None)
@given(n_words=st.integers(0, 120), max_length=st.integers(8, 40))
def test_subword_encoder_windows_own_each_word_once(tagger: Tagger, n_words: int, max_length: int) -> None:
    encoder = SubwordEncoder(tagger.tokenizer, max_length)
    tokens = [f"Ọ̀gbẹ́ni{i}" if i % 3 else "Lagos" for i in range(n_words)]
    windows = encoder.windows([tokens])
    owned = sorted(w for window in windows for w in window.word_indices)
    assert owned == list(range(n_words))
    (flat, starts), = encoder.subwords([tokens])
    for window in windows:
        assert len(window.input_ids) <= max_length
        ids = list(window.input_ids)
        assert ids[: len(encoder.prefix)] == encoder.prefix
        assert ids[len(ids) - len(encoder.suffix) :] == encoder.suffix
        for word, position in zip(window.word_indices, window.word_positions, strict=True):
            assert ids[position] == flat[starts[word]]  # the word's first subword


def test_offline_backbone_tokenizer_keeps_tone_marks(tagger: Tagger) -> None:
    text = ["Ọ̀gbẹ́ni", "Adéwálé", "lọ", "sí", "Èkó"]
    ids = tagger.tokenizer(text, is_split_into_words=True, add_special_tokens=False)["input_ids"]
    assert tagger.tokenizer.decode(ids).strip() == " ".join(text)


def test_tagger_predict_one_thousand_token_sentence_is_not_truncated(tagger: Tagger) -> None:
    tokens = tuple(f"word{i}" if i % 7 else "Lagos" for i in range(1000))
    sentence = Sentence("long/0", "eng", tokens, ("O",) * 1000)
    assert len(tagger.encoder.windows([tokens])) > 1
    (tags,) = tagger.predict([sentence])
    (probs,) = tagger.predict_proba([sentence])
    assert len(tags) == 1000 and is_valid_iob2(tags)
    assert probs.shape == (1000, len(tagger.tag_names))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # Every word got logits from some window (no row left at the zero initialisation).
    assert not np.any(np.all(tagger.logits([sentence])[0] == 0.0, axis=1))


def test_tagger_predict_batch_equals_one_by_one(tagger: Tagger) -> None:
    sentences = toy_sentences("yor", 9, split="test") + [Sentence("x/1", "eng", ("A",), ("O",))]
    batched = tagger.predict_proba(sentences)
    single = [tagger.predict_proba([s])[0] for s in sentences]
    for a, b in zip(batched, single, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert tagger.predict(sentences) == [tagger.predict([s])[0] for s in sentences]


def test_tagger_predict_empty_sentence_and_empty_batch(tagger: Tagger) -> None:
    assert tagger.predict([]) == []
    assert tagger.predict([Sentence("e/0", "eng", (), ())]) == [()]
    assert tagger.predict_proba([()])[0].shape == (0, len(tagger.tag_names))


def test_tagger_save_load_roundtrip_gives_identical_probabilities(tagger: Tagger, tmp_path: Path) -> None:
    sentences = toy_sentences("hau", 5, split="test")
    tagger.save(tmp_path / "t")
    assert not list((tmp_path / "t").glob("*.bin")) and list((tmp_path / "t").glob("*.safetensors"))
    loaded = Tagger.load(tmp_path / "t")
    assert loaded.labels == tagger.labels
    for a, b in zip(tagger.predict_proba(sentences), loaded.predict_proba(sentences), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_tagger_load_rejects_directory_without_metadata(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="xner_tagger.json"):
        Tagger.load(tmp_path)


def test_train_tagger_reuses_cache_without_training(toy_dir: Path, cache: Path, tagger: Tagger, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("retrained although a cached tagger exists")

    monkeypatch.setattr(backbones.training, "fit_token_model", boom)
    again = train_tagger(
        toy_sentences("eng", 24), labels=LABELS, backbone="offline-tiny", epochs=2, lr=3e-3, batch_size=8,
        max_length=24, cache_dir=cache, data_dir=toy_dir, show_progress=False,
    )
    assert again.info["key"] == tagger.info["key"]
    # The same trained instance: the build id that keys its cached predictions did not change.
    assert again.info["build_id"] == tagger.info["build_id"]


def test_a_retrained_tagger_gets_a_new_build_id_and_its_fit_report_names_it(
    toy_dir: Path, tagger: Tagger, tmp_path: Path
) -> None:
    from systems.transfer import training_report

    retrained = train_tagger(  # the same inputs into an empty cache, as on another machine
        toy_sentences("eng", 24), labels=LABELS, backbone="offline-tiny", epochs=2, lr=3e-3, batch_size=8,
        max_length=24, cache_dir=tmp_path / "other-cache", data_dir=toy_dir, show_progress=False,
    )
    assert retrained.info["key"] == tagger.info["key"]
    assert retrained.info["build_id"] != tagger.info["build_id"]
    assert training_report(retrained)["build"] == retrained.info["build_id"]


def test_train_tagger_same_seed_same_model_other_seed_differs(toy_dir: Path, tmp_path: Path, tagger: Tagger) -> None:
    common = dict(labels=LABELS, backbone="offline-tiny", epochs=2, lr=3e-3, batch_size=8, max_length=24, data_dir=toy_dir, show_progress=False)
    train = toy_sentences("eng", 24)
    same = train_tagger(train, cache_dir=tmp_path / "a", **common)  # type: ignore[arg-type]
    other = train_tagger(train, cache_dir=tmp_path / "b", seed=1, **common)  # type: ignore[arg-type]
    probe = toy_sentences("eng", 4, split="test")
    for a, b in zip(same.predict_proba(probe), tagger.predict_proba(probe), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert any(not np.allclose(a, b) for a, b in zip(same.predict_proba(probe), other.predict_proba(probe), strict=True))


def test_train_tagger_early_stopping_records_history(toy_dir: Path, tmp_path: Path) -> None:
    tagger = train_tagger(
        toy_sentences("eng", 16), dev=toy_sentences("eng", 8, split="dev"), labels=LABELS, backbone="offline-tiny",
        epochs=6, lr=1e-7, patience=1, batch_size=8, max_length=24, cache_dir=tmp_path, data_dir=toy_dir, show_progress=False,
    )
    history = tagger.info["history"]
    assert all("dev_f1" in h for h in history)
    # With a learning rate this small dev F1 cannot improve, so patience 1 stops after epoch 2.
    assert len(history) == 2 and tagger.info["stopped"] == "early stopping on dev"


@pytest.mark.slow
def test_train_tagger_learns_toy_task(toy_dir: Path, tmp_path: Path) -> None:
    from harness.metrics import score_corpus

    tagger = train_tagger(
        toy_sentences("eng", 120), labels=LABELS, backbone="offline-tiny", epochs=15, lr=5e-3, batch_size=8,
        max_length=32, cache_dir=tmp_path, data_dir=toy_dir, show_progress=False,
    )
    test = toy_sentences("eng", 40, split="test")
    assert score_corpus([s.tags for s in test], tagger.predict(test)).f1 > 0.5


def test_resolve_backbone_hub_name_without_network_raises_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty hub cache
    with pytest.raises(ModelUnavailableError, match="--backbone e5-small") as info:
        resolve_backbone("xlm-roberta-large", cache_dir=tmp_path)
    assert "not in the local" in str(info.value)


def test_resolve_backbone_local_directory_is_used_as_is(tmp_path: Path) -> None:
    assert resolve_backbone(str(tmp_path)) == str(tmp_path)


def test_offline_backbone_is_cached_by_content(toy_dir: Path, tmp_path: Path) -> None:
    first = resolve_backbone("offline-tiny", cache_dir=tmp_path, data_dir=toy_dir)
    assert resolve_backbone("offline-tiny", cache_dir=tmp_path, data_dir=toy_dir) == first
    (toy_dir / "conll2003" / "eng" / "extra").mkdir(exist_ok=True)
    other = tmp_path / "other-data"
    write_toy_data_dir(other, n=10)
    assert resolve_backbone("offline-tiny", cache_dir=tmp_path, data_dir=other) != first


def test_offline_backbone_mlm_pretraining_changes_weights(toy_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModel

    plain = AutoModel.from_pretrained(resolve_backbone("offline-tiny", cache_dir=tmp_path, data_dir=toy_dir))
    mlm = AutoModel.from_pretrained(resolve_backbone("offline-tiny-mlm", cache_dir=tmp_path, data_dir=toy_dir))
    a = plain.embeddings.word_embeddings.weight
    b = mlm.embeddings.word_embeddings.weight
    assert a.shape == b.shape and not np.allclose(a.detach().numpy(), b.detach().numpy())


def test_unknown_offline_preset_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="offline-tiny"):
        resolve_backbone("offline-huge", cache_dir=tmp_path, extra_text=[["a"]])


def test_distillation_loss_zero_when_student_matches_teacher() -> None:
    import torch

    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    probs = torch.softmax(logits, dim=-1)
    assert float(distillation_loss(logits, probs, "mse")) == pytest.approx(0.0, abs=1e-7)
    assert float(distillation_loss(logits, probs, "kl", temperature=2.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(distillation_loss(logits, torch.full_like(probs, 1 / 3), "mse")) > 0
    with pytest.raises(ConfigError):
        distillation_loss(logits, probs, "ce")


def test_freeze_bottom_freezes_embeddings_and_layers(tagger: Tagger) -> None:
    import copy

    model = copy.deepcopy(tagger.model)
    assert backbones.freeze_bottom(model, 1) > 0
    base = model.roberta
    assert not any(p.requires_grad for p in base.embeddings.parameters())
    assert not any(p.requires_grad for p in base.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in base.encoder.layer[1].parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())
