"""Results bundles: text-free, deterministic, mergeable; a study renders the same answer from a merged store."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.bundle import merge_bundle, read_bundle, write_bundle
from harness.cli import app
from harness.errors import ConfigError, DataFormatError
from harness.store import ResultStore

runner = CliRunner()
TOY = Path(__file__).parents[1] / "fixtures" / "toy_study.toml"
SUITE = "study:toy-study.v1"


def _answer(markdown_path: Path) -> str:
    found = re.search(r"^\*\*Answer\.\*\* (.+)$", markdown_path.read_text(encoding="utf-8"), flags=re.M)
    assert found is not None
    return found.group(1)


@pytest.fixture(scope="module")
def studied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A store holding the toy study's runs, and the report rendered from it."""
    root = tmp_path_factory.mktemp("bundle")
    store, out = root / "r.sqlite", root / "studies"
    result = runner.invoke(app, ["study", str(TOY), "--store", str(store), "--out", str(out), "--no-progress",
                                 "--resamples", "200", "--trials", "200"])
    assert result.exit_code == 0, result.output
    return store, out / "toy-study.v1.md"


def test_bundle_carries_counts_but_no_text_and_is_byte_stable(studied: tuple[Path, Path], tmp_path: Path) -> None:
    store, _ = studied
    first, second = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    result = runner.invoke(app, ["bundle", str(first), "--suite", SUITE, "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert re.search(r"15 runs, \d+ cells, \d+ sentence rows \(no text\)", result.output)
    with ResultStore(store) as s:
        write_bundle(s, second, suites=[SUITE])
        tokens = {t for row in s.execute("SELECT tokens FROM sentence_results") for t in json.loads(row["tokens"])}
        demonstrations = s.fit_reports()
    assert first.read_bytes() == second.read_bytes()
    text = gzip.decompress(first.read_bytes()).decode()
    # No token of any stored sentence (longer than a tag-like fragment) appears anywhere in the bundle.
    words = {t for t in tokens if len(t) >= 4 and t.isalpha()}
    assert words and not [w for w in words if re.search(rf"\b{re.escape(w)}\b", text)]
    assert '"tokens"' not in text and '"gold"' not in text and '"pred"' not in text
    assert demonstrations is not None and '"fit_reports"' not in text
    tables = read_bundle(first)
    assert len(tables["runs"]) == 5 * 3 and tables["cells"] and tables["sentence_results"] and tables["robustness"]


def test_merged_store_renders_the_same_study_answer_and_reuses_every_run(studied: tuple[Path, Path], tmp_path: Path) -> None:
    store, report = studied
    path = tmp_path / "toy.jsonl.gz"
    with ResultStore(store) as s:
        summary = write_bundle(s, path, suites=[SUITE])
        n_cells = len(s.cells())
    fresh = tmp_path / "fresh.sqlite"
    merged = runner.invoke(app, ["merge", str(path), "--store", str(fresh)])
    assert merged.exit_code == 0, merged.output
    assert f"15 runs added (0 already stored), {summary.cells} cells added, 0 kept" in merged.output
    out = tmp_path / "studies"
    args = ["study", str(TOY), "--store", str(fresh), "--out", str(out), "--no-progress", "--resamples", "200", "--trials", "200"]
    only = runner.invoke(app, [*args, "--report-only"])
    assert only.exit_code == 0, only.output
    assert _answer(out / "toy-study.v1.md") == _answer(report)
    # Running the study on the merged store trains and predicts nothing: every run is reused.
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and again.output.count("reusing stored run") == 5 * 3 and "running" not in again.output
    # Merging twice adds nothing; the store's own finished cells win.
    twice = runner.invoke(app, ["merge", str(path), "--store", str(fresh)])
    assert f"0 runs added (15 already stored), 0 cells added, {summary.cells} kept" in twice.output
    with ResultStore(fresh) as s:
        assert len(s.cells()) == n_cells
        # The leaderboard report's worst-hit sentences need text: merged cells are skipped, not shown empty.
        assert s.execute("SELECT DISTINCT tokens FROM sentence_results") == [{"tokens": "[]"}]


def test_bundle_carries_the_numeric_teacher_fields_of_fit_reports_and_no_text(studied: tuple[Path, Path], tmp_path: Path) -> None:
    """A study report shows each ensemble's teacher weights from the fit reports: they travel in the
    bundle, while what may quote text (demonstrations, parse problems naming entities) stays behind."""
    import shutil

    store = tmp_path / "r.sqlite"
    shutil.copy(studied[0], store)
    report = {"fit_report": {
        "twi": {"teacher_weights": {"masakhaner2/eng": 0.4, "masakhaner2/ibo": 0.6}, "teacher_entities": 414,
                "demonstrations": ["Kofi Annan kɔɔ Nkran"], "problems": {"unknown label 'LOC' for 'Nkran'": 2}},
        "hau": "no unlabelled text; first teacher used",
    }, "teacher": {"epochs": 2}}
    with ResultStore(store) as s:
        run_id = str(s.runs(SUITE)[0]["run_id"])
        s.write_fit_report(run_id, "ts-multi", "smoke", 0, report)
        path = tmp_path / "toy.jsonl.gz"
        write_bundle(s, path, suites=[SUITE])
    text = gzip.decompress(path.read_bytes()).decode()
    assert "Kofi" not in text and "Nkran" not in text and "first teacher" not in text
    (row,) = read_bundle(path)["fit_reports"]
    expected = {"fit_report": {"twi": {"teacher_weights": {"masakhaner2/eng": 0.4, "masakhaner2/ibo": 0.6}, "teacher_entities": 414}}}
    assert json.loads(row["report"]) == expected
    with ResultStore(tmp_path / "fresh.sqlite") as fresh:
        merge_bundle(fresh, path)
        assert [r["report"] for r in fresh.fit_reports()] == [expected]
    # Merged into the store that made it, the store's own (full) report stays.
    with ResultStore(store) as s:
        merge_bundle(s, path)
        assert [r["report"] for r in s.fit_reports(run_id=run_id, system="ts-multi")] == [report]


def test_a_version_1_bundle_without_fit_reports_still_merges(studied: tuple[Path, Path], tmp_path: Path) -> None:
    with ResultStore(studied[0]) as s:
        path = tmp_path / "toy.jsonl.gz"
        write_bundle(s, path, suites=[SUITE])
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    old = tmp_path / "old.jsonl.gz"
    old.write_bytes(gzip.compress(("\n".join([lines[0].replace('"version": 2', '"version": 1'), *lines[1:]]) + "\n").encode()))
    with ResultStore(tmp_path / "fresh.sqlite") as fresh:
        assert merge_bundle(fresh, old).runs_added == 15


def test_merge_refuses_a_conflicting_manifest_and_leaves_the_store_unchanged(studied: tuple[Path, Path], tmp_path: Path) -> None:
    store, _ = studied
    path = tmp_path / "toy.jsonl.gz"
    with ResultStore(store) as s:
        write_bundle(s, path, suites=[SUITE])
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    run_line = next(i for i, line in enumerate(lines) if '"table": "runs"' in line)
    item = json.loads(lines[run_line])
    target = tmp_path / "target.sqlite"
    with ResultStore(target) as s:
        manifest = json.loads(item["row"]["manifest"])
        s.record_run(item["row"]["run_id"], "other", {**manifest, "max_sentences": 1}, "0", "0")
        with pytest.raises(ConfigError, match=rf"run {item['row']['run_id']} is stored .* with a different manifest"):
            merge_bundle(s, path)
        assert s.cells() == [] and len(s.runs()) == 1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda lines: ["{}", *lines[1:]], r":1: the first line is not a 'xner-bench results bundle' header"),
        (lambda lines: [lines[0].replace('"version": 2', '"version": 9'), *lines[1:]], r":1: bundle format version 9; this xner-bench reads 1, 2"),
        (lambda lines: [*lines[:2], "{oops", *lines[2:]], r":3: not JSON"),
        (lambda lines: [*lines[:2], '{"table": "predictions", "row": {}}', *lines[2:]], r":3: expected \{\"table\""),
        (lambda lines: [*lines[:2], '{"table": "cells", "row": {"run_id": "x"}}', *lines[2:]], r":3: a cells row needs the columns run_id"),
    ],
)
def test_malformed_bundles_name_the_file_and_line(studied: tuple[Path, Path], tmp_path: Path, edit: object, message: str) -> None:
    store, _ = studied
    path = tmp_path / "toy.jsonl.gz"
    with ResultStore(store) as s:
        write_bundle(s, path, suites=[SUITE])
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress(("\n".join(edit(lines)) + "\n").encode()))  # type: ignore[operator]
    with pytest.raises(DataFormatError, match=message):
        read_bundle(path)
    result = runner.invoke(app, ["merge", str(path), "--store", str(tmp_path / "t.sqlite")])
    assert result.exit_code == 2 and "Traceback" not in result.output and "toy.jsonl.gz:" in result.output


def test_bundle_errors_are_one_line(studied: tuple[Path, Path], tmp_path: Path) -> None:
    store, _ = studied
    wrong = runner.invoke(app, ["bundle", str(tmp_path / "x.csv"), "--store", str(store)])
    assert wrong.exit_code == 2 and "must end in .jsonl.gz" in wrong.output
    unknown = runner.invoke(app, ["bundle", str(tmp_path / "x.jsonl.gz"), "--suite", "study:toy-stud.v1", "--store", str(store)])
    assert unknown.exit_code == 2 and "no stored run of suite 'study:toy-stud.v1'" in unknown.output
    not_gzip = tmp_path / "plain.jsonl.gz"
    not_gzip.write_text("hello", encoding="utf-8")
    bad = runner.invoke(app, ["merge", str(not_gzip), "--store", str(tmp_path / "t.sqlite")])
    assert bad.exit_code == 2 and "not a gzip'd results bundle" in bad.output
