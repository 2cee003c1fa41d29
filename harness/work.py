"""What one unit of remote work does, wherever it runs: one fit, then every cell that shares it.

The unit is what must not be repeated: a system configuration fitted on its training data with
one seed, then that fitted system predicting every pending cell of its dataset (clean and
perturbed sets, every language). :func:`run_fit_task` yields :data:`WorkEvent` values in the
order the local runner has always worked in; it never scores and never writes results. The
driver (:class:`harness.runner.Runner`) turns the events into stored cells, one transaction per
cell, so the store's guarantees (resume, no duplicates, one run id) do not depend on where the
work ran.

Caches go through :class:`WorkCache`: the local executor passes the result store itself (the
prediction cache and perturbed sets are committed per batch, as before); a Ray worker passes a
:class:`MemoryCache` whose new entries travel back with the events and are stored by the driver.
Perturbed sets are deterministic from their cache key (data hash, perturbation, parameters,
seed), so a worker rebuilds them instead of having them shipped.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.data import Sentence
from harness.errors import SystemFailure, XnerError
from harness.manifest import ComponentConfig, DatasetConfig, RunManifest
from harness.store import CellKey


class WorkCache(Protocol):
    """The caches a fit task reads and fills (``ResultStore`` has exactly these methods)."""

    def cached_predictions(self, fingerprint: str, input_hashes: Sequence[str]) -> dict[str, tuple[str, ...]]: ...

    def cache_predictions(self, fingerprint: str, items: Mapping[str, Sequence[str]]) -> None: ...

    def get_blob(self, cache_key: str) -> Any | None: ...

    def put_blob(self, cache_key: str, payload: Any) -> None: ...


@dataclass
class MemoryCache:
    """A worker-side cache: starts empty, remembers what the task computed so the driver stores it."""

    predictions: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    blobs: dict[str, Any] = field(default_factory=dict)

    def cached_predictions(self, fingerprint: str, input_hashes: Sequence[str]) -> dict[str, tuple[str, ...]]:
        known = self.predictions.get(fingerprint, {})
        return {h: known[h] for h in input_hashes if h in known}

    def cache_predictions(self, fingerprint: str, items: Mapping[str, Sequence[str]]) -> None:
        self.predictions.setdefault(fingerprint, {}).update({h: tuple(t) for h, t in items.items()})

    def get_blob(self, cache_key: str) -> Any | None:
        return self.blobs.get(cache_key)

    def put_blob(self, cache_key: str, payload: Any) -> None:
        self.blobs[cache_key] = payload


@dataclass(frozen=True, slots=True)
class PendingCell:
    """A cell still to compute: its key and its perturbation (``None`` for the clean cell)."""

    key: CellKey
    perturbation: ComponentConfig | None

    @property
    def params(self) -> dict[str, Any]:
        return self.perturbation.param_dict if self.perturbation else {}


@dataclass(frozen=True, slots=True)
class FitTask:
    """One fit (system configuration × training data × seed) and the pending cells that share it.

    Everything a worker needs is in here and is small: the manifest, configurations and keys.
    Data is read on the worker from ``data_dir`` (the same path on every node, or a shared one).
    """

    manifest: RunManifest
    system: ComponentConfig
    dataset: DatasetConfig
    seed: int
    cells: tuple[tuple[str, tuple[PendingCell, ...]], ...]  # (language, its pending cells)
    data_dir: str | None = None
    cache_dir: str | None = None
    batch_size: int = 128
    show_progress: bool = False
    #: ``xner run --isolate``: the system runs in a worker process with this per-batch time limit.
    isolate_timeout: float | None = None

    @property
    def label(self) -> str:
        return f"{self.system.name} on {self.dataset.name} (seed {self.seed})"

    @property
    def n_cells(self) -> int:
        return sum(len(cells) for _, cells in self.cells)

    def pending(self) -> list[PendingCell]:
        return [cell for _, cells in self.cells for cell in cells]


@dataclass(frozen=True, slots=True)
class PredictedRow:
    """One sentence of a computed cell, unscored: what the system saw and what it said."""

    sentence_id: str
    tokens: tuple[str, ...]
    gold: tuple[str, ...]  # the (perturbed) gold tags before label harmonisation
    pred: tuple[str, ...]  # the system's tags before label harmonisation
    changed: bool
    alignment: tuple[int | None, ...] | None = None
    span_map: tuple[tuple[int, int, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class FitStarted:
    """A trainable system starts fitting (locally this is the "fitting …" line before a long fit)."""

    fingerprint: str


@dataclass(frozen=True, slots=True)
class Fitted:
    """The system is ready (fitted, or nothing to fit); ``report`` is its fit report, maybe empty."""

    fingerprint: str
    report: Mapping[str, Any]
    trainable: bool


@dataclass(frozen=True, slots=True)
class FitFailed:
    fingerprint: str
    message: str


@dataclass(frozen=True, slots=True)
class CellPredicted:
    cell: PendingCell
    fingerprint: str
    rows: tuple[PredictedRow, ...]
    seconds: float
    attack: Mapping[str, Any] | None = None  # a model-aware perturbation's search summary


@dataclass(frozen=True, slots=True)
class CellNotRun:
    """A cell that produced no predictions: ``skipped`` (unsupported language) or ``failed``."""

    cell: PendingCell
    fingerprint: str
    status: str
    message: str


@dataclass(frozen=True, slots=True)
class LanguageFinished:
    """Every pending cell of ``lang`` has been reported (the driver writes robustness rows)."""

    lang: str


@dataclass(frozen=True, slots=True)
class TaskFailed:
    """The task as a whole could not run (its worker kept dying, or it cannot be scheduled)."""

    message: str


WorkEvent = FitStarted | Fitted | FitFailed | CellPredicted | CellNotRun | LanguageFinished | TaskFailed


def prediction_cache_key(fingerprint: str, trainable: bool, seed: int, builds: Sequence[str] = ()) -> str:
    """The prediction-cache namespace of a fitted system.

    A trainable system's output depends on the seed it was fitted with, which its parameters (and
    so its fingerprint) do not record: without the seed, seed 1 would reuse seed 0's predictions.
    Nor do they record which trained models it loaded: ``builds`` (:func:`systems.base.fitted_builds`) names
    them, so a model retrained under the same parameters (changed defaults, a wiped model cache,
    another machine writing into the same store) never gets the old model's cached predictions.

    >>> prediction_cache_key("abc", True, 1)
    'abc/seed=1'
    >>> prediction_cache_key("abc", True, 1, ["b2", "b1"]) == prediction_cache_key("abc", True, 1, ["b1", "b2"])
    True
    """
    key = f"{fingerprint}/seed={seed}" if trainable else fingerprint
    if builds:
        key += "/fit=" + hashlib.sha256("\n".join(sorted(set(builds))).encode()).hexdigest()[:16]
    return key



def run_fit_task(task: FitTask, cache: WorkCache, perturbations: dict[tuple[str, str], Any] | None = None) -> Iterator[WorkEvent]:
    """Fit the task's system once, then predict every pending cell; yields events in order.

    Failures of the system are events, never exceptions: a failing ``fit`` fails every pending
    cell, a failing ``predict`` fails its own cell. ``KeyboardInterrupt`` propagates.
    ``perturbations`` may be shared between tasks of one process (built once, keyed by name and
    parameters).
    """
    from harness.runner import _isolated
    from systems import make_system
    from systems.base import system_fingerprint

    manifest = task.manifest
    system = make_system(task.system.name, task.system.param_dict, shared=dict(manifest.shared_params))
    fingerprint = system_fingerprint(system)  # the same in or out of process: caches are shared
    if task.isolate_timeout is not None:
        system = _isolated(task.system.name, system, task.isolate_timeout)
    try:
        yield from _fit_and_predict(task, system, fingerprint, cache, perturbations)
    finally:
        # Systems holding processes or servers (llm-tagger's llama.cpp server, an --isolate
        # worker) release them here, also on Ctrl-C and on failure.
        close = getattr(system, "close", None)
        if callable(close):
            close()


def _fit_and_predict(
    task: FitTask, system: Any, fingerprint: str, cache: WorkCache, perturbations: dict[tuple[str, str], Any] | None
) -> Iterator[WorkEvent]:
    from harness.runner import _describe_failure, _Unsupported, fit_report
    from systems.base import FitContext, fitted_builds
    trainable = bool(system.tags.trainable)
    if trainable:
        yield FitStarted(fingerprint)
    try:
        report: dict[str, Any] = {}
        if trainable:
            context_args: dict[str, Any] = {}
            if task.cache_dir is not None:
                context_args["cache_dir"] = Path(task.cache_dir)
            system.fit(
                FitContext(
                    data_dir=Path(task.data_dir) if task.data_dir else None,
                    target_dataset=task.dataset.name,
                    target_languages=task.dataset.languages,
                    seed=task.seed,
                    show_progress=task.show_progress,
                    **context_args,
                )
            )
            report = fit_report(system)
    except KeyboardInterrupt:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure of a system (sys.exit too) fails its cells, not the run
        yield FitFailed(fingerprint, _describe_failure(f"{task.system.name}.fit", exc))
        return
    yield Fitted(fingerprint, report, trainable)

    cache_key = prediction_cache_key(fingerprint, trainable, task.seed, fitted_builds(report))
    perturbations = {} if perturbations is None else perturbations
    for lang, cells in task.cells:
        if not cells:
            continue
        gold = _load(task, lang)
        languages = system.tags.languages
        for cell in cells:
            if languages is not None and lang not in languages:
                reason = f"{task.system.name} declares languages {sorted(languages)}, not {lang}"
                yield CellNotRun(cell, fingerprint, "skipped", reason)
                continue
            try:
                started = time.perf_counter()
                rows, attack = _predict_cell(task, system, cache_key, gold, cell, cache, perturbations)
                yield CellPredicted(cell, fingerprint, tuple(rows), time.perf_counter() - started, attack)
            except _Unsupported as exc:
                yield CellNotRun(cell, fingerprint, "skipped", str(exc))
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # noqa: BLE001
                yield CellNotRun(cell, fingerprint, "failed", _describe_failure(cell.key.label(), exc))
        yield LanguageFinished(lang)
    # Systems that do their costly work in predict (llm-tagger's labelling) update their report.
    final = fit_report(system)
    if final and final != report:
        yield Fitted(fingerprint, final, trainable)


def _load(task: FitTask, lang: str) -> list[Sentence]:
    from harness.datasets import load_ner

    loaded = load_ner(task.dataset.name, lang, task.dataset.split, data_dir=task.data_dir, orphan_policy=task.manifest.orphan_policy)  # type: ignore[arg-type]
    sentences = loaded.sentences
    if task.manifest.max_sentences is not None:
        sentences = sentences[: task.manifest.max_sentences]
    return sentences


def _predict_cell(
    task: FitTask,
    system: Any,
    cache_key: str,
    gold: Sequence[Sentence],
    cell: PendingCell,
    cache: WorkCache,
    perturbations: dict[tuple[str, str], Any],
) -> tuple[list[PredictedRow], dict[str, Any] | None]:
    """The cell's rows, and for a model-aware perturbation (adversarial search) its attack summary."""
    attack: dict[str, Any] | None = None
    if cell.perturbation is None:
        inputs = list(gold)
        alignments: list[tuple[int | None, ...] | None] = [None] * len(gold)
        span_maps: list[tuple[tuple[int, int, int, int], ...]] = [()] * len(gold)
        changed = [False] * len(gold)
    else:
        perturbed, attack = _perturbed_set(task, gold, cell, cache, perturbations, system, cache_key)
        inputs = [p.sentence for p in perturbed]
        alignments = [tuple(p.alignment) for p in perturbed]
        span_maps = [p.span_map for p in perturbed]
        changed = [p.sentence.tokens != g.tokens or p.sentence.tags != g.tags for p, g in zip(perturbed, gold, strict=True)]
    predictions = _predict(task, system, cache_key, inputs, cell.key, cache)
    rows = [
        PredictedRow(s.id, s.tokens, s.tags, tuple(pred), changed[i], alignments[i], span_maps[i])
        for i, (s, pred) in enumerate(zip(inputs, predictions, strict=True))
    ]
    return rows, attack


def _perturbed_set(
    task: FitTask,
    gold: Sequence[Sentence],
    cell: PendingCell,
    cache: WorkCache,
    perturbations: dict[tuple[str, str], Any],
    system: Any,
    system_key: str,
) -> tuple[list[Any], dict[str, Any] | None]:
    """The perturbed test set, from the cache or rebuilt (and cached) deterministically.

    A model-agnostic perturbation's set depends on the data, the perturbation and the seed only, so
    every system sees the same one. A model-aware one (``model_aware``: the adversarial search) is
    built against ``system`` and cached under its ``system_key`` too; it also returns the attack
    summary (None for the others).
    """
    from attacks.base import perturb_corpus
    from harness.runner import _make_perturbation, _mention_map, _PerturbedRow, _Unsupported, sentence_hash

    config = cell.perturbation
    if config is None:
        raise ValueError(f"{cell.key.label()} is a clean cell; it has no perturbed set")
    slot = (config.name, config.params_hash)
    if slot not in perturbations:
        # Keyed by name *and* parameters: a suite may list one perturbation at several severities.
        perturbations[slot] = _make_perturbation(config, task.data_dir)
    perturbation = perturbations[slot]
    key = cell.key
    if not perturbation.supports(key.lang):
        raise _Unsupported(f"{config.name} does not support language {key.lang!r}")
    data_hash = hashlib.sha256("\n".join(sentence_hash(s) + "|" + " ".join(s.tags) for s in gold).encode()).hexdigest()[:16]
    blob_key = f"{data_hash}:{config.name}:{config.params_hash}:{key.seed}"
    model_aware = bool(getattr(perturbation, "model_aware", False))
    if model_aware:
        blob_key += f":{system_key}"
    cached = cache.get_blob(blob_key)
    if cached is None:
        attack = None
        if model_aware:
            mapping = task.manifest.mapping_for(task.system.name, key.dataset)
            perturbed, attack = perturbation.attack_corpus(
                system, gold, key.seed, map_gold=mapping.map_gold, map_pred=mapping.map_pred
            )
        else:
            perturbed = perturb_corpus(perturbation, gold, key.seed)
        rows = [
            {"tokens": p.sentence.tokens, "tags": p.sentence.tags, "alignment": p.alignment, "span_map": _mention_map(p)}
            for p in perturbed
        ]
        # Model-agnostic sets stay a bare list (the stored format of earlier stores).
        cached = {"rows": rows, "attack": attack} if model_aware else rows
        cache.put_blob(blob_key, cached)
    rows, attack = (cached["rows"], cached["attack"]) if isinstance(cached, dict) else (cached, None)
    out = []
    for original, row in zip(gold, rows, strict=True):
        sentence = Sentence(original.id, original.lang, tuple(row["tokens"]), tuple(row["tags"]))
        out.append(_PerturbedRow(sentence, tuple(row["alignment"]), tuple(tuple(m) for m in row["span_map"])))
    return out, attack


def _predict(
    task: FitTask, system: Any, cache_key: str, sentences: Sequence[Sentence], key: CellKey, cache: WorkCache
) -> list[tuple[str, ...]]:
    from harness.console import ProgressBar
    from harness.runner import _check_output, _last_frame, sentence_hash

    hashes = [sentence_hash(s) for s in sentences]
    cached = cache.cached_predictions(cache_key, hashes)
    todo = [i for i, h in enumerate(hashes) if h not in cached]
    # Unique inputs only: perturbations often leave sentences unchanged.
    unique: dict[str, int] = {}
    for i in todo:
        unique.setdefault(hashes[i], i)
    order = list(unique.values())
    bar = ProgressBar(task.show_progress and len(order) > task.batch_size, f"{key.label()}", len(order))
    for start in range(0, len(order), task.batch_size):
        batch_idx = order[start : start + task.batch_size]
        batch = [sentences[i].unlabelled() for i in batch_idx]
        try:
            output = system.predict(batch)
        except KeyboardInterrupt:
            raise  # the user's Ctrl-C stops the run; finished cells are stored
        except SystemExit as exc:
            # sys.exit() inside a system is the system misbehaving, not the user stopping the run:
            # it fails this cell like any other exception and the run goes on.
            raise SystemFailure(
                f"{system.name}.predict called sys.exit({exc.code!r}) (batch of {len(batch)} starting at sentence "
                f"{batch[0].id}; {_last_frame(exc)}); a system must raise an exception, never exit the process"
            ) from None
        except XnerError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise SystemFailure(
                f"{system.name}.predict raised {type(exc).__name__}: {exc} (batch of {len(batch)} starting at "
                f"sentence {batch[0].id}; {_last_frame(exc)})"
            ) from exc
        # Labels the system did not declare fail the cell (read after fit: some systems learn them).
        _check_output(system.name, batch, output, frozenset(system.tags.labels))
        fresh = {hashes[i]: tuple(tags) for i, tags in zip(batch_idx, output, strict=True)}
        cache.cache_predictions(cache_key, fresh)
        cached.update(fresh)
        bar.advance(len(batch))
    bar.close()
    return [cached[h] for h in hashes]
