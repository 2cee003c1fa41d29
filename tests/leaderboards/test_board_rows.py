"""Board rows are configurations, seeds are averaged, and every display names the run and the
perturbation variant a number belongs to (issue 12, items 15-19)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.store import ResultStore
from leaderboards.board import build_board, macro_f1, stratified_bootstrap
from leaderboards.render import render
from tests.leaderboards.conftest import run_smoke

cli = CliRunner()


def test_board_rows_are_system_configurations_named_by_what_differs(store: ResultStore) -> None:
    run_smoke(store, [])
    run_smoke(store, [], system_params={"gazetteer": {"diacritic_fold": True}})
    board = build_board(store, "smoke", resamples=50)
    names = sorted(row.system for row in board.rows)
    assert names == ["gazetteer[diacritic_fold=false]", "gazetteer[diacritic_fold=true]"]
    assert {row.base_system for row in board.rows} == {"gazetteer"}
    assert len({row.run_ids for row in board.rows}) == 2


def test_board_row_of_a_single_configuration_keeps_the_plain_name(smoke_store: ResultStore) -> None:
    board = build_board(smoke_store, "smoke", resamples=50)
    assert [row.system for row in board.rows] == ["gazetteer"]
    assert board.rows[0].seeds == (0,) and board.rows[0].seed_sd is None


def test_board_averages_over_seeds_and_reports_the_spread(tmp_path: Path) -> None:
    per_seed = []
    for seed in (0, 1, 2):
        with ResultStore(tmp_path / f"s{seed}.sqlite") as single:
            run_smoke(single, ["char-typos.v1"], seeds=[seed])
            per_seed.append(build_board(single, "smoke", resamples=20).rows[0])
    with ResultStore(tmp_path / "all.sqlite") as store:
        run_smoke(store, ["char-typos.v1"], seeds=[0, 1, 2])
        board = build_board(store, "smoke", resamples=50)
    row = board.rows[0]
    assert row.seeds == (0, 1, 2)
    assert row.perturbed_f1 == pytest.approx(np.mean([r.perturbed_f1 for r in per_seed]))
    assert row.worst_f1 == pytest.approx(np.mean([r.worst_f1 for r in per_seed]))
    assert row.seed_sd == pytest.approx(np.std([r.worst_f1 for r in per_seed], ddof=1))
    assert any("means over each row's seeds" in note for note in board.notes)
    assert "3 (sd" in render(board, "md", "overall")


def test_stratified_bootstrap_with_a_seed_axis_pairs_sentences_across_seeds() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=(3, 40, 3))
    assert stratified_bootstrap([a], [a.copy()], resamples=100) .low == 0.0
    interval = stratified_bootstrap([a], resamples=200)
    assert interval.low <= macro_f1([a]) <= interval.high
    assert macro_f1([a]) == pytest.approx(np.mean([macro_f1([a[i]]) for i in range(3)]))


def test_board_notes_name_perturbations_left_out_and_why(store: ResultStore) -> None:
    run_smoke(store, ["diacritics-drop.v1", "char-typos.v1"])
    with store.transaction() as conn:
        conn.execute("DELETE FROM cells WHERE perturbation='char-typos.v1' AND lang='yor'")
    board = build_board(store, "smoke", resamples=50)
    assert [board.perturbation_names[p] for p in board.perturbations] == ["diacritics-drop.v1"]
    note = next(n for n in board.notes if "left out" in n and "char-typos.v1" in n)
    assert "gazetteer has no finished cell on yor" in note


def test_board_names_severities_of_one_perturbation_by_what_differs(store: ResultStore) -> None:
    run_smoke(store)  # the suite's own list: char-typos at severities 1 and 3
    board = build_board(store, "smoke", resamples=50)
    shown = sorted(board.perturbation_names.values())
    assert "char-typos.v1[severity=1]" in shown and "char-typos.v1[severity=3]" in shown
    text = render(board, "md")
    assert "char-typos.v1[severity=3]" in text and "char-typos.v1." not in text


def test_leaderboard_markdown_view_language_is_the_language_table(smoke_store: ResultStore) -> None:
    path = str(smoke_store.path)
    overall = cli.invoke(app, ["leaderboard", "smoke", "--format", "md", "--view", "overall", "--store", path])
    language = cli.invoke(app, ["leaderboard", "smoke", "--format", "md", "--view", "language", "--store", path])
    assert overall.exit_code == language.exit_code == 0
    assert "## Overall" in overall.output and "## Per language" not in overall.output
    assert "## Per language" in language.output and "## Overall" not in language.output
    assert "| system | eng | hau | swa | yor |" in language.output


def test_run_output_names_variants_not_hashes(tmp_path: Path) -> None:
    result = cli.invoke(app, ["run", "--store", str(tmp_path / "r.sqlite"), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "char-typos.v1[severity=1]" in result.output and "char-typos.v1[severity=3]" in result.output
    assert "perturbations=diacritics-drop.v1,char-typos.v1[severity=1],char-typos.v1[severity=3],entity-swap.v1" in result.output


def test_robustness_has_a_run_column_and_a_run_filter(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    with ResultStore(path) as store:
        first = run_smoke(store, ["char-typos.v1"])
        second = run_smoke(store, ["char-typos.v1"], system_params={"gazetteer": {"case_fold": True}})
    both = cli.invoke(app, ["robustness", "--store", str(path), "--lang", "yor"])
    assert both.exit_code == 0 and first in both.output and second in both.output
    only = cli.invoke(app, ["robustness", "--store", str(path), "--lang", "yor", "--run", first[:6]])
    assert only.exit_code == 0 and first in only.output and second not in only.output
    wrong = cli.invoke(app, ["robustness", "--store", str(path), "--run", "zzz"])
    assert wrong.exit_code == 2 and "--run 'zzz' matches no stored run" in wrong.output


def test_terminal_board_prints_bracketed_row_names_literally(store: ResultStore) -> None:
    from rich.console import Console

    from leaderboards.render import to_rich

    run_smoke(store, [])
    run_smoke(store, [], system_params={"gazetteer": {"diacritic_fold": True}})
    console = Console(record=True, width=300)
    console.print(to_rich(build_board(store, "smoke", resamples=20)))
    text = console.export_text()
    assert "gazetteer[diacritic_fold=true]" in text and "gazetteer[diacritic_fold=false]" in text


def test_report_frames_name_rows_by_configuration(store: ResultStore) -> None:
    from leaderboards.report import _frames

    run_smoke(store, ["char-typos.v1"])
    run_smoke(store, ["char-typos.v1"], system_params={"gazetteer": {"diacritic_fold": True}})
    board = build_board(store, "smoke", resamples=20)
    scores, robustness = _frames(store, board)
    assert set(scores["system"]) == set(robustness["system"]) == {row.system for row in board.rows}
