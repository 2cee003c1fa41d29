"""A suite's leaderboard, computed from the result store (every number carries its run ids).

Columns (anchors.md, table (b) and "Adapting these to our harness"):

* **clean F1**: strict IOB2 span micro-F1 per language, then the unweighted mean over languages
  (XTREME's aggregation: every language counts the same, whatever its test-set size).
* **mean perturbed F1**: F1 of each perturbed test set, averaged over languages × perturbations.
* **relative robustness**: mean perturbed F1 / clean F1 (1 = unaffected; 1 − PromptBench's PDR).
* **worst-case F1**: per sentence, the variant (clean included) with the most errors, counts summed,
  F1 once per language (HELM's worst case rebuilt for a corpus-level metric, exactly the rule of
  ``harness.robustness.worst_case_row``), then the mean over languages.
* **recall drop**: clean minus perturbed recall on the sentences each perturbation changed (the
  stored robustness rows), averaged.

Comparability: only languages every system was scored on, and only perturbations every system was
run with, enter the overall columns (XTREME shows an average only when every part is present);
what was left out is listed in ``Board.notes``. Runs under other harness/scorer/dataset versions than
the suite's most recent run are excluded and named in the notes.

Ranks come with a 95% stratified paired bootstrap over sentences (strata = languages, or language ×
perturbation): each system's interval, and the difference to the row above with a ``*`` when that
interval excludes zero. No anchor offers this (anchors.md, cross-cutting lesson 8).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.errors import ConfigError, XnerError
from harness.metrics import SpanCounts
from harness.store import CLEAN, ResultStore

WORST_CASE = "worst-case"
RANK_METRICS = ("clean", "perturbed", "worst", "robustness")
_CHUNK = 100


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One system on the board. F1 values are fractions in [0, 1]; ``None`` when not measured."""

    rank: int
    system: str
    kind: str  # "run" (xner run), "system" or "predictions" (submissions)
    clean_f1: float
    perturbed_f1: float | None
    relative_robustness: float | None
    worst_f1: float | None
    recall_drop: float | None
    score: float
    score_ci: Interval
    delta_above: float | None
    delta_ci: Interval | None
    significant: bool | None
    run_ids: tuple[str, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)
    base_system: str = ""  # the registered system name; ``system`` adds the parameters that differ
    params: Mapping[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    seed_sd: float | None = None  # standard deviation over seeds of the ranking metric (None: one seed)


@dataclass(frozen=True, slots=True)
class LanguageCell:
    clean_f1: float
    clean_ci: Interval
    worst_f1: float | None
    n_sentences: int


@dataclass(frozen=True, slots=True)
class TypeCell:
    clean_f1: float
    support: int
    recall_drop: float | None


@dataclass(frozen=True)
class Board:
    suite: str
    rank_by: str
    languages: tuple[str, ...]
    perturbations: tuple[str, ...]  # "name.params_hash" labels
    rows: tuple[BoardRow, ...]
    per_language: Mapping[str, Mapping[str, LanguageCell]]
    per_type: Mapping[str, Mapping[str, TypeCell]]
    entity_types: tuple[str, ...]
    notes: tuple[str, ...]
    versions: Mapping[str, str]
    resamples: int
    perturbation_names: Mapping[str, str] = field(default_factory=dict)  # label -> char-typos.v1[severity=3]

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(sorted({r for row in self.rows for r in row.run_ids}))


# --- statistics --------------------------------------------------------------------------------


def _f1(sums: np.ndarray) -> np.ndarray:
    tp, fp, fn = sums[..., 0], sums[..., 1], sums[..., 2]
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


def _stratum_f1(m: np.ndarray) -> float:
    """F1 of one stratum: ``(sentences, 3)`` counts, or ``(seeds, sentences, 3)`` → mean over seeds."""
    if m.ndim == 3:
        return float(np.mean(_f1(m.sum(axis=1)))) if len(m) else 0.0
    return float(_f1(m.sum(axis=0)))


def macro_f1(strata: Sequence[np.ndarray]) -> float:
    """Unweighted mean over strata of the micro F1 of each stratum's summed counts (a stratum with
    a seed axis contributes the mean over its seeds).

    >>> macro_f1([np.array([[1, 0, 0]]), np.array([[0, 1, 1]])])
    0.5
    >>> macro_f1([np.array([[[1, 0, 0]], [[0, 1, 1]]])])
    0.5
    """
    if not strata:
        return 0.0
    return float(np.mean([_stratum_f1(m) for m in strata]))


def stratified_bootstrap(
    strata_a: Sequence[np.ndarray],
    strata_b: Sequence[np.ndarray] | None = None,
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Interval:
    """Percentile CI of ``macro_f1(a)`` (or of ``macro_f1(a) − macro_f1(b)`` when ``b`` is given).

    Sentences are resampled within each stratum, with the same draws for ``a`` and ``b`` (paired:
    row i of a stratum is the same sentence for both). ``harness.metrics.paired_bootstrap_delta``
    does this for one pool; the macro average over languages needs one pool per language.

    >>> a = [np.array([[1, 0, 0]] * 20)]
    >>> iv = stratified_bootstrap(a, [np.array([[0, 1, 1]] * 20)], resamples=50)
    >>> (iv.low, iv.high)
    (1.0, 1.0)
    """
    rng = np.random.default_rng(seed)
    totals_a = np.zeros(resamples)
    totals_b = np.zeros(resamples)
    for index, ma in enumerate(strata_a):
        mb = None if strata_b is None else strata_b[index]
        n = ma.shape[-2]
        if n == 0:
            continue
        for start in range(0, resamples, _CHUNK):
            stop = min(resamples, start + _CHUNK)
            # The same sentence draws for every seed and both systems: pairing by sentence within seed.
            draws = rng.integers(0, n, size=(stop - start, n))
            totals_a[start:stop] += _resampled_f1(ma, draws)
            if mb is not None:
                totals_b[start:stop] += _resampled_f1(mb, draws)
    k = max(len(strata_a), 1)
    samples = (totals_a - totals_b) / k if strata_b is not None else totals_a / k
    alpha = (1 - confidence) / 2
    low, high = np.quantile(samples, [alpha, 1 - alpha])
    return Interval(float(low), float(high))


def _resampled_f1(m: np.ndarray, draws: np.ndarray) -> np.ndarray:
    if m.ndim == 3:  # seeds x sentences x 3: F1 per seed, then the mean over seeds
        return np.asarray(_f1(m[:, draws].sum(axis=2)).mean(axis=0))
    return np.asarray(_f1(m[draws].sum(axis=1)))


# --- loading -----------------------------------------------------------------------------------


@dataclass
class _SystemData:
    """One board row's stored counts: a system name plus the parameters of its configuration."""

    name: str  # row name: system[k=v,...] over the parameters that differ between configurations
    base: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    run_ids: set[str] = field(default_factory=set)
    # (lang, perturbation label) -> seed -> sentence id -> (tp, fp, fn, per-type counts)
    sentences: dict[tuple[str, str], dict[int, dict[str, tuple[int, int, int, dict[str, list[int]]]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(dict))
    )
    recall_drop: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))

    def seeds(self, lang: str, label: str) -> set[int]:
        return set(self.sentences.get((lang, label), {}))


def _label(perturbation: str, params_hash: str) -> str:
    return CLEAN if perturbation == CLEAN else f"{perturbation}.{params_hash}"


def _board_runs(store: ResultStore, suite: str) -> tuple[list[dict[str, Any]], dict[str, str], list[str]]:
    """The suite's runs that share the most recent run's versions, plus notes on the others."""
    from leaderboards.submissions import run_versions, version_conflicts

    all_runs = store.runs(suite)
    if not all_runs:
        raise ConfigError(f"no runs of suite {suite!r} in {store.path}; run `xner run {suite}` or submit a system first")
    # The reference is the most recent run that finished any cell: a run that stopped before its
    # first cell (bad data, a crash) says nothing about which versions the board holds.
    finished = {row["run_id"] for row in store.execute("SELECT DISTINCT run_id FROM cells WHERE status='done'")}
    runs = [run for run in all_runs if run["run_id"] in finished]
    notes = []
    empty = [run["run_id"] for run in all_runs if run["run_id"] not in finished]
    if not runs:
        raise XnerError(
            f"the {suite} board has no finished cells yet: run(s) {', '.join(empty)} stored no finished cell "
            f"(see `xner results --store {store.path}` for failures)"
        )
    if empty and all_runs[-1]["run_id"] in empty:
        notes.append(
            f"board built from run {runs[-1]['run_id']}, the most recent with finished cells; "
            f"run(s) {', '.join(empty)} finished no cell"
        )
    reference = run_versions(store.manifest(runs[-1]["run_id"]))
    kept = []
    for run in runs:
        conflicts = version_conflicts(reference, run_versions(store.manifest(run["run_id"])))
        if conflicts:
            notes.append(f"run {run['run_id']} left out: {', '.join(conflicts[:3])} differ from the board's most recent run")
        else:
            kept.append(run)
    return kept, reference, notes


def _configurations(store: ResultStore, runs: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(run id, system) → (configuration key, parameters), from each run's manifest."""
    from harness.manifest import canonical_json

    out = {}
    for run in runs:
        manifest = store.manifest(run["run_id"])
        for entry in manifest.get("systems", ()):
            params = {k: v for k, v in entry.get("params", ())}
            out[(run["run_id"], entry["name"])] = (f"{entry['name']}\x1f{canonical_json(params)}", params)
    return out


def _load(store: ResultStore, runs: Sequence[Mapping[str, Any]]) -> dict[str, _SystemData]:
    """Finished cells of ``runs`` grouped into board rows.

    A row is a system *configuration* (name plus parameters): two backbones of one system, or
    one system with and without a flag, stand side by side. Within a configuration the latest run
    wins per cell; every seed is kept (the board averages over seeds).
    """
    from harness.manifest import named_variant

    run_order = {run["run_id"]: i for i, run in enumerate(runs)}
    configs = _configurations(store, runs)
    chosen: dict[tuple[Any, ...], str] = {}
    cells = [c for c in store.cells(status="done") if c.key.run_id in run_order]
    for cell in sorted(cells, key=lambda c: run_order[c.key.run_id]):
        k = cell.key
        config = configs.get((k.run_id, k.system), (k.system, {}))[0]
        chosen[(config, k.dataset, k.lang, k.split, k.perturbation, k.params_hash, k.seed)] = k.run_id
    systems: dict[str, _SystemData] = {}
    if not chosen:
        return systems
    # Row names: the system name plus the parameters that differ between its stored configurations.
    params_by_config = {key: params for key, params in configs.values()}
    used = sorted({key[0] for key in chosen})
    names: dict[str, str] = {}
    for config in used:
        base = config.split("\x1f", 1)[0]
        siblings = [params_by_config.get(c, {}) for c in used if c.split("\x1f", 1)[0] == base]
        names[config] = named_variant(base, params_by_config.get(config, {}), siblings)
    # Suites over several datasets name languages dataset/lang, so that two datasets never merge.
    multi = len({key[1] for key in chosen}) > 1
    marks = ",".join("?" for _ in run_order)
    rows = store.execute(
        "SELECT run_id, system, dataset, lang, split, perturbation, params_hash, seed, sentence_id, tp, fp, fn, type_counts"
        f" FROM sentence_results WHERE run_id IN ({marks})",
        tuple(run_order),
    )
    for row in rows:
        config = configs.get((row["run_id"], row["system"]), (row["system"], {}))[0]
        key = (config, row["dataset"], row["lang"], row["split"], row["perturbation"], row["params_hash"], row["seed"])
        if chosen.get(key) != row["run_id"]:
            continue
        name = names[config]
        data = systems.setdefault(name, _SystemData(name, row["system"], dict(params_by_config.get(config, {}))))
        data.run_ids.add(row["run_id"])
        lang = f"{row['dataset']}/{row['lang']}" if multi else row["lang"]
        data.sentences[(lang, _label(row["perturbation"], row["params_hash"]))][row["seed"]][row["sentence_id"]] = (
            row["tp"], row["fp"], row["fn"], json.loads(row["type_counts"]),
        )
    for row in store.execute(f"SELECT * FROM robustness WHERE run_id IN ({marks})", tuple(run_order)):
        config = configs.get((row["run_id"], row["system"]), (row["system"], {}))[0]
        key = (config, row["dataset"], row["lang"], row["split"], row["perturbation"], row["params_hash"], row["seed"])
        if row["perturbation"] == WORST_CASE or chosen.get(key) != row["run_id"] or names.get(config) not in systems:
            continue
        lang = f"{row['dataset']}/{row['lang']}" if multi else row["lang"]
        systems[names[config]].recall_drop[(lang, _label(row["perturbation"], row["params_hash"]))].append(row["recall_drop"])
    return systems


def _matrix(by_seed: Mapping[int, Mapping[str, tuple[int, int, int, Any]]], seeds: Sequence[int], ids: Sequence[str]) -> np.ndarray:
    """Counts as ``(seeds, sentences, 3)``: the same sentence order for every seed and system."""
    return np.array([[by_seed[seed][i][:3] for i in ids] for seed in seeds], dtype=np.int64).reshape(len(seeds), -1, 3)


def _worst_matrix(data: _SystemData, lang: str, perturbations: Sequence[str], seeds: Sequence[int], ids: Sequence[str]) -> np.ndarray:
    """Per seed and sentence, the counts of the variant with the most errors (ties: clean, then by name)."""
    out = []
    for seed in seeds:
        clean = data.sentences[(lang, CLEAN)][seed]
        variants = [data.sentences[(lang, p)].get(seed, {}) for p in sorted(perturbations, key=lambda p: p.replace(".", ":", 1))]
        per_sentence = []
        for sid in ids:
            best = clean[sid][:3]
            for variant in variants:
                candidate = variant.get(sid)
                if candidate is not None and candidate[1] + candidate[2] > best[1] + best[2]:
                    best = candidate[:3]
            per_sentence.append(best)
        out.append(per_sentence)
    return np.array(out, dtype=np.int64).reshape(len(seeds), -1, 3)


def build_board(
    store: ResultStore,
    suite: str,
    *,
    rank_by: str = "auto",
    resamples: int = 1000,
    seed: int = 0,
    systems: Sequence[str] | None = None,
) -> Board:
    """Compute the leaderboard of ``suite`` from ``store``.

    Args:
        rank_by: ``clean``, ``perturbed``, ``worst``, ``robustness`` or ``auto`` (worst-case F1
            when every system was run under perturbations, else clean F1).
        resamples: bootstrap resamples for the intervals.
        systems: restrict to these system names.
    """
    from leaderboards.submissions import submissions

    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ConfigError(f"resamples must be an int ≥ 1, got {resamples!r}")
    if rank_by not in (*RANK_METRICS, "auto"):
        raise ConfigError(f"rank_by must be one of auto, {', '.join(RANK_METRICS)}; got {rank_by!r}")
    runs, versions, notes = _board_runs(store, suite)
    data = _load(store, runs)
    if systems:
        unknown = sorted(set(systems) - {n for n in data} - {d.base for d in data.values()})
        if unknown:
            raise ConfigError(f"no results for system(s) {', '.join(unknown)} on the {suite} board; present: {', '.join(sorted(data))}")
        data = {k: v for k, v in data.items() if k in systems or v.base in systems}
    data = {k: v for k, v in data.items() if any(p == CLEAN for _, p in v.sentences)}
    if not data:
        raise XnerError(f"the {suite} board has no finished clean cells yet")
    variant_names = store.variant_names()

    def readable(label: str) -> str:
        name, _, phash = label.rpartition(".")
        return variant_names.get((name, phash), label)

    languages_by_system = {name: {lang for lang, p in d.sentences if p == CLEAN} for name, d in data.items()}
    languages = sorted(set.intersection(*languages_by_system.values()))
    all_languages = sorted(set.union(*languages_by_system.values()))
    if set(all_languages) - set(languages):
        notes.append(
            f"overall columns use the {len(languages)} language(s) every system was scored on; "
            f"left out: {', '.join(sorted(set(all_languages) - set(languages)))}"
        )
    if not languages:
        raise XnerError(f"no language was scored for every system on the {suite} board; compare per language instead")

    # Seeds: a row averages over the seeds it has a clean cell for in every board language.
    seeds_by_system = {
        name: sorted(set.intersection(*(d.seeds(lang, CLEAN) for lang in languages))) for name, d in data.items()
    }
    for name, d in data.items():
        extra = sorted(set().union(*(d.seeds(lang, CLEAN) for lang in languages)) - set(seeds_by_system[name]))
        if extra:
            notes.append(f"{name}: seed(s) {', '.join(map(str, extra))} left out (not scored on every board language)")
    empty = [name for name, seeds in seeds_by_system.items() if not seeds]
    if empty:
        raise XnerError(f"no seed of {', '.join(empty)} was scored on every language of the {suite} board")

    # Perturbations: only those every row ran on every board language with its seeds; the others
    # are named in the notes with the reason, never dropped silently.
    seen = sorted({p for d in data.values() for _, p in d.sentences if p != CLEAN})
    perturbations, left_out = [], []
    for label in seen:
        gaps = []
        for name, d in data.items():
            missing = [lang for lang in languages if not set(seeds_by_system[name]) <= d.seeds(lang, label)]
            if missing:
                gaps.append(f"{name} has no finished cell on {', '.join(missing)}")
        if gaps:
            left_out.append(f"{readable(label)} ({'; '.join(gaps)})")
        else:
            perturbations.append(label)
    if left_out:
        notes.append(
            "perturbation columns use those every system finished on every board language; left out: "
            + ", ".join(left_out) + " (see `xner results` for skipped or failed cells)"
        )

    # Sentence ids shared by every system and seed, per stratum, so that bootstrap draws are paired.
    def shared_ids(lang: str, label: str) -> list[str]:
        return sorted(set.intersection(*(
            set(d.sentences[(lang, label)][seed]) for name, d in data.items() for seed in seeds_by_system[name]
        )))

    clean_ids = {lang: shared_ids(lang, CLEAN) for lang in languages}
    pert_ids = {(lang, p): shared_ids(lang, p) for lang in languages for p in perturbations}

    strata: dict[str, dict[str, list[np.ndarray]]] = {}
    values: dict[str, dict[str, float | None]] = {}
    spread: dict[str, dict[str, float | None]] = {}
    for name, d in data.items():
        seeds = seeds_by_system[name]
        clean = [_matrix(d.sentences[(lang, CLEAN)], seeds, clean_ids[lang]) for lang in languages]
        perturbed = [_matrix(d.sentences[(lang, p)], seeds, pert_ids[(lang, p)]) for lang in languages for p in perturbations]
        worst = [_worst_matrix(d, lang, perturbations, seeds, clean_ids[lang]) for lang in languages] if perturbations else []
        strata[name] = {"clean": clean, "perturbed": perturbed, "worst": worst}
        clean_f1 = macro_f1(clean)
        perturbed_f1 = macro_f1(perturbed) if perturbed else None
        drops = [x for lang in languages for p in perturbations for x in d.recall_drop.get((lang, p), ())]
        values[name] = {
            "clean": clean_f1,
            "perturbed": perturbed_f1,
            "worst": macro_f1(worst) if worst else None,
            "robustness": (perturbed_f1 / clean_f1 if clean_f1 else None) if perturbed_f1 is not None else None,
            "recall_drop": float(np.mean(drops)) if drops else None,
        }

        def per_seed(matrices: Sequence[np.ndarray]) -> list[float]:
            return [macro_f1([m[i] for m in matrices]) for i in range(len(seeds))] if matrices else []

        by_seed = {key: per_seed(strata[name][key]) for key in ("clean", "perturbed", "worst")}
        robust = [p / c if c else 0.0 for p, c in zip(by_seed["perturbed"], by_seed["clean"], strict=False)]
        spread[name] = {
            key: (float(np.std(vals, ddof=1)) if len(vals) > 1 else None)
            for key, vals in {**by_seed, "robustness": robust}.items()
        }
    if rank_by == "auto":
        rank_by = "worst" if perturbations else "clean"
    if rank_by in ("perturbed", "worst", "robustness") and not perturbations:
        raise ConfigError(f"cannot rank by {rank_by}: no perturbation was run for every system on the {suite} board")
    # Robustness is a ratio: its intervals come from the perturbed-F1 strata, which drive it.
    stat_key = "perturbed" if rank_by == "robustness" else rank_by
    order = sorted(data, key=lambda n: (-(values[n][rank_by] or 0.0), n))
    if any(len(seeds) > 1 for seeds in seeds_by_system.values()):
        notes.append(
            "scores are means over each row's seeds (column seeds: count and standard deviation); intervals resample "
            "sentences, paired across seeds and systems"
        )

    meta_by_name = {s["name"]: s for s in submissions(store, suite)}
    rows = []
    for position, name in enumerate(order):
        ci = stratified_bootstrap(strata[name][stat_key], resamples=resamples, seed=seed)
        delta = delta_ci = significant = None
        if position > 0:
            above = order[position - 1]
            delta = float((values[above][rank_by] or 0.0) - (values[name][rank_by] or 0.0))
            delta_ci = stratified_bootstrap(strata[above][stat_key], strata[name][stat_key], resamples=resamples, seed=seed)
            significant = delta_ci.low > 0 or delta_ci.high < 0
        submission = meta_by_name.get(data[name].base) or meta_by_name.get(name)
        rows.append(
            BoardRow(
                rank=position + 1,
                system=name,
                kind=submission["kind"] if submission else "run",
                clean_f1=float(values[name]["clean"] or 0.0),
                perturbed_f1=values[name]["perturbed"],
                relative_robustness=values[name]["robustness"],
                worst_f1=values[name]["worst"],
                recall_drop=values[name]["recall_drop"],
                score=float(values[name][rank_by] or 0.0),
                score_ci=ci,
                delta_above=delta,
                delta_ci=delta_ci,
                significant=significant,
                run_ids=tuple(sorted(data[name].run_ids)),
                meta=submission["meta"] if submission else {},
                base_system=data[name].base,
                params=data[name].params,
                seeds=tuple(seeds_by_system[name]),
                seed_sd=spread[name][rank_by],
            )
        )

    per_language: dict[str, dict[str, LanguageCell]] = {}
    for name, d in data.items():
        cells = {}
        for lang in all_languages:
            if (lang, CLEAN) not in d.sentences:
                continue
            lang_seeds = seeds_by_system[name] if lang in languages else sorted(d.seeds(lang, CLEAN))
            ids = sorted(set.intersection(*(set(d.sentences[(lang, CLEAN)][s]) for s in lang_seeds)))
            matrix = _matrix(d.sentences[(lang, CLEAN)], lang_seeds, ids)
            interval = stratified_bootstrap([matrix], resamples=resamples, seed=seed)
            worst = (
                macro_f1([_worst_matrix(d, lang, perturbations, lang_seeds, ids)])
                if perturbations and lang in languages else None
            )
            cells[lang] = LanguageCell(macro_f1([matrix]), interval, worst, len(ids))
        per_language[name] = cells

    per_type: dict[str, dict[str, TypeCell]] = {}
    entity_types: set[str] = set()
    for name, d in data.items():
        # Counts pooled over seeds (each seed weighs the same: every seed scores the same sentences).
        clean_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        pert_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for seed_ in seeds_by_system[name]:
            for lang in languages:
                for sid in clean_ids[lang]:
                    for label, c in d.sentences[(lang, CLEAN)][seed_][sid][3].items():
                        clean_counts[label] = [a + b for a, b in zip(clean_counts[label], c, strict=True)]
                for p in perturbations:
                    for sid in pert_ids[(lang, p)]:
                        for label, c in d.sentences[(lang, p)][seed_][sid][3].items():
                            pert_counts[label] = [a + b for a, b in zip(pert_counts[label], c, strict=True)]
        cells_t = {}
        for label, c in clean_counts.items():
            clean = SpanCounts(*c)
            drop = None
            if perturbations and label in pert_counts:
                drop = clean.recall - SpanCounts(*pert_counts[label]).recall
            cells_t[label] = TypeCell(clean.f1, clean.support // max(len(seeds_by_system[name]), 1), drop)
            entity_types.add(label)
        per_type[name] = cells_t

    return Board(
        suite=suite,
        rank_by=rank_by,
        languages=tuple(languages),
        perturbations=tuple(perturbations),
        rows=tuple(rows),
        per_language=per_language,
        per_type=per_type,
        entity_types=tuple(sorted(entity_types)),
        notes=tuple(notes),
        versions=versions,
        resamples=resamples,
        perturbation_names={label: readable(label) for label in perturbations},
    )
