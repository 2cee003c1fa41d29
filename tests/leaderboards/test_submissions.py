"""Submissions: names, metadata, out-of-process systems, atomicity, idempotence, version refusal."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.errors import ConfigError, SystemFailure
from harness.manifest import load_suite
from harness.runner import Runner, build_manifest
from harness.store import ResultStore
from leaderboards.proxy import SubprocessSystem
from leaderboards.submissions import (
    SubmissionMeta,
    SubmissionRefused,
    load_meta,
    parse_meta,
    sanitize_name,
    submissions,
    submit_system,
)
from tests.leaderboards.conftest import TOY_META, TOY_PKG, xner
from harness.data import Sentence


def _table_sizes(store: ResultStore) -> dict[str, int]:
    return {t: store.execute(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"] for t in ("runs", "cells", "sentence_results", "submissions")}


@pytest.mark.parametrize("bad", ["../etc", "a/b", "..", ".hidden", "", "x" * 65, "name with space", "a\\b", "é"])
def test_sanitize_name_rejects_unsafe_names(bad: str) -> None:
    with pytest.raises(ConfigError, match="not allowed"):
        sanitize_name(bad)


def test_parse_meta_rejects_unknown_key_naming_it() -> None:
    with pytest.raises(ConfigError, match="unknown metadata key.*homepage"):
        parse_meta({"name": "x", "version": "1", "homepage": "h"}, "meta.toml")


def test_load_meta_reads_toy_fixture() -> None:
    meta = load_meta(TOY_META)
    assert meta.key == "toy-tagger@0.1.0" and meta.n_parameters == 0


def test_subprocess_system_predicts_and_survives_stdout_chatter() -> None:
    system = SubprocessSystem("toy@1", "toy_xner_system:ToyTagger", params={"chatter": True}, pythonpath=[str(TOY_PKG)])
    try:
        sentence = Sentence("t/eng/0", "eng", ("I", "saw", "New", "York"), ("O",) * 4)
        assert system.tags.labels == frozenset({"LOC"})
        assert system.predict([sentence]) == [("O", "O", "B-LOC", "I-LOC")]
    finally:
        system.close()


def test_subprocess_system_kills_a_batch_over_the_time_limit() -> None:
    system = SubprocessSystem("slow@1", "toy_xner_system:ToyTagger", params={"sleep": 30}, batch_timeout=1.0, pythonpath=[str(TOY_PKG)])
    try:
        with pytest.raises(SystemFailure, match="exceeded the time limit of 1 s"):
            system.predict([Sentence("t/eng/0", "eng", ("A", "B"), ("O", "O"))])
    finally:
        system.close()


def test_subprocess_system_reports_an_unknown_entry_point() -> None:
    system = SubprocessSystem("nope@1", "no-such-system")
    with pytest.raises(SystemFailure, match="not a .py file, a module:Class target, or an entry point"):
        _ = system.tags


def test_submit_system_from_file_path(store: ResultStore, tmp_path: Path) -> None:
    source = tmp_path / "my_system.py"
    source.write_text((TOY_PKG / "toy_xner_system" / "__init__.py").read_text().replace("class BrokenTagger", "class _Broken"))
    # Only one class with predict may remain for the file-path form without ':Class'.
    source.write_text(source.read_text().split("class _Broken")[0])
    result = submit_system(store, load_suite("smoke"), str(source), SubmissionMeta("file-tagger", "1"))
    assert result.created and result.cells == 20  # smoke: 4 languages x (clean + 4 perturbations)
    assert {c.key.system for c in store.cells()} == {"file-tagger@1"}


def test_submit_system_failure_leaves_store_unchanged(smoke_store: ResultStore) -> None:
    before = _table_sizes(smoke_store)
    with pytest.raises(SubmissionRefused, match=r"failed, nothing was recorded.*returned 7 tags for sentence smoke/eng/test/0 with 8 tokens"):
        submit_system(smoke_store, load_suite("smoke"), "toy_xner_system:BrokenTagger", SubmissionMeta("broken", "1"),
                      pythonpath=[str(TOY_PKG)])
    assert _table_sizes(smoke_store) == before


def test_submit_system_twice_is_a_noop_and_new_meta_needs_new_version(store: ResultStore) -> None:
    spec = load_suite("smoke")
    meta = SubmissionMeta("toy", "1")
    first = submit_system(store, spec, "toy_xner_system:ToyTagger", meta, pythonpath=[str(TOY_PKG)])
    sizes = _table_sizes(store)
    second = submit_system(store, spec, "toy_xner_system:ToyTagger", meta, pythonpath=[str(TOY_PKG)])
    assert first.created and not second.created and second.submission_id == first.submission_id
    assert _table_sizes(store) == sizes
    with pytest.raises(SubmissionRefused, match="toy@1 is already on the smoke board.*another version"):
        submit_system(store, spec, "toy_xner_system:ToyTagger", SubmissionMeta("toy", "1", url="https://x"), pythonpath=[str(TOY_PKG)])
    assert [s["name"] for s in submissions(store, "smoke")] == ["toy@1"]


def test_submit_refuses_results_from_another_harness_version(store: ResultStore) -> None:
    manifest = build_manifest(load_suite("smoke"))
    Runner(dataclasses.replace(manifest, harness_version="0.0.1"), store).run()
    before = _table_sizes(store)
    with pytest.raises(SubmissionRefused, match=r"harness version: submission has '0\.1\.0', board has '0\.0\.1'"):
        submit_system(store, load_suite("smoke"), "toy_xner_system:ToyTagger", SubmissionMeta("toy", "1"), pythonpath=[str(TOY_PKG)])
    assert _table_sizes(store) == before


def test_cli_submit_system_via_entry_point_of_separate_package(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    env = {"PYTHONPATH": str(TOY_PKG)}
    first = xner("submit", "system", "toy-tagger", "--suite", "smoke", "--meta", str(TOY_META), "--store", str(store), env=env)
    assert first.returncode == 0, first.stderr
    assert "toy-tagger@0.1.0: recorded as submission" in first.stdout
    again = xner("submit", "system", "toy-tagger", "--suite", "smoke", "--meta", str(TOY_META), "--store", str(store), env=env)
    assert again.returncode == 0 and "already recorded (no change)" in again.stdout
    board = xner("leaderboard", "smoke", "--format", "md", "--store", str(store))
    assert board.returncode == 0, board.stderr
    assert "| 1 | toy-tagger@0.1.0 | system |" in board.stdout


def test_cli_submit_rejects_unsafe_meta_name(tmp_path: Path) -> None:
    meta = tmp_path / "meta.toml"
    meta.write_text('name = "../../evil"\nversion = "1"\n')
    result = xner("submit", "system", "toy-tagger", "--suite", "smoke", "--meta", str(meta), "--store", str(tmp_path / "s.sqlite"))
    assert result.returncode == 2 and "not allowed" in result.stderr and "Traceback" not in result.stderr
