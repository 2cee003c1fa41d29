from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from harness.cli import app
from tests.conftest import xner_executable

runner = CliRunner()


def test_cli_run_smoke_then_results_and_export(tmp_path: Path) -> None:
    store = tmp_path / "r.sqlite"
    result = runner.invoke(app, ["run", "--store", str(store), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "20 computed" in result.output  # 4 languages x (clean + 4 perturbations)
    again = runner.invoke(app, ["run", "--store", str(store), "--no-progress"])
    assert "0 computed, 20 already stored" in again.output
    shown = runner.invoke(app, ["results", "--store", str(store), "--lang", "yor"])
    assert shown.exit_code == 0 and "gazetteer" in shown.output and "yor" in shown.output
    out = tmp_path / "scores.csv"
    assert runner.invoke(app, ["export", str(out), "--store", str(store)]).exit_code == 0
    frame = pd.read_csv(out)
    assert set(frame["lang"]) == {"eng", "hau", "swa", "yor"} and {"f1", "tp", "fp", "fn"} <= set(frame.columns)


def test_cli_unknown_system_is_a_clear_error_with_suggestion(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--systems", "gazeteer", "--store", str(tmp_path / "r.sqlite")])
    assert result.exit_code == 2
    assert "Unknown system 'gazeteer'. Did you mean 'gazetteer'?" in result.output
    assert "Traceback" not in result.output


def test_cli_unknown_suite_lists_available(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "smok", "--store", str(tmp_path / "r.sqlite")])
    assert result.exit_code == 2 and "Did you mean 'smoke'" in result.output


def test_cli_bad_param_syntax_is_explained(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--param", "case_fold=true", "--store", str(tmp_path / "r.sqlite")])
    assert result.exit_code == 2 and "must look like system.key=value" in result.output


def test_cli_missing_language_names_what_is_present(tmp_path: Path, data_dir: Path) -> None:
    result = runner.invoke(
        app, ["run", "masakhaner2", "--languages", "amh", "--data-dir", str(data_dir), "--store", str(tmp_path / "r.sqlite")]
    )
    assert result.exit_code == 2 and "no test split for amh" in result.output and "yor" in result.output


def test_cli_datasets_and_systems_list_names(data_dir: Path) -> None:
    listed = runner.invoke(app, ["datasets", "--data-dir", str(data_dir)])
    assert listed.exit_code == 0 and "masakhaner2" in listed.output and "zul" in listed.output
    systems = runner.invoke(app, ["systems"])
    assert systems.exit_code == 0 and "gazetteer" in systems.output


def test_xner_console_script_runs_masakhaner2_gazetteer_on_real_data(tmp_path: Path, data_dir: Path) -> None:
    xner = xner_executable()
    store = tmp_path / "m.sqlite"
    done = subprocess.run(
        [xner, "run", "masakhaner2", "--systems", "gazetteer", "--data-dir", str(data_dir), "--store", str(store), "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    from harness.datasets import languages
    from harness.store import ResultStore

    with ResultStore(store) as s:
        langs = {c.key.lang for c in s.cells(status="done")}
    assert langs == set(languages("masakhaner2", data_dir=data_dir, split="test"))
