"""Studies: a research question, the grid that answers it, and the comparisons that decide it.

A study is a TOML file (bundled ones live beside this module, versioned ``name.v1``)::

    name = "my-question.v1"
    question = "Is system A more robust than B under typos?"

    [grid]
    seeds = [0, 1, 2]
    backbones = ["offline", "e5-small"]   # optional: every system runs on each (ids get "@backbone")
    max_sentences = 500                   # optional cap on evaluated sentences per language
    shared = { aligner = "eflomal" }      # run-wide parameters (as --backbone/--aligner/--translator)

    [[grid.systems]]
    name = "ts-multi"                     # registered name or package.module:Class
    id = "ts-multi-k"                     # optional (default: name); comparisons refer to ids
    params = { weighting = "lid" }
    vary = { max_sources = [1, 2, 3] }    # optional: one parameter, one run per value

    [[grid.datasets]]
    name = "masakhaner2"
    split = "test"
    languages = ["hau", "yor"]            # or "all"

    [[grid.perturbations]]
    name = "char-typos.v1"
    severity = 1

    [profiles.cpu]                        # merged over [grid] with --profile cpu (the default)
    languages = ["hau", "yor"]
    system_params = { ts-multi-k = { epochs = 1 } }
    system_seeds.direct-transfer = [0, 1, 2]  # more seeds for one system (paired systems alike)
    language_seeds.yor = [0, 1, 2]        # more seeds for every system on one language

    [[comparisons]]
    kind = "delta-f1-difference"          # or "f1-difference", "trend"
    a = "ts-multi"
    b = "direct-transfer"
    published = "negative"                # sign of a − b in the literature: positive|negative|none|unknown
    published_note = "..."
    source = "../shared/research/systems.md §6"

Everything is checked when the file loads; an error names the file and the key.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, UnknownComponentError

STUDIES_DIR = Path(__file__).parent

KINDS = ("delta-f1-difference", "f1-difference", "trend")
DIRECTIONS = ("positive", "negative", "none", "unknown")
CLEAN_CONDITION = "clean"


@dataclass(frozen=True, slots=True)
class StudySystem:
    """One declared system entry of the grid (before expansion over backbones and varied values)."""

    id: str
    name: str
    params: Mapping[str, Any]
    vary: tuple[str, tuple[Any, ...]] | None = None


@dataclass(frozen=True, slots=True)
class StudyDataset:
    name: str
    split: str
    languages: tuple[str, ...] | None  # None = every language present


@dataclass(frozen=True, slots=True)
class StudyPerturbation:
    name: str
    params: Mapping[str, Any]

    @property
    def label(self) -> str:
        """``char-typos.v1 (severity=3)``: how tables and answers name the condition."""
        extra = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.name} ({extra})" if extra else self.name


@dataclass(frozen=True, slots=True)
class Comparison:
    """What decides the question: a paired difference between two systems, or a trend."""

    id: str
    kind: str
    a: str = ""
    b: str = ""
    system: str = ""  # trend: the id of the system entry with ``vary``
    parameter: str = ""  # trend: the varied parameter
    metrics: tuple[str, ...] = ("f1",)
    conditions: tuple[str, ...] = ()  # perturbation names (or "clean"); () = the kind's default
    published: str = "unknown"
    published_note: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class Profile:
    """Overrides of the grid for one compute budget (``cpu``: this machine; ``paper``: published settings)."""

    name: str
    seeds: tuple[int, ...] | None = None
    languages: tuple[str, ...] | None = None
    max_sentences: int | None = None
    backbones: tuple[str, ...] | None = None
    shared: Mapping[str, Any] = field(default_factory=dict)
    system_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Seeds per system entry (over ``seeds``): the systems this budget affords at several seeds.
    # Systems a comparison pairs must get the same seeds (checked at load time).
    system_seeds: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    # Seeds per target language (over ``seeds``, under ``system_seeds``): the languages where every
    # system of the grid is affordable at several seeds. A language's run holds its own seeds; the
    # pooled rows of the report pool the seeds every language has.
    language_seeds: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    description: str = ""

    def seeds_for(self, system_id: str, grid_seeds: tuple[int, ...], lang: str | None = None) -> tuple[int, ...]:
        """A system entry's seeds, on one language (``lang``) or on the grid as a whole."""
        by_language = self.language_seeds.get(lang) if lang is not None else None
        return self.system_seeds.get(system_id) or by_language or self.seeds or grid_seeds


@dataclass(frozen=True, slots=True)
class StudySpec:
    name: str
    question: str
    description: str
    systems: tuple[StudySystem, ...]
    datasets: tuple[StudyDataset, ...]
    perturbations: tuple[StudyPerturbation, ...]
    seeds: tuple[int, ...]
    backbones: tuple[str, ...]
    max_sentences: int | None
    shared: Mapping[str, Any]
    profiles: Mapping[str, Profile]
    comparisons: tuple[Comparison, ...]
    path: str
    notes: tuple[str, ...] = ()  # load-time remarks shown in the report

    def profile(self, name: str | None) -> Profile:
        """The named profile; ``None`` picks ``cpu`` when declared, else the bare grid."""
        if name is None:
            return self.profiles.get("cpu", Profile("grid"))
        if name not in self.profiles:
            raise ConfigError(
                f"{self.path}: study {self.name!r} has no profile {name!r}; declared: {', '.join(sorted(self.profiles)) or '(none)'}"
            )
        return self.profiles[name]


# --- loading ------------------------------------------------------------------------------------


def available_studies() -> list[str]:
    """Names of the bundled studies (file stems, which equal their ``name``)."""
    return sorted(p.stem for p in STUDIES_DIR.glob("*.toml"))


def load_study(name_or_path: str | Path) -> StudySpec:
    """Load a bundled study by name (``ts-vs-transfer-robustness.v1``) or any study TOML by path."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" and path.is_file()):
        bundled = STUDIES_DIR / f"{name_or_path}.toml"
        if not bundled.is_file():
            raise UnknownComponentError("study", str(name_or_path), available_studies())
        path = bundled
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_study(data, str(path))


class _Checker:
    """Type checks that raise one-line errors naming the file and the key."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {message}")

    def keys(self, table: Any, key: str, allowed: Sequence[str], required: Sequence[str] = ()) -> Mapping[str, Any]:
        if not isinstance(table, Mapping):
            raise self.fail(key or "(top level)", f"must be a table, got {type(table).__name__}")
        for name in table:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), allowed, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.fail(f"{key}.{name}" if key else str(name), f"unknown key{hint}; allowed: {', '.join(allowed)}")
        for name in required:
            if name not in table:
                raise self.fail(f"{key}.{name}" if key else name, "missing required key")
        return table

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if not (isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)):
            raise self.fail(key, f"must be a non-empty list of strings, got {value!r}")
        return tuple(value)

    def ints(self, value: Any, key: str) -> tuple[int, ...]:
        if not (isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            raise self.fail(key, f"must be a non-empty list of integers, got {value!r}")
        return tuple(value)

    def positive_int(self, value: Any, key: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.fail(key, f"must be a positive integer, got {value!r}")
        return value

    def table(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a table, got {value!r}")
        return dict(value)

    def known(self, value: str, key: str, kind: str, names: Sequence[str]) -> None:
        if value in names:
            return
        close = difflib.get_close_matches(value, names, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise self.fail(key, f"unknown {kind} {value!r}.{hint} Available: {', '.join(sorted(names))}")


_TOP = ("name", "question", "description", "grid", "profiles", "comparisons")
_GRID = ("seeds", "backbones", "max_sentences", "shared", "systems", "datasets", "perturbations")
_SYSTEM = ("name", "id", "params", "vary")
_DATASET = ("name", "split", "languages")
_PROFILE = ("description", "seeds", "languages", "max_sentences", "backbones", "shared", "system_params", "system_seeds", "language_seeds")
_COMPARISON = ("id", "kind", "a", "b", "system", "parameter", "metrics", "conditions", "published", "published_note", "source")


def parse_study(data: Mapping[str, Any], path: str = "<study>") -> StudySpec:
    """Validate a parsed study TOML and build the spec (see the module docstring for the format)."""
    from attacks import PERTURBATIONS
    from harness.datasets import DATASETS
    from systems import SYSTEMS

    check = _Checker(path)
    check.keys(data, "", _TOP, required=("name", "question", "grid", "comparisons"))
    name = check.string(data["name"], "name")
    if not _versioned(name):
        raise check.fail("name", f"study names are versioned like perturbations, e.g. {name}.v1; got {name!r}")
    question = check.string(data["question"], "question")
    grid = check.keys(data["grid"], "grid", _GRID, required=("systems", "datasets"))
    notes: list[str] = []

    systems: list[StudySystem] = []
    system_names = SYSTEMS.names()
    for i, entry in enumerate(_array(check, grid["systems"], "grid.systems")):
        key = f"grid.systems[{i}]"
        check.keys(entry, key, _SYSTEM, required=("name",))
        sys_name = check.string(entry["name"], f"{key}.name")
        if ":" not in sys_name:
            check.known(sys_name, f"{key}.name", "system", system_names)
        params = check.table(entry.get("params", {}), f"{key}.params")
        vary = None
        if "vary" in entry:
            table = check.table(entry["vary"], f"{key}.vary")
            if len(table) != 1:
                raise check.fail(f"{key}.vary", f"must vary exactly one parameter, got {sorted(table) or 'none'}")
            ((param, values),) = table.items()
            if not (isinstance(values, list) and len(values) >= 2):
                raise check.fail(f"{key}.vary.{param}", f"must list at least two values, got {values!r}")
            if param in params:
                raise check.fail(f"{key}.vary.{param}", "is also fixed in params; keep one")
            vary = (param, tuple(values))
        system_id = check.string(entry.get("id", sys_name), f"{key}.id")
        if any(s.id == system_id for s in systems):
            raise check.fail(f"{key}.id", f"duplicate system id {system_id!r}; give each entry its own id")
        systems.append(StudySystem(system_id, sys_name, params, vary))

    datasets: list[StudyDataset] = []
    for i, entry in enumerate(_array(check, grid["datasets"], "grid.datasets")):
        key = f"grid.datasets[{i}]"
        check.keys(entry, key, _DATASET, required=("name",))
        ds_name = check.string(entry["name"], f"{key}.name")
        check.known(ds_name, f"{key}.name", "dataset", list(DATASETS))
        langs = entry.get("languages", "all")
        datasets.append(
            StudyDataset(ds_name, check.string(entry.get("split", "test"), f"{key}.split"),
                         None if langs == "all" else check.strings(langs, f"{key}.languages"))
        )

    perturbations: list[StudyPerturbation] = []
    perturbation_names = PERTURBATIONS.names()
    for i, entry in enumerate(grid.get("perturbations", [])):
        key = f"grid.perturbations[{i}]"
        if not isinstance(entry, Mapping) or "name" not in entry:
            raise check.fail(key, "each perturbation is a table with a 'name'")
        p_name = check.string(entry["name"], f"{key}.name")
        check.known(p_name, f"{key}.name", "perturbation", perturbation_names)
        perturbations.append(StudyPerturbation(p_name, {k: v for k, v in entry.items() if k != "name"}))

    backbones = check.strings(grid["backbones"], "grid.backbones") if "backbones" in grid else ()
    shared = check.table(grid.get("shared", {}), "grid.shared")

    profiles = {}
    for p_name, entry in check.table(data.get("profiles", {}), "profiles").items():
        key = f"profiles.{p_name}"
        check.keys(entry, key, _PROFILE)
        ids = [s.id for s in systems]
        system_params = check.table(entry.get("system_params", {}), f"{key}.system_params")
        for sid, params in system_params.items():
            check.known(sid, f"{key}.system_params.{sid}", "system id", ids)
            check.table(params, f"{key}.system_params.{sid}")
        system_seeds = check.table(entry.get("system_seeds", {}), f"{key}.system_seeds")
        for sid, seeds in system_seeds.items():
            check.known(sid, f"{key}.system_seeds.{sid}", "system id", ids)
        prof_languages = check.strings(entry["languages"], f"{key}.languages") if "languages" in entry else None
        language_seeds = check.table(entry.get("language_seeds", {}), f"{key}.language_seeds")
        for lang in language_seeds:
            if prof_languages is not None and lang not in prof_languages:
                raise check.fail(f"{key}.language_seeds.{lang}", f"not a language of the profile ({', '.join(prof_languages)})")
        prof_shared = check.table(entry.get("shared", {}), f"{key}.shared")
        prof_backbones = check.strings(entry["backbones"], f"{key}.backbones") if "backbones" in entry else None
        if prof_backbones is not None and not backbones:
            raise check.fail(f"{key}.backbones", "the grid declares no backbones to override; add grid.backbones")
        profiles[p_name] = Profile(
            name=p_name,
            seeds=check.ints(entry["seeds"], f"{key}.seeds") if "seeds" in entry else None,
            languages=prof_languages,
            max_sentences=check.positive_int(entry["max_sentences"], f"{key}.max_sentences") if "max_sentences" in entry else None,
            backbones=prof_backbones,
            shared=prof_shared,
            system_params={k: dict(v) for k, v in system_params.items()},
            system_seeds={k: check.ints(v, f"{key}.system_seeds.{k}") for k, v in system_seeds.items()},
            language_seeds={k: check.ints(v, f"{key}.language_seeds.{k}") for k, v in language_seeds.items()},
            description=str(entry.get("description", "")),
        )

    comparisons = _comparisons(check, data["comparisons"], systems, perturbations, bool(backbones))
    grid_seeds = check.ints(grid["seeds"], "grid.seeds") if "seeds" in grid else (0,)
    _check_paired_seeds(check, comparisons, systems, profiles, grid_seeds)
    spec = StudySpec(
        name=name,
        question=question,
        description=str(data.get("description", "")),
        systems=tuple(systems),
        datasets=tuple(datasets),
        perturbations=tuple(perturbations),
        seeds=grid_seeds,
        backbones=backbones,
        max_sentences=check.positive_int(grid["max_sentences"], "grid.max_sentences") if "max_sentences" in grid else None,
        shared=shared,
        profiles=profiles,
        comparisons=comparisons,
        path=path,
        notes=tuple(dict.fromkeys(notes)),
    )
    return spec


def _versioned(name: str) -> bool:
    stem, dot, version = name.rpartition(".")
    return bool(stem and dot and version[:1] == "v" and version[1:].isdigit())


def _array(check: _Checker, value: Any, key: str) -> list[Mapping[str, Any]]:
    if not (isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value)):
        raise check.fail(key, "must be a non-empty array of tables ([[...]])")
    return value


def split_ref(ref: str) -> tuple[str, str | None]:
    """``"ts-single@e5-small"`` → ``("ts-single", "e5-small")``; ``"gazetteer"`` → ``("gazetteer", None)``."""
    base, at, backbone = ref.partition("@")
    return base, (backbone if at else None)


def _comparisons(
    check: _Checker, value: Any, systems: Sequence[StudySystem], perturbations: Sequence[StudyPerturbation], has_backbones: bool
) -> tuple[Comparison, ...]:
    by_id = {s.id: s for s in systems}
    out: list[Comparison] = []
    for i, entry in enumerate(_array(check, value, "comparisons")):
        key = f"comparisons[{i}]"
        check.keys(entry, key, _COMPARISON, required=("kind",))
        kind = check.string(entry["kind"], f"{key}.kind")
        check.known(kind, f"{key}.kind", "comparison kind", KINDS)
        published = entry.get("published", "unknown")
        check.known(published, f"{key}.published", "direction", DIRECTIONS)
        conditions = check.strings(entry["conditions"], f"{key}.conditions") if "conditions" in entry else ()
        names = [CLEAN_CONDITION, *dict.fromkeys(p.name for p in perturbations)]
        for j, cond in enumerate(conditions):
            check.known(cond, f"{key}.conditions[{j}]", "condition (clean or a grid perturbation)", names)
        if kind == "delta-f1-difference" and not perturbations:
            raise check.fail(f"{key}.kind", "a delta-f1-difference needs grid.perturbations")
        if kind == "delta-f1-difference" and CLEAN_CONDITION in conditions:
            raise check.fail(f"{key}.conditions", "ΔF1 is clean − perturbed; list perturbations only")
        metrics = check.strings(entry.get("metrics", ["f1"]), f"{key}.metrics")
        for j, metric in enumerate(metrics):
            check.known(metric, f"{key}.metrics[{j}]", "metric", ["f1", "recall"])
        fields: dict[str, Any] = {}
        if kind == "trend":
            check.keys(entry, key, [k for k in _COMPARISON if k not in ("a", "b")], required=("kind", "system"))
            sid = check.string(entry["system"], f"{key}.system")
            check.known(sid, f"{key}.system", "system id", list(by_id))
            if by_id[sid].vary is None:
                raise check.fail(f"{key}.system", f"system {sid!r} has no 'vary'; a trend needs a varied parameter")
            param = by_id[sid].vary[0]  # type: ignore[index]
            if "parameter" in entry and entry["parameter"] != param:
                raise check.fail(f"{key}.parameter", f"system {sid!r} varies {param!r}, not {entry['parameter']!r}")
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in by_id[sid].vary[1]):  # type: ignore[index]
                raise check.fail(f"{key}.system", f"a trend needs numeric values of {param!r}")
            fields.update(system=sid, parameter=param)
            default_id = f"trend-{sid}"
        else:
            check.keys(entry, key, [k for k in _COMPARISON if k not in ("system", "parameter")], required=("kind", "a", "b"))
            for side in ("a", "b"):
                ref = check.string(entry[side], f"{key}.{side}")
                base, backbone = split_ref(ref)
                if backbone is not None and not has_backbones:
                    raise check.fail(f"{key}.{side}", f"{ref!r} names a backbone but the grid declares no grid.backbones")
                if base not in by_id:
                    varied = [v for s in systems for v in _vary_ids(s)]
                    check.known(base, f"{key}.{side}", "system id", [*by_id, *varied])
                if base in by_id and by_id[base].vary is not None:
                    raise check.fail(
                        f"{key}.{side}", f"{base!r} varies {by_id[base].vary[0]!r}; name one value, e.g. {_vary_ids(by_id[base])[0]!r}"  # type: ignore[index]
                    )
                fields[side] = ref
            if entry["a"] == entry["b"]:
                raise check.fail(f"{key}.b", "compares a system with itself")
            default_id = f"{entry['a']}-vs-{entry['b']}"
        comparison_id = check.string(entry.get("id", default_id), f"{key}.id")
        if any(c.id == comparison_id for c in out):
            raise check.fail(f"{key}.id", f"duplicate comparison id {comparison_id!r}")
        out.append(
            Comparison(
                id=comparison_id, kind=kind, metrics=metrics, conditions=conditions, published=published,
                published_note=str(entry.get("published_note", "")), source=str(entry.get("source", "")), **fields,
            )
        )
    return tuple(out)


def _check_paired_seeds(
    check: _Checker, comparisons: Sequence[Comparison], systems: Sequence[StudySystem], profiles: Mapping[str, Profile], grid_seeds: tuple[int, ...]
) -> None:
    """A paired difference compares the same seeds of both systems: refuse a profile whose
    ``system_seeds`` gives the two sides of a comparison different ones (on any language)."""
    entry_of = {s.id: s.id for s in systems} | {v: s.id for s in systems for v in _vary_ids(s)}
    for profile in profiles.values():
        for comparison in comparisons:
            if not comparison.a:  # a trend varies one system entry: one set of seeds
                continue
            a, b = (entry_of.get(split_ref(ref)[0], split_ref(ref)[0]) for ref in (comparison.a, comparison.b))
            for lang in (None, *profile.language_seeds):
                seeds_a, seeds_b = profile.seeds_for(a, grid_seeds, lang), profile.seeds_for(b, grid_seeds, lang)
                if seeds_a != seeds_b:
                    where = f" on {lang}" if lang is not None else ""
                    raise check.fail(
                        f"profiles.{profile.name}.system_seeds",
                        f"comparison {comparison.id!r} pairs {a} (seeds {list(seeds_a)}) with {b} (seeds {list(seeds_b)}){where}; paired systems need the same seeds",
                    )


def _vary_ids(system: StudySystem) -> list[str]:
    if system.vary is None:
        return []
    param, values = system.vary
    return [vary_id(system.id, param, v) for v in values]


def vary_id(system_id: str, param: str, value: Any) -> str:
    """The id of one varied value: ``ts-multi-k[max_sources=2]``."""
    return f"{system_id}[{param}={value}]"


__all__ = [
    "CLEAN_CONDITION",
    "Comparison",
    "Profile",
    "StudyDataset",
    "StudyPerturbation",
    "StudySpec",
    "StudySystem",
    "available_studies",
    "load_study",
    "parse_study",
    "split_ref",
    "vary_id",
]
