"""Running a study's grid: one run manifest per system variant and language, reused whenever already stored.

Every variant (a system entry × backbone × varied value) runs **one run per language**: the runner
keys cells by system name, and a manifest with the variant's parameters and that one language gives
it its own ``run_id``. One language per run is what lets a grid grow by languages: a study asked for
hau, ibo, swa and yor reuses the swa runs an earlier ``--languages swa`` stored (on this machine or
merged from a results bundle, ``harness/bundle.py``) and runs only the rest. A language's run is
**reused** when the store holds a run whose manifest equals the one built now except for the git
revision and the machine environment (so committing code or moving to another machine does not
throw results away; the report shows both for every run, since a model trained on another CPU is
not bit-identical) and all its cells are finished;
otherwise the runner runs it, resuming its own finished cells and reusing cached predictions,
perturbed sets and (inside the systems) trained models, so a system trained once for every target
(direct transfer) is trained once, not once per language. A grid can grow by seeds the same way: a
run asked for seeds 0, 1 and 2 adopts the cells of a finished stored run of seed 0 (same manifest
otherwise) and computes only seeds 1 and 2 (``find_seed_donor``, ``ResultStore.adopt_seeds``).
``report_only`` never runs anything.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, XnerError
from harness.manifest import RECORDED_NOT_MATCHED, RunManifest, SuiteSpec, environment_label
from harness.store import ResultStore
from harness.studies import Profile, StudySpec, split_ref, vary_id

Reporter = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Variant:
    """One run of the grid: a system with all its parameters on one backbone."""

    id: str  # e.g. "ts-single@e5-small", "ts-multi-k[max_sources=2]"
    base_id: str  # the system entry's id
    system: str
    params: Mapping[str, Any]
    shared: Mapping[str, Any]
    backbone: str | None = None  # set when the grid declares backbones
    x: Any = None  # the varied value, for trends


@dataclass
class LanguageRun:
    """The run that holds one language's cells of a grid point."""

    run_id: str | None  # None: nothing stored
    status: str  # reused | computed | incomplete | missing
    error: str = ""
    git_revision: str = ""  # of the run itself (a reused run's may be older than the checkout's)
    environment: str = ""  # environment_label() of the machine the run was made on
    # (git revision, environment_label()) of each later checkout or machine that resumed it
    resumed: tuple[tuple[str, str], ...] = ()
    seeds: tuple[int, ...] = ()  # of this language's run (a profile's language_seeds may differ per language)


@dataclass
class GridPoint:
    variant: Variant
    manifest: RunManifest | None = None  # every language of the grid: datasets, seeds, perturbations
    runs: dict[tuple[str, str], LanguageRun] = field(default_factory=dict)  # (dataset, lang) → its run
    status: str = "missing"  # reused | computed | incomplete | missing | failed (over its languages)
    error: str = ""
    cpu_seconds: float = 0.0  # spent in this invocation

    def run_id_for(self, dataset: str, lang: str) -> str | None:
        run = self.runs.get((dataset, lang))
        return None if run is None else run.run_id

    def seeds_for(self, dataset: str, lang: str) -> tuple[int, ...]:
        """The seeds of one language's run (the grid's when that language has no run)."""
        run = self.runs.get((dataset, lang))
        if run is not None and run.seeds:
            return run.seeds
        return self.manifest.seeds if self.manifest is not None else ()

    @property
    def run_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.run_id for r in self.runs.values() if r.run_id is not None))

    def settle(self) -> None:
        """The point's status and error from its languages' (one status when all agree)."""
        statuses = {r.status for r in self.runs.values()}
        if not statuses:
            self.status = "missing"
        elif len(statuses) == 1:
            self.status = statuses.pop()
        elif statuses & {"incomplete", "missing"}:
            self.status = "incomplete"
        else:
            self.status = "computed"  # some reused, the rest computed now
        self.error = "; ".join(f"{lang}: {r.error}" for (_, lang), r in self.runs.items() if r.error)


@dataclass
class StudyRun:
    spec: StudySpec
    profile: Profile
    points: dict[str, GridPoint] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # this invocation

    def point(self, variant_id: str) -> GridPoint:
        return self.points[variant_id]


def suite_name(spec: StudySpec) -> str:
    """The ``suite`` recorded in the manifests of a study's runs."""
    return f"study:{spec.name}"


def expand_grid(spec: StudySpec, profile: Profile) -> list[Variant]:
    """Every variant of the grid under ``profile`` (backbones × systems × varied values)."""
    backbones = profile.backbones if profile.backbones is not None else spec.backbones
    shared = {**spec.shared, **profile.shared}
    out = []
    for entry in spec.systems:
        params = {**entry.params, **profile.system_params.get(entry.id, {})}
        values: Sequence[Any] = entry.vary[1] if entry.vary else [None]
        for backbone in backbones or [None]:
            for value in values:
                variant_params = dict(params)
                variant_id = entry.id
                if entry.vary is not None:
                    variant_params[entry.vary[0]] = value
                    variant_id = vary_id(entry.id, entry.vary[0], value)
                variant_shared = dict(shared)
                if backbone is not None:
                    variant_shared["backbone"] = backbone
                    variant_id = f"{variant_id}@{backbone}"
                out.append(Variant(variant_id, entry.id, entry.name, variant_params, variant_shared, backbone, value))
    return out


def resolve_pair(spec: StudySpec, profile: Profile, a: str, b: str) -> list[tuple[str, str]]:
    """Variant id pairs a comparison's ``a``/``b`` stand for under ``profile``.

    With grid backbones: no backbone on either side pairs the two systems on each backbone; ``@*``
    on one side pairs it on every backbone other than the other side's (backbone comparisons).
    """
    backbones = list(profile.backbones if profile.backbones is not None else spec.backbones)
    (base_a, bb_a), (base_b, bb_b) = split_ref(a), split_ref(b)
    if not backbones:
        return [(a, b)]
    if bb_a is None and bb_b is None:
        return [(f"{base_a}@{x}", f"{base_b}@{x}") for x in backbones]
    if bb_a == "*" and bb_b not in (None, "*"):
        return [(f"{base_a}@{x}", b) for x in backbones if x != bb_b]
    if bb_b == "*" and bb_a not in (None, "*"):
        return [(a, f"{base_b}@{x}") for x in backbones if x != bb_a]
    if bb_a is None:
        return [(f"{base_a}@{bb_b}", b)]
    if bb_b is None:
        return [(a, f"{base_b}@{bb_a}")]
    return [(a, b)]


def variant_suite(
    spec: StudySpec, variant: Variant, profile: Profile, languages: Sequence[str] | None, seeds: Sequence[int] | None = None,
    *, dataset: str | None = None,
) -> SuiteSpec:
    """The suite of one variant: every grid language, or with ``dataset`` only that dataset's entry.

    A suite of one language takes that language's seeds (``language_seeds``); ``seeds`` (``--seeds``)
    overrides every profile seed.
    """
    from harness.manifest import ComponentConfig

    langs = tuple(languages) if languages else profile.languages
    one_language = langs[0] if langs is not None and len(langs) == 1 else None
    return SuiteSpec(
        name=suite_name(spec),
        description=spec.question,
        systems=(variant.system,),
        system_params={variant.system: dict(variant.params)},
        datasets=tuple((d.name, d.split, langs or d.languages) for d in spec.datasets if dataset in (None, d.name)),
        perturbations=tuple(ComponentConfig.of(p.name, p.params) for p in spec.perturbations),
        seeds=tuple(seeds) if seeds else profile.seeds_for(variant.base_id, spec.seeds, one_language),
        label_overrides={},
        path=spec.path,
    )


def _identity(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What a run is: its manifest without where and from which checkout it was made."""
    return {k: v for k, v in manifest.items() if k not in RECORDED_NOT_MATCHED}


def _complete(store: ResultStore, manifest: RunManifest, run_id: str) -> bool:
    from harness.runner import Runner

    runner = Runner(manifest, store)
    for system in manifest.systems:
        for dataset in manifest.datasets:
            for lang in dataset.languages:
                for seed in manifest.seeds:
                    for key, _ in runner.cell_keys(system.name, dataset, lang, seed):
                        if store.cell_status(replace(key, run_id=run_id)) not in ("done", "skipped"):
                            return False
    return True


def find_stored_run(store: ResultStore, manifest: RunManifest, *, complete_only: bool = True) -> str | None:
    """The newest stored run equal to ``manifest`` up to the git revision and environment (complete ones first)."""
    wanted = _identity(manifest.to_dict())
    candidates: list[str] = [str(r["run_id"]) for r in reversed(store.runs(manifest.suite)) if _identity(store.manifest(str(r["run_id"]))) == wanted]
    if manifest.run_id in candidates:  # the exact run first
        candidates.remove(manifest.run_id)
        candidates.insert(0, manifest.run_id)
    for run_id in candidates:
        if _complete(store, manifest, run_id):
            return run_id
    return None if complete_only or not candidates else candidates[0]


def find_seed_donor(store: ResultStore, manifest: RunManifest) -> str | None:
    """A complete stored run equal to ``manifest`` but for fewer seeds, all of them ``manifest``'s:
    the one with the most seeds (the newest among equals), whose cells ``manifest``'s run can adopt."""
    wanted = {k: v for k, v in _identity(manifest.to_dict()).items() if k != "seeds"}
    best: tuple[int, str] | None = None
    for row in reversed(store.runs(manifest.suite)):
        run_id = str(row["run_id"])
        made = store.manifest(run_id)
        identity = _identity(made)
        seeds = set(identity.pop("seeds", ()))
        if run_id == manifest.run_id or identity != wanted or not seeds < set(manifest.seeds):
            continue
        if (best is None or len(seeds) > best[0]) and _complete(store, RunManifest.from_dict(made), run_id):
            best = (len(seeds), run_id)
    return None if best is None else best[1]


def _system_error(exc: XnerError) -> bool:
    """Whether building the manifest failed because of the variant's system (that variant fails alone)."""
    from harness.errors import UnknownComponentError

    if isinstance(exc, UnknownComponentError):
        return exc.kind == "system"
    return str(exc).startswith(("system ", "cannot build system", "cannot import", "component target"))


def _cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _language_run(
    manifest: RunManifest, variant: Variant, lang: str, store: ResultStore, data_dir: str | Path | None, batch_size: int,
    look_up_only: str | None, say: Reporter, progress: bool, point: GridPoint,
) -> LanguageRun:
    """Reuse, look up (``look_up_only`` names why: ``--report-only``, ``--only``) or run one language of a variant."""
    from harness.runner import Runner

    label = f"{variant.id} ({lang})"

    def stored_run(run_id: str | None, status: str) -> LanguageRun:
        if run_id is None:
            return LanguageRun(None, status, seeds=manifest.seeds)
        made = store.manifest(run_id)
        found = LanguageRun(
            run_id, status, git_revision=str(made.get("git_revision", "")), environment=environment_label(made.get("environment")),
            resumed=tuple((revision, environment_label(env)) for revision, env in store.resumptions(run_id)),
            seeds=manifest.seeds,  # a stored run is found by its manifest: the same seeds
        )
        if status == "incomplete":  # why, as stored: the report shows it also when only looking runs up
            by_error: dict[str, list[str]] = {}
            for cell in store.cells(run_id=run_id, status="failed"):
                by_error.setdefault(cell.error or "no reason stored", []).append(cell.key.label())
            found.error = "; ".join(
                f"{cells[0]}{f' and {len(cells) - 1} more cell(s)' if len(cells) > 1 else ''}: {error}" for error, cells in list(by_error.items())[:3]
            )
        return found

    stored = find_stored_run(store, manifest)
    if stored is not None:
        say(f"{label}: reusing stored run {stored}")
        return stored_run(stored, "reused")
    if look_up_only:
        partial = find_stored_run(store, manifest, complete_only=False)
        say(f"{label}: {'incomplete run ' + partial if partial else 'no stored run'} ({look_up_only}: not running)")
        return stored_run(partial, "incomplete" if partial else "missing")
    partial = find_stored_run(store, manifest, complete_only=False)
    if partial is not None and partial != manifest.run_id and store.cells(run_id=partial, status="done"):
        # An interrupted run of the same grid point made from another checkout: resume it under its
        # own id, so the cells it finished are kept (a fresh id would recompute all of them). One
        # that finished nothing has nothing to keep, and a fresh run records this checkout and machine.
        made = store.manifest(partial)
        resumed = RunManifest.from_dict(made)
        if resumed.run_id == partial:
            say(f"{label}: resuming incomplete run {partial} (made at revision {str(made.get('git_revision', ''))[:12] or 'unknown'})")
            manifest = resumed
        else:
            # Resuming under another id would store new cells beside a stale manifest (old revision,
            # no machine) and leave the interrupted run half-empty: run afresh instead.
            say(f"{label}: cannot resume incomplete run {partial}: its stored manifest no longer hashes to its id; running {manifest.run_id}")
    else:
        say(f"{label}: running {manifest.run_id}")
    donor = find_seed_donor(store, manifest)
    if donor is not None:
        # The grid grew by seeds: the seeds a stored run finished are adopted, not recomputed.
        store.record_run(manifest.run_id, manifest.suite, manifest.to_dict(), manifest.harness_version, manifest.scorer_version)
        copied = store.adopt_seeds(donor, manifest.run_id)
        lent = sorted(store.manifest(donor).get("seeds", ()))
        say(f"{label}: seed(s) {', '.join(map(str, lent))} adopted from stored run {donor} ({copied} cell{'' if copied == 1 else 's'})")
    cpu0, wall0 = _cpu(), time.perf_counter()
    try:
        summary = Runner(manifest, store, data_dir=data_dir, batch_size=batch_size, report=say, progress=progress).run()
    finally:
        spent = _cpu() - cpu0
        point.cpu_seconds += spent
        store.add_run_time(manifest.run_id, spent, time.perf_counter() - wall0)
    return stored_run(manifest.run_id, "incomplete" if summary.failed else "computed")  # the runner recorded its manifest


def select_variants(spec: StudySpec, variants: Sequence[Variant], only: Sequence[str] | None) -> set[str]:
    """Ids of the variants ``only`` names (all when ``None``); a name matching nothing is an error."""
    if not only:
        return {v.id for v in variants}
    selected: set[str] = set()
    for name in only:
        matched = {v.id for v in variants if name in (v.id, v.base_id, v.system)}
        if not matched:
            known = ", ".join(v.id for v in variants)
            raise ConfigError(f"{spec.path}: --only {name!r} names no variant of {spec.name}; its variants: {known}")
        selected |= matched
    return selected


def run_study(
    spec: StudySpec,
    store: ResultStore,
    *,
    profile: str | None = None,
    languages: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    data_dir: str | Path | None = None,
    report_only: bool = False,
    only: Sequence[str] | None = None,
    batch_size: int = 128,
    report: Reporter | None = None,
    progress: bool = False,
) -> StudyRun:
    """Run (or reuse, or with ``report_only`` only look up) every variant of the study's grid.

    ``languages`` and ``seeds`` override the profile's. A variant whose system cannot be built or
    whose run fails is recorded on its grid point; the other variants go on, and the report says
    what is missing and why. ``only`` (variant ids, system entry ids or system names) runs just
    those variants and looks the others up as ``report_only`` would, so part of a large grid can
    be computed now and the report still shows everything stored.
    """
    from harness.runner import build_manifest

    say = report or (lambda line: None)
    chosen = spec.profile(profile)
    study = StudyRun(spec, chosen)
    started = _cpu()
    variants = expand_grid(spec, chosen)
    selected = select_variants(spec, variants, only)
    for variant in variants:
        look_up_only = "--report-only" if report_only else None if variant.id in selected else "not in --only"
        point = GridPoint(variant)
        study.points[variant.id] = point
        try:
            manifest = build_manifest(
                variant_suite(spec, variant, chosen, languages, seeds),
                data_dir=data_dir,
                shared_params=variant.shared,
                max_sentences=chosen.max_sentences or spec.max_sentences,
            )
        except XnerError as exc:
            if not _system_error(exc):  # missing data or a bad perturbation stops the whole study
                raise ConfigError(f"{spec.path}: {variant.id}: {exc}") from None
            point.status, point.error = "failed", f"{variant.id}: {exc}"
            say(f"cannot build {variant.id}: {exc}")
            continue
        point.manifest = manifest
        for dataset in manifest.datasets:
            for lang in dataset.languages:
                one = build_manifest(
                    variant_suite(spec, variant, chosen, [lang], seeds, dataset=dataset.name),
                    data_dir=data_dir,
                    shared_params=variant.shared,
                    max_sentences=chosen.max_sentences or spec.max_sentences,
                )
                point.runs[(dataset.name, lang)] = _language_run(one, variant, lang, store, data_dir, batch_size, look_up_only, say, progress, point)
        point.settle()
    study.cpu_seconds = _cpu() - started
    return study


__all__ = ["GridPoint", "LanguageRun", "StudyRun", "Variant", "expand_grid", "find_stored_run", "resolve_pair", "run_study", "select_variants", "suite_name"]
