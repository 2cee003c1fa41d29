"""The runner: a grid of systems × datasets × languages × perturbations × seeds.

Every cell is keyed in the store; a rerun of the same manifest skips finished cells, so an
interrupted run (Ctrl-C or ``kill -9``) resumes where it stopped. Predictions are cached per
(system fingerprint, sentence content hash) and committed per batch, and perturbed test sets are
cached per (data hash, perturbation, params, seed), so nothing is computed twice. A system that
raises or returns malformed output fails its own cells with a clear message; the others go on.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import __version__
from harness.data import Sentence, tag_errors
from harness.datasets import data_files, get_dataset, languages as dataset_languages, load_ner
from harness.errors import ConfigError, DataFormatError, SystemFailure, UnknownComponentError, XnerError
from harness.manifest import (
    ComponentConfig,
    DatasetConfig,
    LabelMapping,
    RunManifest,
    SuiteSpec,
    git_revision,
    harmonise,
    machine_environment,
    params_hash,
    variant_label,
)
from harness.metrics import SCORER_VERSION, count_sentence
from harness.robustness import robustness_row, worst_case_row
from harness.store import CLEAN, CellKey, ResultStore, SentenceOutcome

if TYPE_CHECKING:
    from harness.executors import Executor
    from harness.work import FitTask, PredictedRow, WorkEvent

WORST_CASE = "worst-case"


def sentence_hash(sentence: Sentence) -> str:
    """Content hash of what a system sees: language and tokens (never the gold tags)."""
    payload = sentence.lang + "\t" + "\x1f".join(sentence.tokens)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _make_perturbation(config: ComponentConfig, data_dir: str | Path | None = None) -> Any:
    """Build a perturbation; a ``data_dir`` parameter it accepts is filled from the run's data root.

    The data root is a *location*, so it is given here and never recorded in the manifest.
    """
    from attacks import accepted_params, make_perturbation  # imported only when a run perturbs

    params = config.param_dict
    if data_dir is not None and "data_dir" in accepted_params(config.name) and params.get("data_dir") is None:
        params["data_dir"] = str(data_dir)
    return make_perturbation(config.name, params)


def _recorded_params(perturbation: Any) -> dict[str, Any]:
    """What identifies a perturbation's behaviour: its parameters minus locations (data_dir),
    with files replaced by content hashes where the perturbation says so (``seed_params``)."""
    return dict(getattr(perturbation, "seed_params", None) or perturbation.params)


def build_manifest(
    suite: SuiteSpec,
    *,
    data_dir: str | Path | None = None,
    systems: Sequence[str] | None = None,
    attacks: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    shared_params: Mapping[str, Any] | None = None,
    system_params: Mapping[str, Mapping[str, Any]] | None = None,
    cli_params: Sequence[tuple[str, str]] | None = None,
    max_sentences: int | None = None,
    report: Callable[[str], None] | None = None,
) -> RunManifest:
    """Resolve a suite plus command-line overrides into a manifest.

    Components are instantiated here (cheap: ``__init__`` only stores parameters) so that the
    manifest records every parameter including defaults, and unknown names or bad values fail
    before any work.

    Args:
        cli_params: ``("target.key", "text")`` pairs from ``--param``; the target is a system or a
            perturbation of this run (``gazetteer.min_count``, ``char-typos.v1.severity``) and the
            text is parsed by the parameter's annotated type.
        report: called with one line per note (e.g. a perturbation listed twice).
    """
    from systems import make_system
    from systems.base import describe_system

    note = report or (lambda line: None)
    if seeds is not None and not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in seeds):
        raise ConfigError(f"seeds must be integers ≥ 0 (random generators take no negative seed), got {list(seeds)!r}")
    if max_sentences is not None and (isinstance(max_sentences, bool) or not isinstance(max_sentences, int) or max_sentences < 1):
        raise ConfigError(f"--max-sentences must be an int ≥ 1, got {max_sentences!r} (leave it out to evaluate every sentence)")
    shared = dict(shared_params or {})
    from systems import SYSTEMS

    for name in suite.system_params:
        if ":" not in name and name not in SYSTEMS:
            # Parameters for a system nobody can run are a typo, never silently unused.
            raise UnknownComponentError("system in [system_params]", name, SYSTEMS.names())
    params_by_system = {k: dict(v) for k, v in suite.system_params.items()}
    for name, extra in (system_params or {}).items():
        params_by_system.setdefault(name, {}).update(extra)
    system_names = list(systems) if systems else list(suite.systems)
    if not system_names:
        raise ConfigError("no systems to run: give --systems or list them in the suite")
    if attacks is not None:
        perturbation_configs = [ComponentConfig.of(a) for a in attacks]
    else:
        perturbation_configs = list(suite.perturbations)
    by_target = route_cli_params(cli_params or (), list(dict.fromkeys(system_names)), [c.name for c in perturbation_configs])
    for name, extra in by_target.items():
        if name in system_names:
            params_by_system.setdefault(name, {}).update(extra)
    perturbation_configs = [
        ComponentConfig.of(c.name, {**c.param_dict, **by_target.get(c.name, {})}) for c in perturbation_configs
    ]
    system_configs, label_sets = [], {}
    for name in dict.fromkeys(system_names):
        system = make_system(name, params_by_system.get(name), shared=shared)
        system_configs.append(ComponentConfig.of(name, describe_system(system)["params"]))
        label_sets[name] = declared_labels(system, name)

    resolved_perturbations: list[ComponentConfig] = []
    for config in perturbation_configs:
        perturbation = _make_perturbation(config, data_dir)
        resolved = ComponentConfig.of(perturbation.name, _recorded_params(perturbation))
        if any(r.name == resolved.name and r.params_hash == resolved.params_hash for r in resolved_perturbations):
            # Same name and parameters: the same cells; running it twice would count cells twice.
            note(f"note: {variant_label(resolved, [*resolved_perturbations, resolved])} is listed more than once "
                 "with the same parameters; it is run once")
            continue
        resolved_perturbations.append(resolved)

    dataset_configs, mappings = [], []
    for name, split, suite_langs in suite.datasets:
        spec = get_dataset(name)
        present = dataset_languages(name, data_dir=data_dir, split=split)
        wanted = list(languages) if languages else (list(suite_langs) if suite_langs else present)
        missing = [lang for lang in wanted if lang not in present]
        if missing:
            raise ConfigError(f"dataset {name!r} has no {split} split for {', '.join(missing)} ({_present_splits(name, split, missing, data_dir)})")
        files: dict[str, str] = {}
        for lang in wanted:
            files.update(data_files(name, lang, split, data_dir=data_dir))
        dataset_configs.append(DatasetConfig(name, spec.version, split, tuple(wanted), tuple(sorted(files.items()))))
        for system_name, labels in label_sets.items():
            default = harmonise(system_name, labels, name, spec.labels)
            override = suite.label_overrides.get(system_name, {})
            mappings.append(
                LabelMapping(
                    system_name,
                    name,
                    tuple(override.get("pred_to_outside", default.pred_to_outside)),
                    tuple(override.get("gold_to_outside", default.gold_to_outside)),
                )
            )
    return RunManifest(
        suite=suite.name,
        systems=tuple(system_configs),
        datasets=tuple(dataset_configs),
        perturbations=tuple(resolved_perturbations),
        seeds=tuple(seeds) if seeds else suite.seeds,
        shared_params=tuple(sorted(shared.items())),
        label_mappings=tuple(mappings),
        scorer_version=SCORER_VERSION,
        max_sentences=max_sentences,
        harness_version=__version__,
        git_revision=git_revision(),
        environment=machine_environment(),
    )


def _present_splits(name: str, split: str, missing: Sequence[str], data_dir: str | Path | None) -> str:
    """What is there instead: the splits each missing language has, and the languages with ``split``."""
    from harness.datasets import available_splits

    with_split = dataset_languages(name, data_dir=data_dir, split=split)
    parts = []
    for lang in missing:
        try:
            splits = available_splits(name, lang, data_dir=data_dir)
        except XnerError:
            splits = []
        parts.append(f"{lang} has {', '.join(splits) if splits else 'no split at all'}")
    parts.append(f"languages with a {split} split: {', '.join(with_split) or 'none'}")
    return "; ".join(parts)


def route_cli_params(
    items: Sequence[tuple[str, str]], systems: Sequence[str], perturbations: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Send each ``--param target.key=text`` to the system or perturbation of this run it names.

    Names may contain dots (``char-typos.v1``), so the longest name the target starts with wins.
    The text is wrapped as :class:`~harness.params.CliText`, parsed later by the parameter's type.

    >>> route_cli_params([("char-typos.v1.severity", "3")], ["gazetteer"], ["char-typos.v1"])
    {'char-typos.v1': {'severity': '3'}}
    >>> route_cli_params([("gazeteer.min_count", "2")], ["gazetteer"], [])
    Traceback (most recent call last):
    ...
    harness.errors.ConfigError: --param gazeteer.min_count=2: 'gazeteer' is not a system or perturbation of this run. Did you mean 'gazetteer'? (systems: gazetteer; perturbations: none)
    """
    from harness.params import CliText, close_names

    systems, perturbations = list(dict.fromkeys(systems)), list(dict.fromkeys(perturbations))
    names = sorted({*systems, *perturbations}, key=len, reverse=True)
    out: dict[str, dict[str, Any]] = {}
    for target, text in items:
        owner = next((n for n in names if target.startswith(n + ".") and len(target) > len(n) + 1), None)
        if owner is None:
            guess = target.rsplit(".", 1)[0]
            raise ConfigError(
                f"--param {target}={text}: {guess!r} is not a system or perturbation of this run."
                f"{close_names(guess, names)} (systems: {', '.join(systems) or 'none'}; "
                f"perturbations: {', '.join(perturbations) or 'none'})"
            )
        out.setdefault(owner, {})[target[len(owner) + 1 :]] = CliText(text)
    return out


def declared_labels(system: Any, name: str) -> frozenset[str]:
    """A system's declared label set, checking the parts of the contract the runner relies on.

    A third-party class (``--systems mod:Class``) without ``predict``, or whose ``tags`` raises,
    fails here at start-up with one line instead of a traceback in the middle of a run.
    """
    if not callable(getattr(system, "predict", None)):
        raise ConfigError(f"system {name!r} has no predict(sentences) method (see README, 'Your own system')")
    try:
        tags = system.tags
        labels = frozenset(tags.labels)
    except XnerError:
        raise
    except Exception as exc:  # noqa: BLE001 - third-party code: one line naming what failed
        raise ConfigError(f"system {name!r}: reading its tags raised {type(exc).__name__}: {exc}") from None
    if not all(isinstance(label, str) and label for label in labels):
        raise ConfigError(f"system {name!r} declares labels {sorted(map(repr, labels))}; labels must be non-empty strings")
    return labels


@dataclass
class RunSummary:
    run_id: str
    computed: list[CellKey] = field(default_factory=list)
    reused: list[CellKey] = field(default_factory=list)
    failed: list[tuple[CellKey, str]] = field(default_factory=list)
    skipped: list[tuple[CellKey, str]] = field(default_factory=list)


Reporter = Callable[[str], None]


class Runner:
    """Executes a manifest against a store.

    Args:
        manifest: what to run.
        store: where results go.
        data_dir: local data root (not part of the manifest: the data file hashes are).
        batch_size: sentences per ``predict`` call; predictions are committed per batch.
        report: called with one human-readable line per event (the CLI prints them).
        progress: draw rich progress bars.
        cache_dir: where systems put trained artefacts (default ``$XNER_CACHE_DIR``); give a shared
            path when an executor runs fits on other machines.
        executor: where fits run (default :class:`harness.executors.LocalExecutor`: here, in order).
        isolate_timeout: when given, every system runs in a worker process (the one ``xner submit
            system`` uses) and each ``predict`` batch gets this many seconds; a system that exits
            the process, crashes or hangs then fails its own cells and the run goes on.
    """

    def __init__(
        self,
        manifest: RunManifest,
        store: ResultStore,
        *,
        data_dir: str | Path | None = None,
        batch_size: int = 128,
        report: Reporter | None = None,
        progress: bool = False,
        bootstrap_resamples: int = 1000,
        cache_dir: str | Path | None = None,
        executor: Executor | None = None,
        isolate_timeout: float | None = None,
    ) -> None:
        self.manifest = manifest
        self.store = store
        self.data_dir = data_dir
        self.batch_size = batch_size
        self.report = report or (lambda line: None)
        self.progress = progress
        self.bootstrap_resamples = bootstrap_resamples
        self.cache_dir = cache_dir
        self.executor = executor
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be an int ≥ 1, got {batch_size!r}")
        if isolate_timeout is not None and not isolate_timeout > 0:
            raise ConfigError(f"the per-batch time limit must be > 0 seconds, got {isolate_timeout!r}")
        self.isolate_timeout = isolate_timeout
        self._perturbations: dict[tuple[str, str], Any] = {}
        self._variants = {
            (c.name, c.params_hash): variant_label(c, manifest.perturbations) for c in manifest.perturbations
        }

    def cell_label(self, key: CellKey) -> str:
        """A cell as a person reads it: the perturbation by its variant name, never its hash."""
        return key.label(self._variants.get((key.perturbation, key.params_hash)))

    # -- public -------------------------------------------------------------------------------

    def run(self) -> RunSummary:
        from harness.executors import LocalExecutor

        manifest = self.manifest
        run_id = manifest.run_id
        # Data is checked before the run is recorded: a test set that cannot be read (or is empty)
        # must not leave a run with no cells behind, which boards and submissions would trip over.
        for dataset in manifest.datasets:
            for lang in dataset.languages:
                self._load(dataset, lang)
        self.store.record_run(run_id, manifest.suite, manifest.to_dict(), manifest.harness_version, manifest.scorer_version)
        self._report_interrupted(run_id)
        summary = RunSummary(run_id)
        for config in manifest.perturbations:
            # Built once here so that a bad perturbation fails before any work is sent anywhere.
            self._perturbations[(config.name, config.params_hash)] = _make_perturbation(config, self.data_dir)
        tasks = []
        for system_config in manifest.systems:
            for seed in manifest.seeds:
                for dataset in manifest.datasets:
                    task = self._plan(system_config, dataset, seed, summary)
                    if task is not None:
                        tasks.append(task)
        here = (git_revision(), machine_environment()) if tasks else None  # git only when there is work
        if here is not None and (manifest.git_revision, tuple(manifest.environment)) != here:
            # An interrupted run resumed from another checkout or machine: its manifest keeps what it
            # was made at, so where the rest of its cells are computed is recorded beside it.
            self.store.record_resumption(run_id, here[0], dict(here[1]))
        executor = self.executor if self.executor is not None else LocalExecutor(self._perturbations)
        # Marked active until it returns or raises: a process that dies (kill -9, os._exit in a
        # system) leaves the mark, and the next run says what was interrupted.
        self.store.mark_active(run_id, {"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S"), "suite": manifest.suite})
        try:
            # The executor runs the fits wherever it likes; results come back here and only here are
            # they scored and written, one transaction per cell.
            executor.execute(tasks, self.store, lambda task, event: self._apply(task, event, summary))
        finally:
            self.store.clear_active(run_id)
        return summary

    def _report_interrupted(self, current: str) -> None:
        for run_id, info in sorted(self.store.active_runs().items()):
            pid = int(info.get("pid", 0))
            if pid != os.getpid() and _alive(pid):
                continue  # another process is running it right now
            done = self.store.execute("SELECT COUNT(*) AS n FROM cells WHERE run_id=? AND status='done'", (run_id,))[0]["n"]
            again = "this run resumes it" if run_id == current else "rerun its command to resume it"
            self.report(
                f"note: run {run_id} (suite {info.get('suite', '?')}, started {info.get('started', '?')}) was interrupted "
                f"before it finished: its process ended without closing the run; {done} finished cell(s) are stored; {again}"
            )
            self.store.clear_active(run_id)

    def _load(self, dataset: DatasetConfig, lang: str) -> list[Sentence]:
        """A test set as the fit tasks will read it; an empty one is refused, naming the file."""
        loaded = load_ner(dataset.name, lang, dataset.split, data_dir=self.data_dir, orphan_policy=self.manifest.orphan_policy)  # type: ignore[arg-type]
        if not loaded.sentences:
            raise DataFormatError(
                f"the {dataset.name}/{lang} {dataset.split} set has no sentences (empty file, or only -DOCSTART- "
                "and blank lines); a test set needs at least one sentence",
                path=loaded.report.path,
            )
        return loaded.sentences

    def cell_keys(self, system: str, dataset: DatasetConfig, lang: str, seed: int) -> list[tuple[CellKey, ComponentConfig | None]]:
        keys: list[tuple[CellKey, ComponentConfig | None]] = [
            (CellKey(self.manifest.run_id, system, dataset.name, lang, dataset.split, CLEAN, params_hash({}), seed), None)
        ]
        for config in self.manifest.perturbations:
            keys.append(
                (CellKey(self.manifest.run_id, system, dataset.name, lang, dataset.split, config.name, config.params_hash, seed), config)
            )
        return keys

    # -- internals ----------------------------------------------------------------------------

    def _plan(self, system_config: ComponentConfig, dataset: DatasetConfig, seed: int, summary: RunSummary) -> FitTask | None:
        """The fit task of one system × dataset × seed: its cells not yet stored, or None."""
        from harness.work import FitTask, PendingCell

        all_keys = {lang: self.cell_keys(system_config.name, dataset, lang, seed) for lang in dataset.languages}
        pending = {
            lang: tuple(PendingCell(k, c) for k, c in keys if self.store.cell_status(k) not in ("done", "skipped"))
            for lang, keys in all_keys.items()
        }
        for lang, keys in all_keys.items():
            todo = {cell.key for cell in pending[lang]}
            summary.reused.extend(k for k, _ in keys if k not in todo)
        if not any(pending.values()):
            self.report(f"{system_config.name} on {dataset.name} (seed {seed}): all cells already stored")
            return None
        return FitTask(
            manifest=self.manifest, system=system_config, dataset=dataset, seed=seed,
            cells=tuple(pending.items()), data_dir=None if self.data_dir is None else str(Path(self.data_dir).resolve()),
            cache_dir=None if self.cache_dir is None else str(self.cache_dir),
            batch_size=self.batch_size, show_progress=self.progress, isolate_timeout=self.isolate_timeout,
        )

    def _apply(self, task: FitTask, event: WorkEvent, summary: RunSummary) -> None:
        """Score and store what an executor reports; the only place results are written."""
        from harness.work import CellNotRun, CellPredicted, FitFailed, FitStarted, Fitted, LanguageFinished, TaskFailed

        manifest = self.manifest
        name = task.system.name
        if isinstance(event, FitStarted):
            self.report(f"fitting {name} for {task.dataset.name} ({', '.join(task.dataset.languages)}), seed {task.seed}")
        elif isinstance(event, Fitted):
            if event.report:
                self.store.write_fit_report(manifest.run_id, name, task.dataset.name, task.seed, dict(event.report))
                self.report(f"{name} fit report: {json.dumps(event.report, default=str)[:400]}")
        elif isinstance(event, (FitFailed, TaskFailed)):
            fingerprint = event.fingerprint if isinstance(event, FitFailed) else ""
            for cell in task.pending():
                if self.store.cell_status(cell.key) in ("done", "skipped"):
                    continue  # stored before the task failed as a whole
                self.store.write_cell_status(
                    cell.key, status="failed", error=event.message, system_fingerprint=fingerprint, perturbation_params=cell.params
                )
                summary.failed.append((cell.key, event.message))
            self.report(f"FAILED {name}: {event.message}")
        elif isinstance(event, CellPredicted):
            key = event.cell.key
            started = time.perf_counter()
            outcomes = score_rows(manifest.mapping_for(name, key.dataset), event.rows)
            self.store.write_cell(
                key, system_fingerprint=event.fingerprint, perturbation_params=event.cell.params,
                outcomes=outcomes, seconds=event.seconds + time.perf_counter() - started, attack=event.attack,
            )
            summary.computed.append(key)
            line = f"{self.cell_label(key)} seed={key.seed}: F1 {100 * _micro_f1(outcomes):.2f} on {len(outcomes)} sentences"
            if event.attack is not None:
                a = event.attack
                line += (
                    f" (attacked {a['attacked']}: success rate {100 * a['attack_success_rate']:.1f}%,"
                    f" {a['avg_queries']:.1f} queries on average)"
                )
            self.report(line)
        elif isinstance(event, CellNotRun):
            key = event.cell.key
            self.store.write_cell_status(
                key, status=event.status, error=event.message, system_fingerprint=event.fingerprint, perturbation_params=event.cell.params
            )
            if event.status == "skipped":
                summary.skipped.append((key, event.message))
                self.report(f"skipped {self.cell_label(key)}: {event.message}")
            else:
                summary.failed.append((key, event.message))
                self.report(f"FAILED {event.message}")
        elif isinstance(event, LanguageFinished):
            self._write_robustness(self.cell_keys(name, task.dataset, event.lang, task.seed))

    def _write_robustness(self, keys: Sequence[tuple[CellKey, ComponentConfig | None]]) -> None:
        clean_key = keys[0][0]
        if self.store.cell_status(clean_key) != "done" or len(keys) == 1:
            return
        clean = self.store.sentence_outcomes(clean_key)
        variants: dict[str, list[SentenceOutcome]] = {}
        for key, _config in keys[1:]:
            if self.store.cell_status(key) != "done":
                continue
            outcomes = self.store.sentence_outcomes(key)
            variants[f"{key.perturbation}:{key.params_hash}"] = outcomes
            row = robustness_row(clean, outcomes, resamples=self.bootstrap_resamples, seed=key.seed)
            self.store.write_robustness(key, row.as_dict())
        if variants:
            worst = worst_case_row(clean, variants, resamples=self.bootstrap_resamples, seed=clean_key.seed)
            family_hash = params_hash({"members": sorted(variants)})
            worst_key = CellKey(clean_key.run_id, clean_key.system, clean_key.dataset, clean_key.lang, clean_key.split, WORST_CASE, family_hash, clean_key.seed)
            self.store.write_robustness(worst_key, worst.as_dict())


class _Unsupported(XnerError):
    pass


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _isolated(name: str, system: Any, batch_timeout: float) -> Any:
    """The system hosted in a worker process (``leaderboards.proxy.SubprocessSystem``), built from
    the same target and recorded parameters as the in-process one."""
    from leaderboards.proxy import SubprocessSystem
    from systems import SYSTEMS
    from systems.base import describe_system

    target = name if ":" in name and name not in SYSTEMS else SYSTEMS.target(name)
    if not isinstance(target, str):
        raise ConfigError(f"system {name!r} is registered as an object, not a 'module:Class' target; it cannot be isolated")
    params = describe_system(system)["params"]
    return SubprocessSystem(name=name, target=target, version=str(getattr(system, "version", "1")), params=params, batch_timeout=batch_timeout)


@dataclass(frozen=True, slots=True)
class _PerturbedRow:
    """A perturbed sentence as the runner stores it: tokens/tags, alignment, replaced mentions."""

    sentence: Sentence
    alignment: tuple[int | None, ...]
    span_map: tuple[tuple[int, int, int, int], ...]


def _mention_map(perturbed: Any) -> list[list[int]]:
    """Replaced mentions as ``[start, end, new_start, new_end]``: a swapped mention of another
    length cannot be followed through the token alignment alone (consistency needs it)."""
    out = []
    for edit in getattr(perturbed, "edits", ()):
        if getattr(edit, "span", None) is not None and getattr(edit, "new_span", None) is not None:
            out.append([edit.span.start, edit.span.end, edit.new_span.start, edit.new_span.end])
    return out


def _check_output(name: str, batch: Sequence[Sentence], output: object, labels: frozenset[str] | None = None) -> None:
    if not isinstance(output, list) or len(output) != len(batch):
        got = len(output) if isinstance(output, list) else type(output).__name__
        raise SystemFailure(f"{name}.predict must return a list of {len(batch)} tag tuples, got {got}")
    for sentence, tags in zip(batch, output, strict=True):
        if len(tags) != len(sentence.tokens):
            raise SystemFailure(
                f"{name}.predict returned {len(tags)} tags for sentence {sentence.id} with {len(sentence.tokens)} tokens"
            )
        errors = tag_errors(tuple(tags))
        if errors:
            raise SystemFailure(f"{name}.predict returned invalid IOB2 for sentence {sentence.id}: {'; '.join(errors[:3])}")
        if labels is not None:
            # A label the system did not declare would be scored as silent false positives.
            undeclared = sorted({t[2:] for t in tags if t != "O"} - labels)
            if undeclared:
                raise SystemFailure(
                    f"{name}.predict returned label(s) {', '.join(undeclared)} for sentence {sentence.id}, which its "
                    f"tags do not declare (declared: {', '.join(sorted(labels)) or 'none'}); declare them in "
                    "SystemTags.labels or stop predicting them"
                )


# Attributes where systems leave what happened during fit (sklearn's trailing-underscore style).
FIT_REPORT_ATTRIBUTES = ("fit_report_", "fit_report", "projection_report_")


def fit_report(system: Any) -> dict[str, Any]:
    """Collect what a fitted system reports about its training (drop counts, teacher weights...).

    Reports are stored beside the results so that, e.g., EasyProject's dropped sentences are never
    hidden in an attribute nobody reads.
    """
    out: dict[str, Any] = {}
    for name in FIT_REPORT_ATTRIBUTES:
        value = getattr(system, name, None)
        if value:
            out[name.rstrip("_")] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if hasattr(value, "as_dict"):
        return _plain(value.as_dict())
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return repr(value)


def score_rows(mapping: LabelMapping, rows: Sequence[PredictedRow]) -> list[SentenceOutcome]:
    """Score a computed cell on the driver: harmonise labels, count spans per sentence."""
    outcomes = []
    for position, row in enumerate(rows):
        gold_tags = mapping.map_gold(row.gold)
        pred_tags = mapping.map_pred(row.pred)
        outcomes.append(
            SentenceOutcome(
                sentence_id=row.sentence_id, position=position, changed=row.changed,
                counts=count_sentence(gold_tags, pred_tags), tokens=row.tokens,
                gold=gold_tags, pred=pred_tags, alignment=row.alignment, span_map=row.span_map,
            )
        )
    return outcomes


def _micro_f1(outcomes: Sequence[SentenceOutcome]) -> float:
    tp = sum(o.total.tp for o in outcomes)
    errors = sum(o.total.errors for o in outcomes)
    return 2 * tp / (2 * tp + errors) if tp or errors else 0.0


def _last_frame(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "no traceback"
    frame = frames[-1]
    return f"at {frame.filename}:{frame.lineno}"


def _describe_failure(where: str, exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"{where}: called sys.exit({exc.code!r}) ({_last_frame(exc)}); a system must raise an exception, never exit the process"
    if isinstance(exc, XnerError):
        return f"{where}: {exc}"
    return f"{where}: {type(exc).__name__}: {exc} ({_last_frame(exc)})"
