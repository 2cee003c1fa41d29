"""The pytest plugin: suites as tests, fixtures, span diffs, and a light import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.manifest import load_suite
from harness.pytest_plugin import SuiteResult, span_diff
from harness.runner import Runner, build_manifest
from harness.store import ResultStore


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest in a clean directory, where only the installed plugin (entry point) is active."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), *args],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )


def test_xner_suite_option_runs_one_test_per_cell(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "--xner-suite", "smoke", "--xner-attacks", "diacritics-drop.v1", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    for lang in ("eng", "hau", "swa", "yor"):
        assert f"gazetteer::smoke::{lang}::none PASSED" in result.stdout
        assert f"gazetteer::smoke::{lang}::diacritics-drop.v1 PASSED" in result.stdout
    assert "8 passed" in result.stdout


def test_xner_suite_min_f1_fails_cells_with_run_id(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "--xner-suite", "smoke", "--xner-min-f1", "0.9", "-q")
    assert result.returncode == 1
    assert "gazetteer::smoke::swa::none: F1 0.8889 is below --xner-min-f1 0.9000" in result.stdout


def test_xner_suite_fixture_marker_and_span_diff_in_user_tests(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(
        "import pytest\n"
        "@pytest.mark.xner_suite('smoke', attacks=['char-typos.v1'])\n"
        "def test_typos(xner_suite):\n"
        "    assert xner_suite.f1(lang='yor', attack='char-typos.v1') >= 0.5\n"
        "    assert xner_suite.f1(lang='yor') > xner_suite.f1(lang='yor', attack='char-typos.v1')\n"
        "def test_spans():\n"
        "    from harness.data import Sentence\n"
        "    gold = Sentence('s/0', 'yor', ('Adé', 'lọ', 'sí', 'Èkó'), ('B-PER', 'O', 'O', 'B-LOC'))\n"
        "    assert gold == gold.with_tags(('B-PER', 'O', 'O', 'O'))\n"
        "def test_checks_reexported():\n"
        "    from harness.pytest_plugin import check_system, parametrize_with_checks\n"
        "    assert callable(check_system) and callable(parametrize_with_checks)\n",
        encoding="utf-8",
    )
    result = _pytest(tmp_path, "-q", "test_user.py")
    assert result.returncode == 1, result.stdout
    assert "2 passed, 1 failed" in result.stdout or "1 failed, 2 passed" in result.stdout
    assert "NER tag sequences differ (strict IOB2 spans):" in result.stdout
    assert "spans only on the left:  LOC[3:4] 'Èkó'" in result.stdout


def test_xner_suite_fixture_without_suite_fails_with_instructions(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("def test_x(xner_suite):\n    pass\n")
    result = _pytest(tmp_path, "-q", "test_x.py")
    assert result.returncode == 1 and "pass --xner-suite NAME or mark the test" in result.stdout


def test_plugin_import_is_light() -> None:
    code = (
        "import sys, harness.pytest_plugin\n"
        "heavy = [m for m in ('torch', 'pandas', 'numpy', 'harness.runner', 'harness.store', 'systems', 'attacks') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_suite_result_f1_and_clear_lookup_errors(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        manifest = build_manifest(load_suite("smoke"))
        Runner(manifest, store).run()
        result = SuiteResult(store, manifest.run_id)
        assert result.f1(lang="swa") == pytest.approx(16 / 18)
        assert result.recall(lang="eng") == pytest.approx(0.9)
        with pytest.raises(LookupError, match="no finished cell for system=None lang='yor' attack='word-swap.v1'"):
            result.f1(lang="yor", attack="word-swap.v1")


def test_span_diff_reports_invalid_iob2() -> None:
    assert span_diff(["I-PER"], ["O"]) == ["left is not valid IOB2: token 0: 'I-PER' continues no PER span (orphan I- tag)"]
