"""Deciding a study: its comparisons computed from the stored per-sentence counts.

* ``f1-difference``: F1(a) − F1(b) per language and pooled (micro over all sentences), on each
  condition (clean by default).
* ``delta-f1-difference``: ΔF1(a) − ΔF1(b), ΔF1 = clean − perturbed F1 **on the sentences the
  perturbation changed for either system**. For model-agnostic perturbations these are the same
  sentences for both (perturbed sets are seeded by data, perturbation and seed, never by system).
  A model-aware one (``adversarial.v1``) searches each system separately: a sentence it changed
  for one system only counts with equal clean and perturbed counts for the other, which is the
  robustness that system showed there. Negative means a drops less than b.
* ``trend``: a metric (F1, recall) against a varied parameter, OLS slope with a bootstrap CI, best
  value, per language and pooled.

Every per-language estimate has a paired bootstrap CI over sentences (the same resample for both
systems and all seeds), an approximate-randomisation p-value, and the Holm-adjusted p-value over the
languages of that comparison; estimates are means over seeds, with the seed spread beside the
bootstrap standard error. With several seeds, the sentences a perturbation changed differ per seed:
unchanged sentences count zero in that seed, so resampling is over all sentences and every seed's
ΔF1 is on its own changed sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.errors import ConfigError
from harness.manifest import ComponentConfig, DatasetConfig, params_hash
from harness.stats import (
    METRICS,
    count_array,
    f1_of_sums,
    holm,
    paired_bootstrap,
    paired_randomization,
    per_seed_values,
    seed_spread,
    trend,
)
from harness.store import CLEAN, CellKey, ResultStore
from harness.studies import CLEAN_CONDITION, Comparison, StudyPerturbation
from harness.studies.run import GridPoint, StudyRun, resolve_pair

POOLED = "pooled"


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One paired difference a − b on one language (or pooled) under one condition."""

    comparison: str
    kind: str
    a: str
    b: str
    condition: str
    lang: str
    estimate: float
    low: float
    high: float
    p: float
    p_holm: float | None  # None on the pooled row (a single test)
    n_sentences: int  # sentences compared (for ΔF1: changed in at least one seed)
    a_value: float  # F1 (or ΔF1) of a, seed mean
    a_low: float
    a_high: float
    b_value: float
    b_low: float
    b_high: float
    seeds: int
    seed_sd: float | None
    bootstrap_se: float
    dominant: str
    run_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TrendRow:
    comparison: str
    system: str  # variant ids share this base id
    backbone: str | None
    parameter: str
    metric: str
    condition: str
    lang: str
    xs: tuple[float, ...]
    values: tuple[float, ...]
    value_lows: tuple[float, ...]
    value_highs: tuple[float, ...]
    slope: float
    low: float
    high: float
    best_x: float
    n_sentences: int
    run_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AttackRow:
    """The adversarial search of one model-aware cell (``adversarial.v1``), as stored beside it."""

    variant: str
    condition: str
    lang: str
    seed: int
    attacked: int
    successful: int
    failed: int
    skipped: int
    success_rate: float
    avg_queries: float
    f1_original: float
    f1_attacked: float
    run_id: str


@dataclass
class ComparisonResult:
    comparison: Comparison
    rows: list[DiffRow] = field(default_factory=list)
    trends: list[TrendRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class StudyResult:
    run: StudyRun
    comparisons: list[ComparisonResult]
    notes: list[str]
    resamples: int
    trials: int
    cpu_seconds: float  # recorded for the runs used (None recorded counts 0)
    untimed_runs: tuple[str, ...]  # finished runs made outside `xner study` (no timing stored)
    cell_seconds: float  # evaluation time of the cells used (stored per cell)
    attacks: list[AttackRow] = field(default_factory=list)  # model-aware perturbations' search statistics


def direction(low: float, high: float) -> str:
    """The sign a CI supports: ``positive``, ``negative`` or ``inconclusive`` (it contains 0).

    >>> direction(0.01, 0.03), direction(-0.2, -0.1), direction(-0.1, 0.1)
    ('positive', 'negative', 'inconclusive')
    """
    if low > 0:
        return "positive"
    if high < 0:
        return "negative"
    return "inconclusive"


def agreement(published: str, observed: str) -> str:
    """``agrees``, ``disagrees``, ``inconclusive`` or ``no published direction``.

    >>> agreement("negative", "negative"), agreement("positive", "negative"), agreement("unknown", "positive")
    ('agrees', 'disagrees', 'no published direction')
    """
    if published in ("unknown", ""):
        return "no published direction"
    if published == "none":
        return "agrees" if observed == "inconclusive" else "disagrees"
    if observed == "inconclusive":
        return "inconclusive"
    return "agrees" if observed == published else "disagrees"


# --- reading cells ------------------------------------------------------------------------------


class _Missing(Exception):
    pass


def _key(point: GridPoint, dataset: DatasetConfig, lang: str, seed: int, perturbation: ComponentConfig | None) -> CellKey:
    """The cell of ``point`` on one language; _Missing when no run of that language is stored."""
    run_id = point.run_id_for(dataset.name, lang)
    if run_id is None:
        run = point.runs.get((dataset.name, lang))
        raise _Missing(f"{point.variant.id} has no stored run on {dataset.name}/{lang} ({run.status if run else 'not in its grid'})")
    name, phash = (CLEAN, params_hash({})) if perturbation is None else (perturbation.name, perturbation.params_hash)
    return CellKey(run_id, point.variant.system, dataset.name, lang, dataset.split, name, phash, seed)


def _usable(point: GridPoint) -> bool:
    return point.manifest is not None and bool(point.run_ids)


def _lang_runs(points: Sequence[GridPoint], dataset: DatasetConfig, lang: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r for p in points if (r := p.run_id_for(dataset.name, lang)) is not None))


def _outcomes(
    store: ResultStore, point: GridPoint, dataset: DatasetConfig, lang: str, perturbation: ComponentConfig | None, seeds: Sequence[int]
) -> list[Any]:
    """Per seed of ``seeds``: the cell's sentence outcomes; raises _Missing naming the cell and why."""
    assert point.manifest is not None
    out = []
    for seed in seeds:
        key = _key(point, dataset, lang, seed, perturbation)
        status = store.cell_status(key)
        if status != "done":
            records = store.cells(**{f: getattr(key, f) for f in ("run_id", "system", "dataset", "lang", "perturbation", "params_hash", "seed")})
            why = records[0].error if records and records[0].error else (status or "not run")
            raise _Missing(f"{point.variant.id} on {dataset.name}/{lang} {key.perturbation} seed {seed}: {why}")
        out.append(store.sentence_outcomes(key))
    return out


def _seed_finished(
    store: ResultStore, points: Sequence[GridPoint], dataset: DatasetConfig, lang: str, index: int | None, seed: int
) -> bool:
    """Whether every point finished its clean cell (and the ``index``-th perturbation's) of ``seed``."""
    for point in points:
        for perturbation in (None,) if index is None else (None, _perturbation_config(point, index)):
            try:
                if store.cell_status(_key(point, dataset, lang, seed, perturbation)) != "done":
                    return False
            except _Missing:
                return False
    return True


def _perturbation_config(point: GridPoint, index: int) -> ComponentConfig:
    assert point.manifest is not None
    return point.manifest.perturbations[index]


def _same_sentences(*per_seed_lists: list[Any]) -> None:
    ids = [tuple(o.sentence_id for o in outcomes) for lists in per_seed_lists for outcomes in lists]
    if len(set(ids)) > 1:
        raise ConfigError("paired cells cover different sentences; were the runs made with different --max-sentences or data?")


def _counts(per_seed: list[Any], mask: np.ndarray | None = None) -> np.ndarray:
    array = count_array([[o.total for o in outcomes] for outcomes in per_seed])
    if mask is not None:
        array = array * mask[:, :, None]
    return array


def _common_seeds(seed_lists: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The seeds in every list, in the first list's order."""
    return tuple(s for s in seed_lists[0] if all(s in other for other in seed_lists[1:]))


def _shared_seeds(points: Sequence[GridPoint], dataset: str, lang: str) -> tuple[int, ...]:
    """The seeds every point has on one language (paired points normally have the same)."""
    return _common_seeds([p.seeds_for(dataset, lang) for p in points])


def _pool(
    per_lang: Sequence[tuple[str, list[np.ndarray], tuple[int, ...]]], notes: list[str], what: str
) -> tuple[list[np.ndarray], tuple[int, ...]] | None:
    """Pool languages' count arrays (sentences side by side) over the seeds every language has.

    A profile's ``language_seeds`` gives some languages more seeds: their extra seeds count in
    their own rows, and the pooled row keeps seed-aligned arrays by leaving them out (said in a note).
    """
    common = _common_seeds([seeds for _, _, seeds in per_lang])
    if not common:
        notes.append(f"{what}: no pooled row, the languages share no seed")
        return None
    if any(seeds != common for _, _, seeds in per_lang):
        by_count: dict[int, list[str]] = {}
        for name, _, seeds in per_lang:
            if seeds != common:
                by_count.setdefault(len(seeds), []).append(name)
        more = "; ".join(f"{_and(names)} {'has' if len(names) == 1 else 'have'} {n} in {'its' if len(names) == 1 else 'their'} own row{'s' * (len(names) > 1)}"
                         for n, names in sorted(by_count.items()))
        plural = "s" if len(common) > 1 else ""
        note = f"{what}: pooled over seed{plural} {', '.join(map(str, common))}, the seed{plural} every language has ({more})"
        if note not in notes:
            notes.append(note)
    pooled = [
        np.concatenate([arrays[j][[seeds.index(s) for s in common]] for _, arrays, seeds in per_lang], axis=1)
        for j in range(len(per_lang[0][1]))
    ]
    return pooled, common


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _changed(per_seed: list[Any]) -> np.ndarray:
    return np.array([[o.changed for o in outcomes] for outcomes in per_seed], dtype=np.int64).reshape(len(per_seed), -1)


# --- comparisons --------------------------------------------------------------------------------


def _conditions(comparison: Comparison, perturbations: Sequence[StudyPerturbation]) -> list[tuple[str, int | None]]:
    """(label, index into the grid's perturbations or None for clean) the comparison is decided on."""
    if comparison.conditions:
        wanted = comparison.conditions
    elif comparison.kind == "delta-f1-difference":
        wanted = tuple(dict.fromkeys(p.name for p in perturbations))
    else:
        wanted = (CLEAN_CONDITION,)
    out: list[tuple[str, int | None]] = []
    for name in wanted:
        if name == CLEAN_CONDITION:
            out.append((CLEAN_CONDITION, None))
        else:
            out += [(p.label, i) for i, p in enumerate(perturbations) if p.name == name]
    return out


def _diff_stat(kind: str) -> tuple[Any, Any, Any]:
    """(paired statistic over [a conditions..., b conditions...], AR statistic, one-system statistic)."""
    if kind == "delta-f1-difference":
        def one(s: Sequence[np.ndarray]) -> np.ndarray:
            return np.asarray(f1_of_sums(s[0]) - f1_of_sums(s[1]))
        return (lambda s: one(s[:2]) - one(s[2:])), (lambda sa, sb: one(sa) - one(sb)), one

    def single(s: Sequence[np.ndarray]) -> np.ndarray:
        return f1_of_sums(s[0])
    return (lambda s: single(s[:1]) - single(s[1:])), (lambda sa, sb: single(sa) - single(sb)), single


def _diff_rows(
    store: ResultStore, study: StudyRun, comparison: Comparison, a_id: str, b_id: str, result: ComparisonResult,
    resamples: int, trials: int,
) -> None:
    pa, pb = study.points.get(a_id), study.points.get(b_id)
    for ref, point in ((a_id, pa), (b_id, pb)):
        if point is None:
            result.notes.append(f"{ref} is not in this profile's grid")
            return
        if not _usable(point):
            result.notes.append(f"{ref}: no stored results ({point.status}{': ' + point.error if point.error else ''})")
            return
    assert pa is not None and pb is not None and pa.manifest is not None and pb.manifest is not None
    paired, ar_stat, one = _diff_stat(comparison.kind)
    multi_dataset = len(pa.manifest.datasets) > 1
    for dataset in pa.manifest.datasets:
        for lang in dataset.languages:
            ra, rb = pa.runs.get((dataset.name, lang)), pb.runs.get((dataset.name, lang))
            if ra is not None and rb is not None and ra.run_id and rb.run_id and ra.environment != rb.environment:
                name = f"{dataset.name}/{lang}" if multi_dataset else lang
                result.notes.append(
                    f"{name}: {a_id} ran on {ra.environment}, {b_id} on {rb.environment}; a model trained on another "
                    "machine is not bit-identical, so this language's difference includes that variance as well as the seed's"
                )
    for label, index in _conditions(comparison, study.spec.perturbations):
        per_lang: list[tuple[str, list[np.ndarray], np.ndarray, tuple[str, ...], tuple[int, ...]]] = []
        for dataset in pa.manifest.datasets:
            for lang in dataset.languages:
                name = f"{dataset.name}/{lang}" if multi_dataset else lang
                seeds = _shared_seeds((pa, pb), dataset.name, lang)
                try:
                    conds, measured = _condition_arrays(store, pa, pb, dataset, lang, index, comparison.kind, seeds)
                except _Missing as exc:
                    # A seed whose fit failed (a model that did not learn) leaves the others: the
                    # row pairs the seeds both systems finished, and a note names the one left out.
                    finished = tuple(s for s in seeds if _seed_finished(store, (pa, pb), dataset, lang, index, s))
                    if not finished or finished == seeds:
                        result.notes.append(f"{label}, {name}: left out, {exc}")
                        continue
                    conds, measured = _condition_arrays(store, pa, pb, dataset, lang, index, comparison.kind, finished)
                    plural = "s" if len(finished) > 1 else ""
                    result.notes.append(
                        f"{label}, {name}: over seed{plural} {', '.join(map(str, finished))} only, the seed{plural} both systems finished; {exc}"
                    )
                    seeds = finished
                if not measured.any():  # nothing changed: no ΔF1 to measure, and no test to count in Holm's family
                    result.notes.append(f"{label}, {name}: left out, the perturbation changed no sentence")
                    continue
                per_lang.append((name, conds, measured, _lang_runs((pa, pb), dataset, lang), seeds))
        rows = []
        for name, conds, measured, runs, _ in per_lang:
            n = int(measured.any(axis=0).sum())
            rows.append(_row(comparison, a_id, b_id, label, name, conds, n, paired, ar_stat, one, resamples, trials, runs))
        adjusted = holm([r.p for r in rows])
        rows = [_with_holm(r, p) for r, p in zip(rows, adjusted, strict=True)]
        # The measured mask pools with the counts, so the pooled n counts only the pooled seeds.
        pooled = _pool([(name, [*conds, measured], seeds) for name, conds, measured, _, seeds in per_lang], result.notes, f"{a_id} − {b_id}") if per_lang else None
        if pooled is not None:
            *arrays, measured = pooled[0]
            runs = tuple(dict.fromkeys(r for _, _, _, lang_runs, _ in per_lang for r in lang_runs))
            n_pooled = int(measured.any(axis=0).sum())
            rows.append(_row(comparison, a_id, b_id, label, POOLED, arrays, n_pooled, paired, ar_stat, one, resamples, trials, runs))
        result.rows += rows


def _with_holm(row: DiffRow, p_holm: float) -> DiffRow:
    from dataclasses import replace

    return replace(row, p_holm=p_holm)


def _condition_arrays(
    store: ResultStore, pa: GridPoint, pb: GridPoint, dataset: DatasetConfig, lang: str, index: int | None, kind: str,
    seeds: Sequence[int],
) -> tuple[list[np.ndarray], np.ndarray]:
    """The paired count arrays of a and b over ``seeds``, and which (seed, sentence) they measure:
    every sentence, or for ΔF1 the sentences a perturbation changed."""
    pert_a = None if index is None else _perturbation_config(pa, index)
    pert_b = None if index is None else _perturbation_config(pb, index)
    if pert_a != pert_b:
        raise _Missing(f"{pa.variant.id} and {pb.variant.id} resolved perturbation {index} differently ({pert_a} vs {pert_b})")
    b_dataset = next((d for d in pb.manifest.datasets if d.name == dataset.name), None) if pb.manifest else None
    if b_dataset is None or lang not in b_dataset.languages:
        raise _Missing(f"{pb.variant.id} has no run on {dataset.name}/{lang}")
    if kind == "delta-f1-difference":
        ac, ap = _outcomes(store, pa, dataset, lang, None, seeds), _outcomes(store, pa, dataset, lang, pert_a, seeds)
        bc, bp = _outcomes(store, pb, b_dataset, lang, None, seeds), _outcomes(store, pb, b_dataset, lang, pert_b, seeds)
        _same_sentences(ac, ap, bc, bp)
        mask = _changed(ap) | _changed(bp)
        # Sentences changed in at least one seed: what ΔF1 is measured on.
        return [_counts(ac, mask), _counts(ap, mask), _counts(bc, mask), _counts(bp, mask)], mask.astype(bool)
    a = _outcomes(store, pa, dataset, lang, pert_a, seeds)
    b = _outcomes(store, pb, b_dataset, lang, pert_b, seeds)
    _same_sentences(a, b)
    return [_counts(a), _counts(b)], np.ones((len(a), len(a[0])), dtype=bool)


def _row(
    comparison: Comparison, a_id: str, b_id: str, condition: str, lang: str, conds: list[np.ndarray], n: int,
    paired: Any, ar_stat: Any, one: Any, resamples: int, trials: int, run_ids: tuple[str, ...],
) -> DiffRow:
    half = len(conds) // 2
    interval = paired_bootstrap(conds, paired, resamples=resamples)
    p = paired_randomization(conds[:half], conds[half:], ar_stat, trials=trials)
    a_iv = paired_bootstrap(conds[:half], one, resamples=resamples)
    b_iv = paired_bootstrap(conds[half:], one, resamples=resamples)
    spread = seed_spread(list(per_seed_values(conds, paired)), interval)
    return DiffRow(
        comparison.id, comparison.kind, a_id, b_id, condition, lang, interval.estimate, interval.low, interval.high,
        p, None, n, a_iv.estimate, a_iv.low, a_iv.high, b_iv.estimate, b_iv.low, b_iv.high,
        spread.seeds, spread.seed_sd, spread.bootstrap_se, spread.dominant, run_ids,
    )


def _first(score: Any) -> Any:
    """The statistic ``score`` of the single condition (a metric of one system, with its CI)."""
    return lambda sums: score(sums[0])


def ensemble_by_x(store: ResultStore, points: Sequence[GridPoint], dataset: DatasetConfig, lang: str, parameter: str) -> str | None:
    """What each value of a trend's parameter put into the ensemble on one target language, from the
    teacher weights the fit reports record (ts-multi does, per target), so a reader sees which source
    each step added. None when a point has no run there or its system records no weights.
    """
    parts = []
    seed = 0
    for point in points:
        run_id = point.run_id_for(dataset.name, lang)
        if run_id is None or point.manifest is None:
            return None
        seed = point.seeds_for(dataset.name, lang)[0]  # the first seed's ensemble: weights barely move between seeds
        reports = store.fit_reports(run_id=run_id, system=point.variant.system, dataset=dataset.name, seed=seed)
        target = reports[0]["report"].get("fit_report", {}).get(lang) if reports else None
        weights = target.get("teacher_weights") if isinstance(target, dict) else None
        if not isinstance(weights, dict) or not weights:
            return None
        ranked = sorted(weights.items(), key=lambda kv: (-float(kv[1]), kv[0]))
        # How many entities the ensemble put in the unlabelled text: averaging teachers that
        # disagree cancels entity mass, which is what a student's recall then follows.
        labelled = target.get("teacher_entities") if isinstance(target, dict) else None
        count = f" ({int(labelled)} entities labelled)" if isinstance(labelled, int | float) else ""
        parts.append(f"{point.variant.x}: " + ", ".join(f"{source.rsplit('/', 1)[-1]} {float(w):.2f}" for source, w in ranked) + count)
    return f"teachers and their weights by {parameter} (seed {seed}): " + "; ".join(parts)


def _trend_rows(store: ResultStore, study: StudyRun, comparison: Comparison, result: ComparisonResult, resamples: int) -> None:
    variants = [p for p in study.points.values() if p.variant.base_id == comparison.system]
    for backbone in dict.fromkeys(p.variant.backbone for p in variants):
        points = sorted((p for p in variants if p.variant.backbone == backbone), key=lambda p: p.variant.x)
        unusable = [p for p in points if not _usable(p)]
        for p in unusable:
            result.notes.append(f"{p.variant.id}: no stored results ({p.status}{': ' + p.error if p.error else ''})")
        points = [p for p in points if _usable(p)]
        if len(points) < 2:
            result.notes.append(f"trend of {comparison.system}{'@' + backbone if backbone else ''}: fewer than two values with results")
            continue
        first = points[0]
        assert first.manifest is not None
        xs = [float(p.variant.x) for p in points]
        multi_dataset = len(first.manifest.datasets) > 1
        for dataset in first.manifest.datasets:
            for lang in dataset.languages:
                if (members := ensemble_by_x(store, points, dataset, lang, comparison.parameter)) is not None:
                    result.notes.append(f"{f'{dataset.name}/{lang}' if multi_dataset else lang}: {members}")
        for label, index in _conditions(comparison, study.spec.perturbations):
            per_lang: list[tuple[str, list[np.ndarray], tuple[int, ...]]] = []
            runs_of: dict[str, tuple[str, ...]] = {}
            for dataset in first.manifest.datasets:
                for lang in dataset.languages:
                    name = f"{dataset.name}/{lang}" if multi_dataset else lang
                    seeds = _shared_seeds(points, dataset.name, lang)
                    try:
                        per_x = [
                            _outcomes(store, p, dataset, lang, None if index is None else _perturbation_config(p, index), seeds)
                            for p in points
                        ]
                        _same_sentences(*per_x)
                    except _Missing as exc:
                        result.notes.append(f"{label}, {name}: left out, {exc}")
                        continue
                    per_lang.append((name, [_counts(o) for o in per_x], seeds))
                    runs_of[name] = _lang_runs(points, dataset, lang)
            pooled = _pool(per_lang, result.notes, f"trend of {comparison.system}") if per_lang else None
            if pooled is not None:
                per_lang.append((POOLED, pooled[0], pooled[1]))
                runs_of[POOLED] = tuple(dict.fromkeys(r for runs in runs_of.values() for r in runs))
            for metric in comparison.metrics:
                score = METRICS[metric]
                for name, conds, _ in per_lang:
                    t = trend(xs, conds, metric=metric, resamples=resamples)
                    cis = [paired_bootstrap([c], _first(score), resamples=resamples) for c in conds]
                    result.trends.append(
                        TrendRow(
                            comparison.id, comparison.system, backbone, comparison.parameter, metric, label, name,
                            t.xs, t.values, tuple(iv.low for iv in cis), tuple(iv.high for iv in cis),
                            t.slope, t.low, t.high, t.best_x, int(conds[0].shape[1]), runs_of[name],
                        )
                    )


def attack_rows(store: ResultStore, study: StudyRun) -> list[AttackRow]:
    """The stored search statistics of every model-aware cell of the grid (empty without one)."""
    rows = []
    for point in study.points.values():
        if not _usable(point):
            continue
        assert point.manifest is not None
        for index, grid_perturbation in enumerate(study.spec.perturbations):
            if index >= len(point.manifest.perturbations):
                break
            config = point.manifest.perturbations[index]
            for dataset in point.manifest.datasets:
                for lang in dataset.languages:
                    run_id = point.run_id_for(dataset.name, lang)
                    if run_id is None:
                        continue
                    for seed in point.seeds_for(dataset.name, lang):
                        summary = store.attack_summary(_key(point, dataset, lang, seed, config))
                        if summary is None:
                            continue
                        rows.append(AttackRow(
                            point.variant.id, grid_perturbation.label, lang, seed, int(summary["attacked"]),
                            int(summary["successful"]), int(summary["failed"]), int(summary["skipped"]),
                            float(summary["attack_success_rate"]), float(summary["avg_queries"]),
                            float(summary["f1_original"]), float(summary["f1_attacked"]), run_id,
                        ))
    return rows


def finished_runs(study: StudyRun) -> list[str]:
    """Run ids of the grid's languages whose run is complete (reused or computed now)."""
    return [r.run_id for p in study.points.values() for r in p.runs.values() if r.run_id and r.status in ("reused", "computed")]


def analyse(store: ResultStore, study: StudyRun, *, resamples: int = 1000, trials: int = 2000) -> StudyResult:
    """Compute every comparison of the study from the stored cells of its grid points."""
    results = []
    for comparison in study.spec.comparisons:
        result = ComparisonResult(comparison)
        if comparison.kind == "trend":
            _trend_rows(store, study, comparison, result, resamples)
        else:
            for a_id, b_id in resolve_pair(study.spec, study.profile, comparison.a, comparison.b):
                _diff_rows(store, study, comparison, a_id, b_id, result, resamples, trials)
        results.append(result)
    run_ids = [r for p in study.points.values() for r in p.run_ids]
    times = store.run_times(run_ids)
    cell_seconds = sum(
        c.seconds for run_id in dict.fromkeys(run_ids) for c in store.cells(run_id=run_id)
    )
    notes = [f"{p.variant.id}: {p.status}{' — ' + p.error if p.error else ''}" for p in study.points.values() if p.status in ("failed", "missing", "incomplete")]
    return StudyResult(
        study, results, [*study.spec.notes, *notes], resamples, trials,
        cpu_seconds=sum(cpu for cpu, _ in times.values()),
        # Only finished runs: an interrupted one has no timing because it has not finished, not
        # because it was made outside `xner study`.
        untimed_runs=tuple(r for r in dict.fromkeys(finished_runs(study)) if r not in times),
        cell_seconds=cell_seconds,
        attacks=attack_rows(store, study),
    )


__all__ = ["POOLED", "AttackRow", "ComparisonResult", "DiffRow", "StudyResult", "TrendRow", "agreement", "analyse", "direction"]
