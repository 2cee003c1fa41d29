"""The systems from the command line on the real data, with tiny settings (seconds, not minutes)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


from harness.store import ResultStore
from tests.conftest import xner_executable


def xner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([xner_executable(), *args, "--no-progress"], capture_output=True, text=True, timeout=900)


TINY = [
    "--param", "direct-transfer.max_train_sentences=300", "--param", "direct-transfer.epochs=1",
    "--param", "ts-single.max_train_sentences=300", "--param", "ts-single.teacher_epochs=1",
    "--param", "ts-single.epochs=1", "--param", "ts-single.max_unlabelled_sentences=200",
    "--param", 'proj-align-train.source_params={"max_train_sentences": 300, "epochs": 1}',
    "--param", "proj-align-train.max_pairs=300", "--param", "proj-align-train.epochs=1",
]


def test_neural_systems_train_and_score_masakhaner_from_the_cli(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "s.sqlite"
    done = xner(
        "run", "masakhaner2", "--systems", "direct-transfer,ts-single,proj-align-train", "--backbone", "offline-tiny",
        "--aligner", "eflomal", "--languages", "hau", "--max-sentences", "40", "--attacks", "diacritics-drop.v1",
        "--data-dir", str(data_dir), "--store", str(store), *TINY,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 computed" in done.stdout and "0 failed" in done.stdout
    with ResultStore(store) as s:
        assert {c.key.system for c in s.cells(status="done")} == {"direct-transfer", "ts-single", "proj-align-train"}
        reports = {r["system"]: r["report"] for r in s.fit_reports()}
    projection = reports["proj-align-train"]["projection_report"]["hau"]
    assert projection["pairs"] == 300 and 0 < projection["projected_entities"] <= projection["source_entities"]
    # Rerunning trains nothing and computes nothing: models and cells are cached.
    again = xner(
        "run", "masakhaner2", "--systems", "direct-transfer,ts-single,proj-align-train", "--backbone", "offline-tiny",
        "--aligner", "eflomal", "--languages", "hau", "--max-sentences", "40", "--attacks", "diacritics-drop.v1",
        "--data-dir", str(data_dir), "--store", str(store), *TINY,
    )
    assert "0 computed, 6 already stored" in again.stdout


def test_translate_test_systems_run_with_the_lexical_translator(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "s.sqlite"
    done = xner(
        "run", "masakhaner2", "--systems", "proj-align-test,proj-bt-test", "--translator", "lexical",
        "--languages", "hau", "--max-sentences", "40", "--attacks", "", "--data-dir", str(data_dir), "--store", str(store),
        "--param", "proj-align-test.source_system=gazetteer", "--param", "proj-bt-test.source_system=gazetteer",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with ResultStore(store) as s:
        frame = s.scores_frame(entity_type="ALL")
    assert set(frame["system"]) == {"proj-align-test", "proj-bt-test"} and (frame["tp"] > 0).all()


def test_hub_backbone_without_network_fails_cells_with_a_clear_message(tmp_path: Path, data_dir: Path) -> None:
    done = xner(
        "run", "masakhaner2", "--systems", "direct-transfer", "--backbone", "xlm-roberta-large", "--languages", "hau",
        "--max-sentences", "5", "--attacks", "", "--data-dir", str(data_dir), "--store", str(tmp_path / "s.sqlite"),
    )
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "'xlm-roberta-large' is not available: no network" in output and "--backbone e5-small" in output
    assert "Traceback" not in output
    manifest_systems = json.dumps(ResultStore(tmp_path / "s.sqlite").runs())
    assert "masakhaner2" in manifest_systems
