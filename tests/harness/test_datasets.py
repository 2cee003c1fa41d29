from __future__ import annotations

from pathlib import Path

import pytest

from harness.datasets import available_splits, data_files, languages, load_ner, load_parallel
from harness.errors import ConfigError, ModelUnavailableError, UnknownComponentError


def test_languages_are_discovered_from_the_data_dir(data_dir: Path) -> None:
    present = languages("masakhaner2", data_dir=data_dir)
    assert {"yor", "hau", "zul"} <= set(present) and len(present) == 16
    assert languages("masakhaner2", data_dir=data_dir, split="train") == ["hau", "ibo", "swa", "yor"]


def test_load_ner_gives_stable_ids_and_versions(data_dir: Path) -> None:
    split = load_ner("masakhaner2", "yor", "test", data_dir=data_dir)
    assert split.sentences[412].id == "masakhaner2/yor/test/412" and split.version == "2.0"
    assert len(split.sha256) == 64


def test_load_ner_missing_split_names_the_file(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"masakhaner2/zul has no train split.*zul/train.txt"):
        load_ner("masakhaner2", "zul", "train", data_dir=data_dir)


def test_load_ner_unknown_language_lists_present(data_dir: Path) -> None:
    with pytest.raises(UnknownComponentError, match="Available: bam"):
        load_ner("masakhaner2", "xyz", "test", data_dir=data_dir)


def test_load_parallel_reads_aligned_lines(data_dir: Path) -> None:
    pairs = load_parallel("mafand", "yor", "dev", data_dir=data_dir)
    assert len(pairs) > 1000 and all(en and yo for en, yo in pairs[:50])
    assert set(data_files("mafand", "yor", "dev", data_dir=data_dir)) == {"mafand_mt/yor/dev.en", "mafand_mt/yor/dev.yor"}


def test_load_parallel_rejects_unequal_sides(tmp_path: Path) -> None:
    root = tmp_path / "mafand_mt" / "yor"
    root.mkdir(parents=True)
    (root / "dev.en").write_text("a\nb\n")
    (root / "dev.yor").write_text("a\n")
    with pytest.raises(ValueError, match="2 English lines but 1 lines"):
        load_parallel("mafand", "yor", "dev", data_dir=tmp_path)


def test_bundled_smoke_dataset_needs_no_data_dir() -> None:
    assert languages("smoke") == ["eng", "hau", "swa", "yor"]
    assert available_splits("smoke", "yor") == ["train", "test"]


def test_hub_path_fails_clearly_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XNER_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(ModelUnavailableError, match="no network and not in the local cache"):
        load_ner("masakhaner2", "yor", "test")


def test_missing_data_dir_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        languages("masakhaner2", data_dir=tmp_path / "nope")
