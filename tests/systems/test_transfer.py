"""direct-transfer: conformance, fitting through FitContext, label set, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError, ModelUnavailableError, XnerError
from systems import make_system
from systems._toy import write_toy_data_dir
from systems.base import FitContext, system_fingerprint
from systems.checks import check_system
from systems.transfer import DirectTransfer, parse_source

TINY = dict(backbone="offline-tiny", epochs=2, lr=3e-3, batch_size=8, max_length=32, max_minutes=None)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> FitContext:
    data = write_toy_data_dir(tmp_path_factory.mktemp("toy"), n=24)
    return FitContext(
        data_dir=data, target_dataset="masakhaner2", target_languages=("hau", "swa"), seed=0,
        cache_dir=tmp_path_factory.mktemp("cache"), show_progress=False,
    )


@pytest.fixture(scope="module")
def fitted(context: FitContext) -> DirectTransfer:
    system = DirectTransfer(**TINY)  # type: ignore[arg-type]
    system.fit(context)
    return system


def _checks() -> list[str]:
    return [name for name, _ in check_system(DirectTransfer())]


@pytest.mark.parametrize("check_name", _checks())
def test_direct_transfer_passes_conformance_check(fitted: DirectTransfer, check_name: str) -> None:
    dict(check_system(fitted))[check_name](fitted)


def test_direct_transfer_declares_source_labels() -> None:
    assert DirectTransfer().tags.labels == frozenset({"PER", "ORG", "LOC", "MISC"})
    assert DirectTransfer().tags.trainable


def test_direct_transfer_registered_and_receives_shared_backbone() -> None:
    system = make_system("direct-transfer", {"epochs": 1}, shared={"backbone": "offline-tiny", "aligner": "x"})
    assert isinstance(system, DirectTransfer) and system.backbone == "offline-tiny" and system.epochs == 1


def test_direct_transfer_fingerprint_depends_on_backbone() -> None:
    assert system_fingerprint(DirectTransfer(backbone="offline")) != system_fingerprint(DirectTransfer(backbone="xlm-roberta-large"))


def test_direct_transfer_predict_before_fit_says_what_to_do() -> None:
    with pytest.raises(XnerError, match="call fit"):
        DirectTransfer().predict([])


def test_direct_transfer_refit_reuses_cached_model(fitted: DirectTransfer, context: FitContext) -> None:
    again = DirectTransfer(**TINY)  # type: ignore[arg-type]
    again.fit(context)
    assert again.tagger.info["key"] == fitted.tagger.info["key"]
    sentences = context.load("masakhaner2", "hau", "test")
    assert again.predict(sentences) == fitted.predict(sentences)


def test_direct_transfer_hub_backbone_without_network_fails_clearly(context: FitContext, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(ModelUnavailableError, match="no network"):
        DirectTransfer(backbone="xlm-roberta-large", max_train_sentences=4).fit(context)


def test_parse_source_rejects_malformed() -> None:
    assert parse_source("conll2003/eng") == ("conll2003", "eng")
    with pytest.raises(ConfigError, match="dataset/lang"):
        parse_source("conll2003")
