"""Leaderboard numbers: agreement with the store and harness.robustness, paired bootstrap, version filtering."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.manifest import load_suite
from harness.runner import Runner, build_manifest
from harness.store import ResultStore
from leaderboards.board import build_board, macro_f1, stratified_bootstrap
from leaderboards.submissions import SubmissionMeta, submit_system
from tests.leaderboards.conftest import ATTACKS, TOY_PKG


def test_build_board_clean_f1_matches_stored_counts(smoke_store: ResultStore) -> None:
    board = build_board(smoke_store, "smoke", resamples=100)
    frame = smoke_store.scores_frame(system="gazetteer", perturbation="none", entity_type="ALL")
    per_lang = dict(zip(frame["lang"], frame["f1"], strict=True))
    assert board.rows[0].clean_f1 == pytest.approx(np.mean(list(per_lang.values())))
    for lang, cell in board.per_language["gazetteer"].items():
        assert cell.clean_f1 == pytest.approx(per_lang[lang])


def test_build_board_worst_case_matches_harness_robustness_rows(smoke_store: ResultStore) -> None:
    board = build_board(smoke_store, "smoke", resamples=100)
    worst = smoke_store.robustness_frame(system="gazetteer", perturbation="worst-case")
    assert len(worst) == 4
    for row in worst.itertuples():
        assert board.per_language["gazetteer"][row.lang].worst_f1 == pytest.approx(row.perturbed_f1)
    assert board.rank_by == "worst" and board.rows[0].worst_f1 < board.rows[0].clean_f1


def test_build_board_ranks_with_significance_against_row_above(smoke_store: ResultStore) -> None:
    submit_system(smoke_store, load_suite("smoke"), "toy_xner_system:ToyTagger", SubmissionMeta("toy", "1"),
                  attacks=ATTACKS, pythonpath=[str(TOY_PKG)])
    board = build_board(smoke_store, "smoke", rank_by="clean", resamples=300)
    assert [r.system for r in board.rows] == ["gazetteer", "toy@1"]
    second = board.rows[1]
    assert second.delta_above == pytest.approx(board.rows[0].clean_f1 - second.clean_f1)
    assert second.delta_ci is not None and second.delta_ci.low > 0 and second.significant
    assert second.score_ci.low <= second.score <= second.score_ci.high
    assert board.rows[0].run_ids != second.run_ids and second.kind == "system"


def test_stratified_bootstrap_identical_systems_never_significant() -> None:
    rng = np.random.default_rng(0)
    strata = [rng.integers(0, 4, size=(30, 3)) for _ in range(3)]
    interval = stratified_bootstrap(strata, [s.copy() for s in strata], resamples=200)
    assert (interval.low, interval.high) == (0.0, 0.0)
    alone = stratified_bootstrap(strata, resamples=200)
    assert alone.low <= macro_f1(strata) <= alone.high


def test_build_board_leaves_out_runs_of_another_harness_version(store: ResultStore) -> None:
    manifest = build_manifest(load_suite("smoke"))
    Runner(dataclasses.replace(manifest, harness_version="0.0.1"), store).run()
    Runner(build_manifest(load_suite("smoke"), system_params={"gazetteer": {"case_fold": True}}), store).run()
    board = build_board(store, "smoke", resamples=50)
    assert len(board.rows) == 1 and len(board.rows[0].run_ids) == 1
    assert any("harness version" in note for note in board.notes)


def test_build_board_unknown_suite_says_what_to_do(store: ResultStore) -> None:
    with pytest.raises(Exception, match="no runs of suite 'nope'.*xner run nope"):
        build_board(store, "nope")
