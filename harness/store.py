"""The result store: one SQLite file in WAL mode (default ``./xner-results/xner.sqlite``).

Tables (typed key columns, never compound strings):

* ``runs``: one row per run manifest (``run_id`` = hash of the manifest's canonical JSON).
* ``cells``: one row per finished/failed/skipped cell, keyed by
  (run_id, system, dataset, lang, split, perturbation, params_hash, seed).
* ``cell_counts``: TP/FP/FN per cell and entity type (``ALL`` = micro total). Scores are derived
  on read, never stored.
* ``sentence_results``: per-sentence counts, tokens, gold, predictions and token alignment, for
  bootstrap, paired tests, robustness metrics and the worst-hit sentences of reports.
* ``predictions``: the prediction cache keyed by (system fingerprint, input hash).
* ``perturbed_sets``: perturbed test sets keyed by (data hash, perturbation, params, seed).
* ``robustness``: robustness figures per perturbation cell, derived from sentence rows.
* ``submissions``: leaderboard submissions and the run they produced.
* ``run_timings``: CPU and wall seconds spent running a run (fits included), for study reports.

A cell is written in one transaction together with all its rows, so a crash or ``kill -9`` leaves
either the whole cell or nothing; predictions are committed per batch, so work done before an
interruption is not lost.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, XnerError
from harness.metrics import ALL, SpanCounts

SCHEMA_VERSION = "2"  # 2: sentence_results.span_map, fit_reports
DEFAULT_STORE = Path("xner-results") / "xner.sqlite"
CLEAN = "none"  # the perturbation value of unperturbed cells

_KEY_COLUMNS = "run_id, system, dataset, lang, split, perturbation, params_hash, seed"
_KEY_DDL = """
    run_id TEXT NOT NULL, system TEXT NOT NULL, dataset TEXT NOT NULL, lang TEXT NOT NULL,
    split TEXT NOT NULL, perturbation TEXT NOT NULL, params_hash TEXT NOT NULL, seed INTEGER NOT NULL
"""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, suite TEXT NOT NULL, manifest TEXT NOT NULL,
    harness_version TEXT NOT NULL, scorer_version TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
    {_KEY_DDL},
    system_fingerprint TEXT NOT NULL, perturbation_params TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed', 'skipped')),
    error TEXT, n_sentences INTEGER NOT NULL DEFAULT 0, n_changed INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0, finished_at TEXT NOT NULL,
    PRIMARY KEY ({_KEY_COLUMNS})
);
CREATE TABLE IF NOT EXISTS cell_counts (
    {_KEY_DDL}, entity_type TEXT NOT NULL,
    tp INTEGER NOT NULL, fp INTEGER NOT NULL, fn INTEGER NOT NULL,
    PRIMARY KEY ({_KEY_COLUMNS}, entity_type)
);
CREATE TABLE IF NOT EXISTS sentence_results (
    {_KEY_DDL}, sentence_id TEXT NOT NULL, position INTEGER NOT NULL, changed INTEGER NOT NULL,
    tp INTEGER NOT NULL, fp INTEGER NOT NULL, fn INTEGER NOT NULL, type_counts TEXT NOT NULL,
    tokens TEXT NOT NULL, gold TEXT NOT NULL, pred TEXT NOT NULL, alignment TEXT, span_map TEXT,
    PRIMARY KEY ({_KEY_COLUMNS}, sentence_id)
);
CREATE TABLE IF NOT EXISTS predictions (
    system_fingerprint TEXT NOT NULL, input_hash TEXT NOT NULL, tags TEXT NOT NULL,
    PRIMARY KEY (system_fingerprint, input_hash)
);
CREATE TABLE IF NOT EXISTS perturbed_sets (cache_key TEXT PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS robustness (
    {_KEY_DDL},
    n_sentences INTEGER NOT NULL, n_changed INTEGER NOT NULL, coverage REAL NOT NULL,
    clean_f1 REAL NOT NULL, perturbed_f1 REAL NOT NULL, delta_f1 REAL NOT NULL,
    relative_drop REAL NOT NULL, clean_recall REAL NOT NULL, perturbed_recall REAL NOT NULL,
    recall_drop REAL NOT NULL, consistency REAL NOT NULL,
    delta_ci_low REAL NOT NULL, delta_ci_high REAL NOT NULL,
    PRIMARY KEY ({_KEY_COLUMNS})
);
CREATE TABLE IF NOT EXISTS submissions (
    submission_id TEXT PRIMARY KEY, suite TEXT NOT NULL, name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('system', 'predictions')),
    meta TEXT NOT NULL, run_id TEXT NOT NULL, versions TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fit_reports (
    run_id TEXT NOT NULL, system TEXT NOT NULL, dataset TEXT NOT NULL, seed INTEGER NOT NULL,
    report TEXT NOT NULL, PRIMARY KEY (run_id, system, dataset, seed)
);
CREATE TABLE IF NOT EXISTS attack_summaries (
    {_KEY_DDL}, summary TEXT NOT NULL, PRIMARY KEY ({_KEY_COLUMNS})
);
CREATE TABLE IF NOT EXISTS run_timings (
    run_id TEXT PRIMARY KEY, cpu_seconds REAL NOT NULL, wall_seconds REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS run_resumptions (
    run_id TEXT NOT NULL, git_revision TEXT NOT NULL, environment TEXT NOT NULL, resumed_at TEXT NOT NULL,
    PRIMARY KEY (run_id, git_revision, environment)
);
CREATE INDEX IF NOT EXISTS cells_by_system ON cells (system, dataset, lang);
CREATE INDEX IF NOT EXISTS counts_by_system ON cell_counts (system, dataset, lang, perturbation);
"""


@dataclass(frozen=True, slots=True, order=True)
class CellKey:
    """The identity of one grid cell: a system on one language of one split under one perturbation."""

    run_id: str
    system: str
    dataset: str
    lang: str
    split: str
    perturbation: str
    params_hash: str
    seed: int

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    def clean(self) -> CellKey:
        """The unperturbed cell this one is compared with."""
        from harness.manifest import params_hash

        return CellKey(self.run_id, self.system, self.dataset, self.lang, self.split, CLEAN, params_hash({}), self.seed)

    def label(self, perturbation: str | None = None) -> str:
        """``system::dataset::lang::perturbation`` for people; ``perturbation`` overrides the name
        with the variant's readable label (``char-typos.v1[severity=3]``)."""
        return f"{self.system}::{self.dataset}::{self.lang}::{perturbation or self.perturbation}"


@dataclass(frozen=True, slots=True)
class SentenceOutcome:
    """What one sentence of a cell produced."""

    sentence_id: str
    position: int
    changed: bool
    counts: Mapping[str, SpanCounts]
    tokens: tuple[str, ...]
    gold: tuple[str, ...]
    pred: tuple[str, ...]
    alignment: tuple[int | None, ...] | None = None
    # Replaced mentions (start, end, new_start, new_end), e.g. by entity swaps of another length.
    span_map: tuple[tuple[int, int, int, int], ...] = ()

    @property
    def total(self) -> SpanCounts:
        result = SpanCounts()
        for value in self.counts.values():
            result = result + value
        return result


@dataclass(frozen=True, slots=True)
class CellRecord:
    key: CellKey
    system_fingerprint: str
    perturbation_params: Mapping[str, Any]
    status: str
    error: str | None
    n_sentences: int
    n_changed: int
    seconds: float
    finished_at: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _pack(payload: Any) -> bytes:
    return zlib.compress(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(), 6)


def _unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob).decode())


class ResultStore:
    """Typed access to the SQLite result store.

    >>> import tempfile, os
    >>> store = ResultStore(os.path.join(tempfile.mkdtemp(), "r.sqlite"))
    >>> store.cached_predictions("fp", ["h1"])
    {}
    """

    def __init__(self, path: str | Path = DEFAULT_STORE) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=60.0)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise XnerError(f"{self.path}: not a usable xner result store ({exc})") from None
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise XnerError(
                f"{self.path} has result-store schema {row[0]}, this xner-bench writes {SCHEMA_VERSION}; "
                "export it with the older version or use a new --store path"
            )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing: BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Read-only query helper returning rows as dicts keyed by column name."""
        cursor = self._conn.execute(sql, params)
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # --- runs ------------------------------------------------------------------------------

    def record_run(self, run_id: str, suite: str, manifest: Mapping[str, Any], harness_version: str, scorer_version: str) -> None:
        """Store a run manifest; re-recording the same run_id is a no-op, a different manifest an error."""
        blob = json.dumps(manifest, sort_keys=True, ensure_ascii=False)
        row = self._conn.execute("SELECT manifest FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is not None:
            if row[0] != blob:
                raise XnerError(f"run {run_id} is already stored with a different manifest; the store is inconsistent")
            return
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, suite, blob, harness_version, scorer_version, _now()),
            )

    # Every table holding rows of a run, children first (``runs`` last).
    _RUN_TABLES = (
        "sentence_results", "cell_counts", "robustness", "attack_summaries", "fit_reports", "run_timings", "run_resumptions", "cells", "runs",
    )

    def forget_run(self, run_id: str) -> dict[str, int]:
        """Delete a run and every row stored under it, in one transaction; rows removed per table.

        For a stored result that must not be reused (a model later found not to have learned,
        a run made with a bug since fixed): a study then computes the grid point afresh. Refused
        for a run a leaderboard submission points to (withdraw the submission's board first).
        """
        if self._conn.execute("SELECT 1 FROM runs WHERE run_id=?", (run_id,)).fetchone() is None:
            raise ConfigError(f"no run {run_id!r} in {self.path}")
        submitted = self._conn.execute("SELECT COUNT(*) FROM submissions WHERE run_id=?", (run_id,)).fetchone()[0]
        if submitted:
            raise ConfigError(f"run {run_id} in {self.path} backs {submitted} leaderboard submission(s); it is kept")
        removed: dict[str, int] = {}
        with self.transaction() as conn:
            for table in self._RUN_TABLES:
                removed[table] = conn.execute(f"DELETE FROM {table} WHERE run_id=?", (run_id,)).rowcount
            conn.execute("DELETE FROM meta WHERE key=?", (f"active_run:{run_id}",))
        return removed

    # Tables whose rows belong to one seed of a run: what ``adopt_seeds`` copies.
    _SEED_TABLES = ("cells", "cell_counts", "sentence_results", "robustness", "attack_summaries", "fit_reports")

    def adopt_seeds(self, donor: str, run_id: str) -> int:
        """Copy every seed ``donor`` stored under ``run_id``, in one transaction; the cells copied.

        For a grid extended by seeds (``--seeds 0,1,2`` after a ``--seeds 0`` run): ``run_id``'s
        manifest differs from the donor's only in having more seeds, so the donor's cells are
        ``run_id``'s cells for those seeds and need not be computed again, even when the trained
        models are no longer cached (a store merged from bundles). Besides the rows, ``run_id``
        takes the donor's CPU time, so a study's cost still counts the work behind its numbers,
        and, when the donor was made at another checkout or machine, that provenance as a
        resumption. Rows ``run_id`` already holds are kept; adopting twice copies nothing and adds
        no time.
        """
        for run in (donor, run_id):
            if self._conn.execute("SELECT 1 FROM runs WHERE run_id=?", (run,)).fetchone() is None:
                raise ConfigError(f"no run {run!r} in {self.path}")
        made, adopting = self.manifest(donor), self.manifest(run_id)
        missing = sorted(set(made.get("seeds", ())) - set(adopting.get("seeds", ())))
        if missing:
            raise ConfigError(f"run {run_id} has no seed(s) {missing} of run {donor}; it cannot adopt them")
        with self.transaction() as conn:
            copied = 0
            for table in self._SEED_TABLES:
                columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
                chosen = ", ".join("?" if c == "run_id" else c for c in columns)
                n = conn.execute(
                    f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) SELECT {chosen} FROM {table} WHERE run_id=?", (run_id, donor)
                ).rowcount
                copied += n if table == "cells" else 0
            if copied:
                timing = conn.execute("SELECT cpu_seconds, wall_seconds FROM run_timings WHERE run_id=?", (donor,)).fetchone()
                if timing is not None:
                    conn.execute(
                        "INSERT INTO run_timings VALUES (?, ?, ?) ON CONFLICT(run_id) DO UPDATE SET"
                        " cpu_seconds = cpu_seconds + excluded.cpu_seconds, wall_seconds = wall_seconds + excluded.wall_seconds",
                        (run_id, *timing),
                    )
                origin = (str(made.get("git_revision", "")), dict(made.get("environment") or {}))
                if origin != (str(adopting.get("git_revision", "")), dict(adopting.get("environment") or {})):
                    conn.execute(
                        "INSERT OR IGNORE INTO run_resumptions VALUES (?, ?, ?, ?)",
                        (run_id, origin[0], json.dumps(origin[1], sort_keys=True), _now()),
                    )
        return copied

    # --- runs in progress (so that a run whose process died is reported at the next run) --------

    def mark_active(self, run_id: str, info: Mapping[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"active_run:{run_id}", json.dumps(dict(info))))

    def clear_active(self, run_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM meta WHERE key=?", (f"active_run:{run_id}",))

    def active_runs(self) -> dict[str, dict[str, Any]]:
        """run id → what the run recorded when it started, for runs not marked finished."""
        rows = self._conn.execute("SELECT key, value FROM meta WHERE key LIKE 'active_run:%'").fetchall()
        return {key.split(":", 1)[1]: json.loads(value) for key, value in rows}

    def manifest(self, run_id: str) -> dict[str, Any]:
        row = self._conn.execute("SELECT manifest FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise ConfigError(f"no run {run_id!r} in {self.path}")
        return dict(json.loads(row[0]))

    def runs(self, suite: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT run_id, suite, harness_version, scorer_version, created_at FROM runs"
        params: tuple[Any, ...] = ()
        if suite is not None:
            sql += " WHERE suite=?"
            params = (suite,)
        return self.execute(sql + " ORDER BY created_at, run_id", params)

    # --- cells -----------------------------------------------------------------------------

    def cell_status(self, key: CellKey) -> str | None:
        row = self._conn.execute(
            f"SELECT status FROM cells WHERE ({_KEY_COLUMNS}) = (?, ?, ?, ?, ?, ?, ?, ?)", key.values()
        ).fetchone()
        return None if row is None else str(row[0])

    def write_cell(
        self,
        key: CellKey,
        *,
        system_fingerprint: str,
        perturbation_params: Mapping[str, Any],
        outcomes: Sequence[SentenceOutcome],
        seconds: float,
        attack: Mapping[str, Any] | None = None,
    ) -> None:
        """Write a finished cell with its counts and sentence rows in one transaction.

        ``attack``: a model-aware perturbation's search summary (success rate, queries), kept beside it.
        """
        per_type: dict[str, SpanCounts] = {}
        for outcome in outcomes:
            for label, value in outcome.counts.items():
                per_type[label] = per_type.get(label, SpanCounts()) + value
        micro = SpanCounts()
        for value in per_type.values():
            micro = micro + value
        values = key.values()
        with self.transaction() as conn:
            self._delete_cell(conn, key)  # a failed attempt may be retried
            conn.execute(
                f"INSERT INTO cells ({_KEY_COLUMNS}, system_fingerprint, perturbation_params, status, error,"
                " n_sentences, n_changed, seconds, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,'done',NULL,?,?,?,?)",
                (*values, system_fingerprint, json.dumps(dict(perturbation_params), sort_keys=True),
                 len(outcomes), sum(o.changed for o in outcomes), seconds, _now()),
            )
            conn.executemany(
                f"INSERT INTO cell_counts ({_KEY_COLUMNS}, entity_type, tp, fp, fn) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(*values, label, c.tp, c.fp, c.fn) for label, c in [(ALL, micro), *sorted(per_type.items())]],
            )
            conn.executemany(
                f"INSERT INTO sentence_results ({_KEY_COLUMNS}, sentence_id, position, changed, tp, fp, fn,"
                " type_counts, tokens, gold, pred, alignment, span_map) VALUES (" + ",".join("?" * 20) + ")",
                [
                    (
                        *values, o.sentence_id, o.position, int(o.changed), o.total.tp, o.total.fp, o.total.fn,
                        json.dumps({k: [c.tp, c.fp, c.fn] for k, c in sorted(o.counts.items())}),
                        json.dumps(o.tokens, ensure_ascii=False), json.dumps(o.gold), json.dumps(o.pred),
                        None if o.alignment is None else json.dumps(o.alignment),
                        json.dumps(o.span_map) if o.span_map else None,
                    )
                    for o in outcomes
                ],
            )
            if attack is not None:
                conn.execute(
                    f"INSERT INTO attack_summaries ({_KEY_COLUMNS}, summary) VALUES (?,?,?,?,?,?,?,?,?)",
                    (*values, json.dumps(dict(attack), sort_keys=True, ensure_ascii=False, default=str)),
                )

    def attack_summary(self, key: CellKey) -> dict[str, Any] | None:
        """The adversarial search summary stored with a model-aware cell, or None."""
        row = self._conn.execute(
            f"SELECT summary FROM attack_summaries WHERE ({_KEY_COLUMNS}) = (?, ?, ?, ?, ?, ?, ?, ?)", key.values()
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def write_cell_status(
        self,
        key: CellKey,
        *,
        status: str,
        error: str,
        system_fingerprint: str,
        perturbation_params: Mapping[str, Any],
    ) -> None:
        """Record a failed or skipped cell with the reason (retried on the next run when failed)."""
        with self.transaction() as conn:
            self._delete_cell(conn, key)
            conn.execute(
                f"INSERT INTO cells ({_KEY_COLUMNS}, system_fingerprint, perturbation_params, status, error,"
                " n_sentences, n_changed, seconds, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,0,0,0,?)",
                (*key.values(), system_fingerprint, json.dumps(dict(perturbation_params), sort_keys=True),
                 status, error, _now()),
            )

    @staticmethod
    def _delete_cell(conn: sqlite3.Connection, key: CellKey) -> None:
        where = f"WHERE ({_KEY_COLUMNS}) = (?, ?, ?, ?, ?, ?, ?, ?)"
        for table in ("cells", "cell_counts", "sentence_results", "robustness", "attack_summaries"):
            conn.execute(f"DELETE FROM {table} {where}", key.values())

    def cells(self, **filters: Any) -> list[CellRecord]:
        """Cells matching equality filters on key columns or ``status``."""
        where, params = _where(filters)
        rows = self._conn.execute(
            f"SELECT {_KEY_COLUMNS}, system_fingerprint, perturbation_params, status, error, n_sentences,"
            f" n_changed, seconds, finished_at FROM cells {where} ORDER BY {_KEY_COLUMNS}",
            params,
        ).fetchall()
        return [
            CellRecord(CellKey(*row[:8]), row[8], json.loads(row[9]), row[10], row[11], row[12], row[13], row[14], row[15])
            for row in rows
        ]

    def counts(self, key: CellKey) -> dict[str, SpanCounts]:
        rows = self._conn.execute(
            f"SELECT entity_type, tp, fp, fn FROM cell_counts WHERE ({_KEY_COLUMNS}) = (?, ?, ?, ?, ?, ?, ?, ?)",
            key.values(),
        ).fetchall()
        return {row[0]: SpanCounts(row[1], row[2], row[3]) for row in rows}

    def sentence_outcomes(self, key: CellKey) -> list[SentenceOutcome]:
        rows = self._conn.execute(
            "SELECT sentence_id, position, changed, type_counts, tokens, gold, pred, alignment, span_map FROM sentence_results"
            f" WHERE ({_KEY_COLUMNS}) = (?, ?, ?, ?, ?, ?, ?, ?) ORDER BY position",
            key.values(),
        ).fetchall()
        return [
            SentenceOutcome(
                sentence_id=row[0], position=row[1], changed=bool(row[2]),
                counts={k: SpanCounts(*v) for k, v in json.loads(row[3]).items()},
                tokens=tuple(json.loads(row[4])), gold=tuple(json.loads(row[5])), pred=tuple(json.loads(row[6])),
                alignment=None if row[7] is None else tuple(json.loads(row[7])),
                span_map=() if row[8] is None else tuple(tuple(m) for m in json.loads(row[8])),
            )
            for row in rows
        ]

    def scores_frame(self, **filters: Any) -> Any:
        """A pandas DataFrame of every stored count row with precision/recall/F1 derived."""
        import pandas as pd

        where, params = _where(filters, table="c")
        frame = pd.read_sql_query(
            "SELECT c.*, cl.system_fingerprint, cl.perturbation_params, r.suite FROM cell_counts c"
            f" JOIN cells cl USING ({_KEY_COLUMNS}) JOIN runs r USING (run_id) {where}",
            self._conn,
            params=params,
        )
        denominator = 2 * frame["tp"] + frame["fp"] + frame["fn"]
        frame["precision"] = (frame["tp"] / (frame["tp"] + frame["fp"])).fillna(0.0)
        frame["recall"] = (frame["tp"] / (frame["tp"] + frame["fn"])).fillna(0.0)
        frame["f1"] = (2 * frame["tp"] / denominator).fillna(0.0)
        return frame

    def variant_names(self) -> dict[tuple[str, str], str]:
        """(perturbation, params hash) → the name a person reads (``char-typos.v1[severity=3]``).

        Parameters that differ between the stored variants of one perturbation name it; the hash
        stays in machine keys only.
        """
        from harness.manifest import named_variant

        rows = self._conn.execute(
            "SELECT DISTINCT perturbation, params_hash, perturbation_params FROM cells WHERE perturbation != ?", (CLEAN,)
        ).fetchall()
        by_name: dict[str, dict[str, dict[str, Any]]] = {}
        for name, phash, params in rows:
            by_name.setdefault(name, {})[phash] = json.loads(params)
        out = {}
        for name, variants in by_name.items():
            siblings = list(variants.values())
            for phash, params in variants.items():
                out[(name, phash)] = named_variant(name, params, siblings)
        return out

    def robustness_frame(self, **filters: Any) -> Any:
        import pandas as pd

        where, params = _where(filters, table="rb")
        return pd.read_sql_query(
            f"SELECT rb.*, r.suite FROM robustness rb JOIN runs r USING (run_id) {where}", self._conn, params=params
        )

    def write_robustness(self, key: CellKey, row: Mapping[str, float | int]) -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in range(8 + len(row)))
        with self.transaction() as conn:
            conn.execute(
                f"DELETE FROM robustness WHERE ({_KEY_COLUMNS}) = (?, ?, ?, ?, ?, ?, ?, ?)", key.values()
            )
            conn.execute(
                f"INSERT INTO robustness ({_KEY_COLUMNS}, {columns}) VALUES ({marks})", (*key.values(), *row.values())
            )

    def write_fit_report(self, run_id: str, system: str, dataset: str, seed: int, report: Mapping[str, Any]) -> None:
        """What a system reported about its training (e.g. projection drop counts), kept beside its cells."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO fit_reports VALUES (?, ?, ?, ?, ?)",
                (run_id, system, dataset, seed, json.dumps(report, sort_keys=True, ensure_ascii=False, default=str)),
            )

    def fit_reports(self, **filters: Any) -> list[dict[str, Any]]:
        where, params = _where(filters)
        rows = self.execute(f"SELECT * FROM fit_reports {where} ORDER BY run_id, system, dataset, seed", params)
        for row in rows:
            row["report"] = json.loads(row["report"])
        return rows

    def add_run_time(self, run_id: str, cpu_seconds: float, wall_seconds: float) -> None:
        """Accumulate the CPU and wall time spent running ``run_id`` (fits included; studies report it)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO run_timings VALUES (?, ?, ?) ON CONFLICT(run_id) DO UPDATE SET"
                " cpu_seconds = cpu_seconds + excluded.cpu_seconds, wall_seconds = wall_seconds + excluded.wall_seconds",
                (run_id, cpu_seconds, wall_seconds),
            )

    def record_resumption(self, run_id: str, git_revision: str, environment: Mapping[str, str]) -> None:
        """Note that ``run_id`` computed cells at another checkout or on another machine than its
        manifest records (an interrupted run resumed later), once per (revision, machine)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO run_resumptions VALUES (?, ?, ?, ?)",
                (run_id, git_revision, json.dumps(dict(environment), sort_keys=True), _now()),
            )

    def resumptions(self, run_id: str) -> list[tuple[str, dict[str, str]]]:
        """(git revision, environment) of each later checkout or machine that computed cells of ``run_id``."""
        rows = self._conn.execute(
            "SELECT git_revision, environment FROM run_resumptions WHERE run_id=? ORDER BY resumed_at", (run_id,)
        ).fetchall()
        return [(str(row[0]), json.loads(row[1])) for row in rows]

    def run_times(self, run_ids: Iterable[str]) -> dict[str, tuple[float, float]]:
        """(cpu, wall) seconds recorded per run id; runs made outside studies have none."""
        ids = list(dict.fromkeys(run_ids))
        if not ids:
            return {}
        rows = self._conn.execute(
            f"SELECT run_id, cpu_seconds, wall_seconds FROM run_timings WHERE run_id IN ({','.join('?' for _ in ids)})", ids
        ).fetchall()
        return {row[0]: (float(row[1]), float(row[2])) for row in rows}

    # --- caches ----------------------------------------------------------------------------

    def cached_predictions(self, fingerprint: str, input_hashes: Iterable[str]) -> dict[str, tuple[str, ...]]:
        hashes = list(dict.fromkeys(input_hashes))
        found: dict[str, tuple[str, ...]] = {}
        for start in range(0, len(hashes), 500):  # stay under SQLite's host-parameter limit
            chunk = hashes[start : start + 500]
            marks = ",".join("?" for _ in chunk)
            for h, tags in self._conn.execute(
                f"SELECT input_hash, tags FROM predictions WHERE system_fingerprint=? AND input_hash IN ({marks})",
                (fingerprint, *chunk),
            ):
                found[h] = tuple(json.loads(tags))
        return found

    def cache_predictions(self, fingerprint: str, items: Mapping[str, Sequence[str]]) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO predictions VALUES (?, ?, ?)",
                [(fingerprint, h, json.dumps(list(tags))) for h, tags in items.items()],
            )

    def get_blob(self, cache_key: str) -> Any | None:
        row = self._conn.execute("SELECT payload FROM perturbed_sets WHERE cache_key=?", (cache_key,)).fetchone()
        return None if row is None else _unpack(row[0])

    def put_blob(self, cache_key: str, payload: Any) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO perturbed_sets VALUES (?, ?)", (cache_key, _pack(payload)))

    # --- export ----------------------------------------------------------------------------

    def export(self, out: str | Path, *, table: str = "scores", **filters: Any) -> Path:
        """Write ``scores``, ``robustness`` or ``sentences`` to .csv or .parquet (by extension)."""
        import pandas as pd

        out = Path(out)
        if table == "scores":
            frame = self.scores_frame(**filters)
        elif table == "robustness":
            frame = self.robustness_frame(**filters)
        elif table == "sentences":
            where, params = _where(filters)
            frame = pd.read_sql_query(f"SELECT * FROM sentence_results {where}", self._conn, params=params)
        else:
            raise ConfigError(f"export table must be scores, robustness or sentences; got {table!r}")
        # Sorted by key, so an export does not depend on the order cells were written in (a
        # distributed run finishes them in any order).
        order = [c for c in (*_KEY_COLUMNS.split(", "), "entity_type", "position") if c in frame.columns]
        frame = frame.sort_values(order, kind="stable").reset_index(drop=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".parquet":
            frame.to_parquet(out, index=False)
        elif out.suffix == ".csv":
            frame.to_csv(out, index=False)
        else:
            raise ConfigError(f"export path {str(out)!r} must end in .csv or .parquet")
        return out


_FILTERABLE = {"run_id", "system", "dataset", "lang", "split", "perturbation", "params_hash", "seed", "status", "entity_type"}


def _where(filters: Mapping[str, Any], table: str | None = None) -> tuple[str, tuple[Any, ...]]:
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in filters.items():
        if value is None:
            continue
        if name not in _FILTERABLE:
            raise ConfigError(f"cannot filter results by {name!r}; use one of {', '.join(sorted(_FILTERABLE))}")
        column = f"{table}.{name}" if table else name
        if isinstance(value, (list, tuple, set, frozenset)):
            clauses.append(f"{column} IN ({','.join('?' for _ in value)})")
            params.extend(value)
        else:
            clauses.append(f"{column} = ?")
            params.append(value)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


def as_dict(obj: Any) -> dict[str, Any]:
    return asdict(obj)
