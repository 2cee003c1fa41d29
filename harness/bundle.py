"""Results bundles: stored results without the text they were computed on, to share and merge.

A bundle (``xner bundle OUT``) carries, for the chosen runs, everything the leaderboards, robustness
tables and study reports are computed from: run manifests and timings, cells (with their failure
reasons), per-type counts, robustness rows, adversarial-search summaries and the per-sentence counts
that paired bootstraps and randomisation tests resample. It leaves out every token, gold tag and
predicted tag, and of the fit reports it keeps only named numeric fields (``FIT_REPORT_FIELDS``: the
teacher weights a study report shows); the rest may quote text (an LLM's few-shot demonstrations
are training sentences, its parse problems name entities). So a bundle can be committed or sent
where the datasets' licences do not let the text go.
``xner merge BUNDLE`` adds it to a store: a study then reuses the merged runs instead of retraining
(``harness/studies/run.py`` reuses any complete run with the same manifest), and
``xner study --report-only`` renders from them. Cells merged from a bundle have no text, so the
"worst-hit sentences" of ``xner report`` skip them.

Format: gzip'd JSON lines, a header line then one ``{"table": ..., "row": {...}}`` per row, rows
sorted and the gzip timestamp zeroed, so exporting the same results twice gives the same bytes
(a bundle under git changes only where results changed).
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataFormatError
from harness.store import SCHEMA_VERSION, ResultStore

FORMAT = "xner-bench results bundle"
VERSION = 2  # 2: fit_reports (their numeric fields)
READABLE_VERSIONS = (1, 2)  # a version-1 bundle is a version-2 one without fit reports

# Per-target fields of a fit report (``fit_report.<lang>.<field>``) that a bundle carries: numbers,
# or mappings of source names to numbers. ``harness/studies/analysis.py:ensemble_by_x`` reads them.
FIT_REPORT_FIELDS = ("teacher_weights", "teacher_entities")

_KEY = ("run_id", "system", "dataset", "lang", "split", "perturbation", "params_hash", "seed")
# table → the columns a bundle carries (text columns of sentence_results are left out on purpose).
_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("run_id", "suite", "manifest", "harness_version", "scorer_version", "created_at"),
    "run_timings": ("run_id", "cpu_seconds", "wall_seconds"),
    "run_resumptions": ("run_id", "git_revision", "environment", "resumed_at"),
    "cells": (*_KEY, "system_fingerprint", "perturbation_params", "status", "error", "n_sentences", "n_changed",
              "seconds", "finished_at"),
    "cell_counts": (*_KEY, "entity_type", "tp", "fp", "fn"),
    "sentence_results": (*_KEY, "sentence_id", "position", "changed", "tp", "fp", "fn", "type_counts"),
    "robustness": (*_KEY, "n_sentences", "n_changed", "coverage", "clean_f1", "perturbed_f1", "delta_f1",
                   "relative_drop", "clean_recall", "perturbed_recall", "recall_drop", "consistency",
                   "delta_ci_low", "delta_ci_high"),
    "attack_summaries": (*_KEY, "summary"),
    "fit_reports": ("run_id", "system", "dataset", "seed", "report"),
}
_CELL_TABLES = ("cell_counts", "sentence_results", "robustness", "attack_summaries")
_ORDER: dict[str, tuple[str, ...]] = {
    "runs": ("run_id",),
    "run_timings": ("run_id",),
    "run_resumptions": ("run_id", "git_revision", "environment"),
    "cells": _KEY,
    "cell_counts": (*_KEY, "entity_type"),
    "sentence_results": (*_KEY, "position"),
    "robustness": _KEY,
    "attack_summaries": _KEY,
    "fit_reports": ("run_id", "system", "dataset", "seed"),
}


@dataclass(frozen=True, slots=True)
class BundleSummary:
    path: Path
    runs: int
    cells: int
    sentences: int


@dataclass(frozen=True, slots=True)
class MergeSummary:
    runs_added: int
    runs_present: int
    cells_added: int
    cells_kept: int  # already finished in the store; the store's own cell wins


def _select_runs(store: ResultStore, suites: Sequence[str], run_ids: Sequence[str]) -> list[str]:
    stored = store.runs()
    known = {str(r["run_id"]) for r in stored}
    chosen: list[str] = []
    for prefix in run_ids:
        matches = sorted(r for r in known if r.startswith(prefix))
        if len(matches) != 1:
            what = "matches several runs" if matches else "matches no stored run"
            raise ConfigError(f"--run {prefix!r} {what} in {store.path}")
        chosen.append(matches[0])
    suites_known = {str(r["suite"]) for r in stored}
    for suite in suites:
        if suite not in suites_known:
            from harness.params import close_names

            raise ConfigError(f"no stored run of suite {suite!r} in {store.path}.{close_names(suite, sorted(suites_known))}")
        chosen.extend(str(r["run_id"]) for r in stored if r["suite"] == suite)
    if not suites and not run_ids:
        chosen = sorted(known)
    return sorted(dict.fromkeys(chosen))


def write_bundle(
    store: ResultStore, out: str | Path, *, suites: Sequence[str] = (), run_ids: Sequence[str] = ()
) -> BundleSummary:
    """Write the runs of ``suites`` and ``run_ids`` (every run when both are empty) to ``out``."""
    out = Path(out)
    if not out.name.endswith(".jsonl.gz"):
        raise ConfigError(f"bundle path {str(out)!r} must end in .jsonl.gz")
    chosen = _select_runs(store, suites, run_ids)
    if not chosen:
        raise ConfigError(f"{store.path} holds no runs to bundle")
    lines = [json.dumps({"format": FORMAT, "version": VERSION, "schema": SCHEMA_VERSION, "runs": len(chosen)})]
    counts = {"cells": 0, "sentence_results": 0}
    for table, columns in _COLUMNS.items():
        rows: list[dict[str, Any]] = []
        for start in range(0, len(chosen), 500):  # under SQLite's host-parameter limit
            chunk = chosen[start : start + 500]
            rows += store.execute(
                f"SELECT {', '.join(columns)} FROM {table} WHERE run_id IN ({','.join('?' for _ in chunk)})", chunk
            )
        if table == "fit_reports":
            rows = [dict(r, report=json.dumps(kept, sort_keys=True)) for r in rows if (kept := text_free_fit_report(json.loads(r["report"])))]
        rows.sort(key=lambda r: tuple(r[c] for c in _ORDER[table]))
        counts[table] = len(rows)
        lines += [json.dumps({"table": table, "row": row}, ensure_ascii=False, sort_keys=True) for row in rows]
    payload = ("\n".join(lines) + "\n").encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:  # mtime 0: same results, same bytes
        gz.write(payload)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(out)  # atomic: an interrupted export never leaves half a bundle under the real name
    return BundleSummary(out, len(chosen), counts["cells"], counts["sentence_results"])


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def text_free_fit_report(report: Any) -> dict[str, Any]:
    """The ``FIT_REPORT_FIELDS`` of a stored fit report, per target language; {} when it has none.

    >>> text_free_fit_report({"fit_report": {"twi": {"teacher_weights": {"eng": 0.4, "ibo": 0.6},
    ...     "teacher_entities": 414, "demonstrations": ["Kofi ba ha"]}, "teacher": {"loss": "n/a"}}})
    {'fit_report': {'twi': {'teacher_weights': {'eng': 0.4, 'ibo': 0.6}, 'teacher_entities': 414}}}
    """
    by_target = report.get("fit_report") if isinstance(report, dict) else None
    if not isinstance(by_target, dict):
        return {}
    kept: dict[str, Any] = {}
    for lang, fields in by_target.items():
        if not isinstance(fields, dict):
            continue
        one = {}
        for name in FIT_REPORT_FIELDS:
            value = fields.get(name)
            if _numeric(value) or (isinstance(value, dict) and value and all(_numeric(v) for v in value.values())):
                one[name] = value
        if one:
            kept[lang] = one
    return {"fit_report": kept} if kept else {}


def read_bundle(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """The bundle's rows by table, checked line by line (errors name the file and line)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no results bundle at {path}")
    try:
        text = gzip.decompress(path.read_bytes()).decode()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"not a gzip'd results bundle ({exc})", path=path) from None
    lines = text.splitlines()
    tables: dict[str, list[dict[str, Any]]] = {t: [] for t in _COLUMNS}
    for number, line in enumerate(lines, start=1):
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"not JSON ({exc.msg})", path=path, line=number) from None
        if number == 1:
            _check_header(item, path)
            continue
        if not isinstance(item, dict) or set(item) != {"table", "row"} or item["table"] not in _COLUMNS:
            raise DataFormatError(f"expected {{\"table\": one of {', '.join(_COLUMNS)}, \"row\": {{...}}}}", path=path, line=number)
        row, columns = item["row"], _COLUMNS[item["table"]]
        if not isinstance(row, dict) or set(row) != set(columns):
            found = sorted(row) if isinstance(row, dict) else type(row).__name__
            raise DataFormatError(f"a {item['table']} row needs the columns {', '.join(columns)}; found {found}", path=path, line=number)
        tables[item["table"]].append(row)
    if not lines:
        raise DataFormatError("empty results bundle", path=path)
    return tables


def _check_header(item: Any, path: Path) -> None:
    if not isinstance(item, dict) or item.get("format") != FORMAT:
        raise DataFormatError(f"the first line is not a {FORMAT!r} header", path=path, line=1)
    if item.get("version") not in READABLE_VERSIONS:
        raise DataFormatError(
            f"bundle format version {item.get('version')!r}; this xner-bench reads {', '.join(map(str, READABLE_VERSIONS))}", path=path, line=1
        )
    if item.get("schema") != SCHEMA_VERSION:
        raise DataFormatError(
            f"written from a result store of schema {item.get('schema')!r}; this xner-bench's store is schema {SCHEMA_VERSION}",
            path=path, line=1,
        )


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in _KEY)


def _insert(conn: Any, table: str, rows: Iterable[dict[str, Any]]) -> None:
    columns = _COLUMNS[table]
    extra = ""
    if table == "sentence_results":
        # The text columns are NOT NULL in the store; a merged row has none: empty JSON lists.
        extra = ", tokens, gold, pred"
    marks = ", ".join("?" for _ in columns) + (", '[]', '[]', '[]'" if extra else "")
    conn.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}{extra}) VALUES ({marks})", [tuple(r[c] for c in columns) for r in rows]
    )


def merge_bundle(store: ResultStore, path: str | Path) -> MergeSummary:
    """Add a bundle's runs and cells to ``store`` in one transaction (all or nothing).

    A run already stored must have the same manifest (else the bundle and the store disagree about
    what that run id means, an error). A cell the store has finished stays as it is; a cell it
    lacks, or holds as failed or skipped, is taken from the bundle with all its rows.
    """
    path = Path(path)
    tables = read_bundle(path)
    by_cell: dict[str, dict[tuple[Any, ...], list[dict[str, Any]]]] = {t: {} for t in _CELL_TABLES}
    for table in _CELL_TABLES:
        for row in tables[table]:
            by_cell[table].setdefault(_key(row), []).append(row)
    runs_added = runs_present = cells_added = cells_kept = 0
    with store.transaction() as conn:
        for run in tables["runs"]:
            found = conn.execute("SELECT manifest FROM runs WHERE run_id=?", (run["run_id"],)).fetchone()
            if found is None:
                _insert(conn, "runs", [run])
                runs_added += 1
            elif json.loads(found[0]) != json.loads(run["manifest"]):
                raise ConfigError(f"{path}: run {run['run_id']} is stored in {store.path} with a different manifest; not merged")
            else:
                runs_present += 1
        known_runs = {r["run_id"] for r in tables["runs"]}
        timings = [t for t in tables["run_timings"] if conn.execute("SELECT 1 FROM run_timings WHERE run_id=?", (t["run_id"],)).fetchone() is None]
        _insert(conn, "run_timings", timings)
        conn.executemany(
            "INSERT OR IGNORE INTO run_resumptions VALUES (?, ?, ?, ?)",
            [tuple(r[c] for c in _COLUMNS["run_resumptions"]) for r in tables["run_resumptions"]],
        )
        for report in tables["fit_reports"]:
            if report["run_id"] not in known_runs:
                raise DataFormatError(f"a fit report belongs to run {report['run_id']}, which the bundle does not hold", path=path)
        # A store's own fit report is the full one: a bundle's (numeric fields only) fills gaps.
        conn.executemany(
            "INSERT OR IGNORE INTO fit_reports VALUES (?, ?, ?, ?, ?)",
            [tuple(r[c] for c in _COLUMNS["fit_reports"]) for r in tables["fit_reports"]],
        )
        where = " AND ".join(f"{c}=?" for c in _KEY)
        for cell in tables["cells"]:
            key = _key(cell)
            if cell["run_id"] not in known_runs:
                raise DataFormatError(f"cell {'::'.join(map(str, key[1:]))} belongs to run {cell['run_id']}, which the bundle does not hold", path=path)
            status = conn.execute(f"SELECT status FROM cells WHERE {where}", key).fetchone()
            if status is not None and status[0] == "done":
                cells_kept += 1
                continue
            for table in ("cells", *_CELL_TABLES):
                conn.execute(f"DELETE FROM {table} WHERE {where}", key)
            _insert(conn, "cells", [cell])
            for table in _CELL_TABLES:
                _insert(conn, table, by_cell[table].get(key, []))
            cells_added += 1
    return MergeSummary(runs_added, runs_present, cells_added, cells_kept)


__all__ = ["FIT_REPORT_FIELDS", "BundleSummary", "MergeSummary", "merge_bundle", "read_bundle", "text_free_fit_report", "write_bundle"]
