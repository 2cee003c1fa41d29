from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.errors import XnerError
from harness.metrics import SpanCounts
from harness.store import CellKey, ResultStore, SentenceOutcome


def key(**overrides: object) -> CellKey:
    values = dict(run_id="r1", system="s", dataset="d", lang="yor", split="test", perturbation="none", params_hash="h", seed=0)
    values.update(overrides)
    return CellKey(**values)  # type: ignore[arg-type]


def outcomes() -> list[SentenceOutcome]:
    return [
        SentenceOutcome("d/yor/test/0", 0, False, {"PER": SpanCounts(1, 0, 0)}, ("Adé",), ("B-PER",), ("B-PER",)),
        SentenceOutcome("d/yor/test/1", 1, True, {"LOC": SpanCounts(0, 1, 1)}, ("Èkó",), ("B-LOC",), ("B-LOC",), (0,)),
    ]


def test_store_write_cell_round_trips_counts_and_sentences(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.record_run("r1", "suite", {"a": 1}, "0.1", "1")
        store.write_cell(key(), system_fingerprint="fp", perturbation_params={}, outcomes=outcomes(), seconds=0.1)
        assert store.cell_status(key()) == "done"
        assert store.counts(key())["ALL"] == SpanCounts(1, 1, 1)
        back = store.sentence_outcomes(key())
        assert back[1].alignment == (0,) and back[1].changed and back[0].counts == {"PER": SpanCounts(1, 0, 0)}
        frame = store.scores_frame(entity_type="ALL")
        assert float(frame["f1"].iloc[0]) == pytest.approx(0.5)


def test_store_cell_write_is_atomic(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.record_run("r1", "suite", {}, "0.1", "1")
        broken = [*outcomes(), outcomes()[0]]  # duplicate sentence id violates the primary key
        with pytest.raises(sqlite3.IntegrityError):
            store.write_cell(key(), system_fingerprint="fp", perturbation_params={}, outcomes=broken, seconds=0.1)
        assert store.cell_status(key()) is None
        assert store.execute("SELECT COUNT(*) AS n FROM cell_counts")[0]["n"] == 0


def test_store_refuses_a_different_manifest_under_the_same_run_id(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.record_run("r1", "suite", {"a": 1}, "0.1", "1")
        store.record_run("r1", "suite", {"a": 1}, "0.1", "1")  # idempotent
        with pytest.raises(XnerError, match="different manifest"):
            store.record_run("r1", "suite", {"a": 2}, "0.1", "1")


def test_store_prediction_cache_is_keyed_by_fingerprint(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.cache_predictions("fp1", {"h": ("B-PER",)})
        assert store.cached_predictions("fp1", ["h", "x"]) == {"h": ("B-PER",)}
        assert store.cached_predictions("fp2", ["h"]) == {}


def test_store_uses_wal_mode(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert store.execute("PRAGMA journal_mode")[0]["journal_mode"] == "wal"


def test_store_rejects_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"not a database at all, just text" * 100)
    with pytest.raises(XnerError, match="not a usable xner result store"):
        ResultStore(path)


def test_store_export_rejects_unknown_extension(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        with pytest.raises(XnerError, match=r"must end in \.csv or \.parquet"):
            store.export(tmp_path / "x.xlsx")
