"""Reports: plots embedded, worst-hit sentences with run ids, Markdown with PNG files."""

from __future__ import annotations

from pathlib import Path

from harness.store import ResultStore
from leaderboards.report import bracketed, worst_sentences, write_report
from leaderboards.board import build_board
from tests.leaderboards.conftest import xner


def test_write_report_html_embeds_plots_and_worst_sentences(smoke_store: ResultStore, tmp_path: Path) -> None:
    (path,) = write_report(smoke_store, "smoke", tmp_path / "r.html", resamples=50)
    page = path.read_text(encoding="utf-8")
    for slug in ("severity", "heatmap", "type-recall"):
        assert f'id="fig-{slug}"' in page
    assert page.count("data:image/png;base64,") == 3
    assert "F1 vs number of source languages: not drawn (no teacher-ensemble runs in the store)" in page
    run_id = smoke_store.runs("smoke")[0]["run_id"]
    assert 'id="worst-sentences"' in page and run_id in page


def test_worst_sentences_are_changed_and_got_worse(smoke_store: ResultStore) -> None:
    rows = worst_sentences(smoke_store, build_board(smoke_store, "smoke", resamples=20), limit=5)
    assert rows and all(r.extra_errors > 0 and r.original != r.perturbed for r in rows)
    assert [r.extra_errors for r in rows] == sorted((r.extra_errors for r in rows), reverse=True)


def test_bracketed_marks_multi_token_spans() -> None:
    assert bracketed(["Adé", "Ọlá", "lọ"], ["B-PER", "I-PER", "O"]) == "[Adé Ọlá]PER lọ"


def test_cli_report_markdown_writes_png_files(smoke_store: ResultStore, tmp_path: Path) -> None:
    result = xner("report", "smoke", "--out", str(tmp_path / "rep.md"), "--resamples", "50", "--store", str(smoke_store.path))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "rep.md").read_text(encoding="utf-8")
    assert "![F1 vs perturbation severity](rep_files/severity.png)" in text
    assert (tmp_path / "rep_files" / "heatmap.png").read_bytes().startswith(b"\x89PNG")


def test_cli_leaderboard_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    result = xner("leaderboard", "smoke", "--store", str(tmp_path / "none.sqlite"))
    assert result.returncode == 2 and "no result store" in result.stderr
