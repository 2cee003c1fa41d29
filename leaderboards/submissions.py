"""Submissions to a suite's leaderboard: a runnable system, or a directory of predictions.

Rules (from MTEB's results repository and the Open LLM Leaderboard's complaints, anchors.md §1, §3):

* A submission is scored into a private staging store and copied into the result store in **one
  transaction**; a failure anywhere leaves the store exactly as it was.
* The same submission twice is a no-op (its id hashes suite, name, version, kind, run id and
  metadata); the same ``name@version`` with other results or metadata is refused: bump the version.
* Results computed with a different harness, scorer or dataset version than the board's are refused
  with a message naming which version differs (MTEB refuses to merge mismatched revisions).
* Submitted code runs in a worker process with a time limit per batch (:mod:`leaderboards.proxy`);
  nothing is unpickled; names are restricted to a safe alphabet (no path separators, no ``..``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, XnerError
from harness.manifest import RunManifest, SuiteSpec, canonical_json
from harness.store import ResultStore

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,31}$")
_COPIED_TABLES = ("runs", "cells", "cell_counts", "sentence_results", "robustness")


class SubmissionRefused(XnerError):
    """A submission was not recorded; the message says why and what to change."""


def sanitize_name(value: str, what: str = "name") -> str:
    """Check a submission name: letters, digits, ``.``, ``_``, ``-``; no path traversal.

    >>> sanitize_name("toy-tagger")
    'toy-tagger'
    >>> sanitize_name("../etc/passwd")
    Traceback (most recent call last):
    ...
    harness.errors.ConfigError: submission name '../etc/passwd' is not allowed: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, and no '..'
    """
    pattern = _NAME_RE if what == "name" else _VERSION_RE
    if not isinstance(value, str) or not pattern.match(value) or ".." in value:
        limit = "1-64" if what == "name" else "1-32"
        extra = "'.', '_' or '-'" if what == "name" else "'.', '+', '_' or '-'"
        raise ConfigError(
            f"submission {what} {value!r} is not allowed: use {limit} letters, digits, {extra}, "
            "starting with a letter or digit, and no '..'"
        )
    return value


@dataclass(frozen=True, slots=True)
class SubmissionMeta:
    """What a submitter declares about their system (MTEB's ModelMeta, trimmed to NER).

    Attributes:
        name: leaderboard name (safe alphabet, see :func:`sanitize_name`).
        version: system revision; a new result needs a new version.
        authors, url, paper, backbone, n_parameters, training_data, description, license: shown on
            the board and in reports.
        params: keyword arguments for a submitted system's constructor.
    """

    name: str
    version: str
    authors: tuple[str, ...] = ()
    url: str = ""
    paper: str = ""
    backbone: str = ""
    n_parameters: int | None = None
    training_data: tuple[str, ...] = ()
    description: str = ""
    license: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sanitize_name(self.name, "name")
        sanitize_name(self.version, "version")

    @property
    def key(self) -> str:
        """The system name on the board and in the store: ``name@version``."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["params"] = dict(self.params)
        return json.loads(canonical_json(data))  # type: ignore[no-any-return]


_META_KEYS = {f for f in SubmissionMeta.__dataclass_fields__}


def parse_meta(data: Mapping[str, Any], path: str = "<meta>") -> SubmissionMeta:
    """Validate a metadata mapping (from ``meta.toml``).

    >>> parse_meta({"name": "toy", "version": "1", "authors": ["A. B."]}).key
    'toy@1'
    """
    unknown = sorted(set(data) - _META_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown metadata key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_META_KEYS))}")
    for required in ("name", "version"):
        if required not in data:
            raise ConfigError(f"{path}: missing required key {required!r}")
    values = dict(data)
    for key in ("authors", "training_data"):
        value = values.get(key, ())
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{path}: {key!r} must be a list of strings")
        values[key] = tuple(value)
    if values.get("n_parameters") is not None and not isinstance(values["n_parameters"], int):
        raise ConfigError(f"{path}: 'n_parameters' must be an integer, got {values['n_parameters']!r}")
    if not isinstance(values.get("params", {}), Mapping):
        raise ConfigError(f"{path}: [params] must be a table of constructor arguments")
    values["version"] = str(values["version"])
    try:
        return SubmissionMeta(**values)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_meta(path: str | Path) -> SubmissionMeta:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read metadata file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_meta(data, str(path))


# --- versions ----------------------------------------------------------------------------------


def run_versions(manifest: Mapping[str, Any]) -> dict[str, str]:
    """The facts two runs must share to sit on one board, as ``what → value``.

    >>> m = {"harness_version": "0.1.0", "scorer_version": "1", "scheme": "iob2-strict", "max_sentences": None,
    ...      "datasets": [{"name": "d", "version": "2.0", "data_files": [["d/yor/test.txt", "ab"]]}]}
    >>> run_versions(m)["dataset d version"]
    '2.0'
    """
    out = {
        "harness version": str(manifest["harness_version"]),
        "scorer version": str(manifest["scorer_version"]),
        "scoring scheme": str(manifest["scheme"]),
        "max sentences per language": str(manifest.get("max_sentences")),
    }
    for dataset in manifest["datasets"]:
        out[f"dataset {dataset['name']} version"] = str(dataset["version"])
        for relpath, sha in dataset.get("data_files", ()):
            out[f"data file {relpath}"] = str(sha)
    return out


def version_conflicts(a: Mapping[str, str], b: Mapping[str, str]) -> list[str]:
    """Keys both sides define with different values (a run on fewer languages is not a conflict).

    >>> version_conflicts({"harness version": "1"}, {"harness version": "2", "x": "y"})
    ['harness version']
    """
    return sorted(k for k in a.keys() & b.keys() if a[k] != b[k])


def check_compatible(store: ResultStore, suite: str, versions: Mapping[str, str]) -> None:
    """Refuse when any stored run of ``suite`` was computed under other versions."""
    finished = {row["run_id"] for row in store.execute("SELECT DISTINCT run_id FROM cells WHERE status='done'")}
    for run in store.runs(suite):
        if run["run_id"] not in finished:
            continue  # a run that stopped before its first cell holds nothing to compare with
        theirs = run_versions(store.manifest(run["run_id"]))
        conflicts = version_conflicts(versions, theirs)
        if conflicts:
            details = "; ".join(f"{k}: submission has {versions[k]!r}, board has {theirs[k]!r}" for k in conflicts[:3])
            raise SubmissionRefused(
                f"refused on the {suite} board: {details} (board run {run['run_id']}). Results computed with a "
                "different harness, scorer or dataset version are not comparable; rerun with the board's "
                "versions or start a new board with another --store"
            )


# --- staging and commit ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmissionResult:
    submission_id: str
    name: str
    run_id: str
    created: bool  # False: the identical submission was already recorded (no-op)
    cells: int = 0
    warnings: tuple[str, ...] = ()


def submission_id(suite: str, kind: str, meta: SubmissionMeta, run_id: str) -> str:
    payload = canonical_json({"suite": suite, "kind": kind, "meta": meta.to_dict(), "run_id": run_id})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _existing(store: ResultStore, suite: str, meta: SubmissionMeta, sid: str) -> SubmissionResult | None:
    rows = store.execute("SELECT submission_id, run_id, meta FROM submissions WHERE suite=? AND name=?", (suite, meta.key))
    for row in rows:
        if row["submission_id"] == sid:
            return SubmissionResult(sid, meta.key, row["run_id"], created=False)
    if rows:
        raise SubmissionRefused(
            f"{meta.key} is already on the {suite} board (submission {rows[0]['submission_id']}, run {rows[0]['run_id']}) "
            "with other results or metadata; give the new one another version in meta.toml"
        )
    return None


def _commit(store: ResultStore, staging: ResultStore, run_id: str, record: Mapping[str, Any]) -> int:
    """Copy one staged run and its submission row into ``store`` in a single transaction."""
    copies = {table: staging.execute(f"SELECT * FROM {table} WHERE run_id=?", (run_id,)) for table in _COPIED_TABLES}
    with store.transaction() as conn:
        for table, rows in copies.items():
            if not rows:
                continue
            columns = list(rows[0])
            conn.executemany(
                f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                [tuple(row[c] for c in columns) for row in rows],
            )
        conn.execute(
            "INSERT INTO submissions (submission_id, suite, name, kind, meta, run_id, versions, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (record["submission_id"], record["suite"], record["name"], record["kind"], record["meta"],
             run_id, record["versions"], datetime.now(UTC).isoformat(timespec="seconds")),
        )
    return len(copies["cells"])


def _score_and_commit(
    store: ResultStore,
    manifest: RunManifest,
    kind: str,
    meta: SubmissionMeta,
    *,
    data_dir: str | Path | None,
    batch_size: int,
    report: Callable[[str], None],
    warnings: Sequence[str] = (),
) -> SubmissionResult:
    from harness.runner import Runner

    versions = run_versions(manifest.to_dict())
    check_compatible(store, manifest.suite, versions)
    run_id = manifest.run_id
    sid = submission_id(manifest.suite, kind, meta, run_id)
    existing = _existing(store, manifest.suite, meta, sid)
    if existing is not None:
        report(f"{meta.key}: identical submission {sid} already recorded; nothing to do")
        return existing
    with tempfile.TemporaryDirectory(prefix="xner-submission-") as tmp:
        with ResultStore(Path(tmp) / "staging.sqlite") as staging:
            summary = Runner(manifest, staging, data_dir=data_dir, batch_size=batch_size, report=report).run()
            if summary.failed:
                _key, message = summary.failed[0]
                raise SubmissionRefused(f"{meta.key}: {len(summary.failed)} cell(s) failed, nothing was recorded; first: {message}")
            if not summary.computed:
                raise SubmissionRefused(f"{meta.key}: no cell could be scored (all skipped); nothing was recorded")
            record = {
                "submission_id": sid, "suite": manifest.suite, "name": meta.key, "kind": kind,
                "meta": canonical_json(meta.to_dict()), "versions": canonical_json(versions),
            }
            cells = _commit(store, staging, run_id, record)
    report(f"{meta.key}: recorded submission {sid} (run {run_id}, {cells} cells)")
    return SubmissionResult(sid, meta.key, run_id, created=True, cells=cells, warnings=tuple(warnings))


# --- registering stand-ins ---------------------------------------------------------------------

_CONFIGS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {}
_FACTORIES: dict[str, Callable[..., Any]] = {}


def register_standin(key: str, cls: Callable[..., Any], kwargs: Mapping[str, Any]) -> None:
    """Register ``key`` in ``systems.SYSTEMS`` as ``cls(**kwargs)``.

    The factory object registered for a key never changes (the registry refuses a second target
    under one name); what it builds is looked up at call time, so a key can be resubmitted in one
    process with other settings.
    """
    from systems import SYSTEMS

    _CONFIGS[key] = (cls, dict(kwargs))
    if key not in _FACTORIES:

        def factory(**overrides: Any) -> Any:
            target, arguments = _CONFIGS[key]
            return target(**{**arguments, **overrides})

        # make_system validates parameters against the signature; the runner passes back the ones
        # recorded in the manifest, so the factory advertises the stand-in class's own signature.
        factory.__signature__ = inspect.signature(cls)  # type: ignore[attr-defined]
        factory.__name__ = f"submitted_{re.sub(r'[^0-9A-Za-z_]', '_', key)}"
        _FACTORIES[key] = factory
    SYSTEMS.register(key, _FACTORIES[key])


def _suite_manifest(spec: SuiteSpec, system: str, **options: Any) -> RunManifest:
    from harness.runner import build_manifest

    return build_manifest(spec, systems=[system], **options)


def submit_system(
    store: ResultStore,
    spec: SuiteSpec,
    target: str,
    meta: SubmissionMeta,
    *,
    data_dir: str | Path | None = None,
    languages: Sequence[str] | None = None,
    attacks: Sequence[str] | None = None,
    max_sentences: int | None = None,
    batch_size: int = 128,
    batch_timeout: float = 120.0,
    pythonpath: Sequence[str] = (),
    report: Callable[[str], None] = lambda line: None,
) -> SubmissionResult:
    """Run a submitted system (entry point, ``module:Class`` or ``.py`` path) on a suite, out of process."""
    from leaderboards.proxy import SubprocessSystem, close_all

    register_standin(
        meta.key,
        SubprocessSystem,
        {"name": meta.key, "target": target, "version": meta.version, "params": dict(meta.params),
         "batch_timeout": batch_timeout, "pythonpath": tuple(str(Path(p).resolve()) for p in pythonpath)},
    )
    try:
        manifest = _suite_manifest(spec, meta.key, data_dir=data_dir, languages=languages, attacks=attacks, max_sentences=max_sentences)
        return _score_and_commit(store, manifest, "system", meta, data_dir=data_dir, batch_size=batch_size, report=report)
    finally:
        close_all()


def inputs_manifest(
    spec: SuiteSpec,
    *,
    data_dir: str | Path | None = None,
    languages: Sequence[str] | None = None,
    attacks: Sequence[str] | None = None,
    max_sentences: int | None = None,
) -> RunManifest:
    """A manifest that fixes a suite's inputs (datasets, files, perturbations, seeds).

    Built with the suite's first built-in system as a placeholder (its ``__init__`` only stores
    parameters); only the input fields are used.
    """
    if not spec.systems:
        raise ConfigError(f"suite {spec.name!r} lists no systems to resolve its inputs with")
    return _suite_manifest(spec, spec.systems[0], data_dir=data_dir, languages=languages, attacks=attacks, max_sentences=max_sentences)


def submit_predictions(
    store: ResultStore,
    spec: SuiteSpec,
    directory: str | Path,
    meta: SubmissionMeta,
    *,
    data_dir: str | Path | None = None,
    languages: Sequence[str] | None = None,
    attacks: Sequence[str] | None = None,
    max_sentences: int | None = None,
    report: Callable[[str], None] = lambda line: None,
) -> SubmissionResult:
    """Validate a predictions directory against the suite's test sets and record it.

    Raises:
        DataFormatError: a file is missing, extra, or disagrees with its test set (file, line, sentence).
        SubmissionRefused: version mismatch with the board, or a name@version already used.
    """
    from harness.datasets import get_dataset
    from leaderboards.exports import load_prediction_dir, suite_test_sets
    from leaderboards.proxy import PredictionsSystem, register_predictions

    base = inputs_manifest(spec, data_dir=data_dir, languages=languages, attacks=attacks, max_sentences=max_sentences)
    files = load_prediction_dir(directory, suite_test_sets(base, data_dir=data_dir))
    register_predictions(files.digest, files.table)
    labels = set(files.labels)
    for dataset in base.datasets:
        labels |= set(get_dataset(dataset.name).labels)
    register_standin(
        meta.key,
        PredictionsSystem,
        {"name": meta.key, "version": meta.version, "predictions_sha256": files.digest, "labels": tuple(sorted(labels))},
    )
    manifest = _suite_manifest(spec, meta.key, data_dir=data_dir, languages=languages, attacks=attacks, max_sentences=max_sentences)
    warnings = []
    if files.conflicts:
        warnings.append(
            f"{files.conflicts} sentence(s) with identical tokens were given different predictions in different files; "
            "the clean file's prediction was used for all of them (the harness scores a system as a function of its input)"
        )
        for warning in warnings:
            report(f"warning: {warning}")
    return _score_and_commit(store, manifest, "predictions", meta, data_dir=data_dir, batch_size=512, report=report, warnings=warnings)


def submissions(store: ResultStore, suite: str | None = None) -> list[dict[str, Any]]:
    """Recorded submissions with their metadata decoded."""
    sql = "SELECT * FROM submissions" + (" WHERE suite=?" if suite else "") + " ORDER BY created_at, name"
    rows = store.execute(sql, (suite,) if suite else ())
    for row in rows:
        row["meta"] = json.loads(row["meta"])
        row["versions"] = json.loads(row["versions"])
    return rows
