"""The run manifest: one frozen value that fully determines a run, and suite files that build it.

The manifest's canonical JSON (sorted keys, no whitespace) hashed with sha256 is the ``run_id``.
It records systems and their parameters, datasets with split, languages, versions and file hashes,
perturbations and their parameters, seeds, the metric scheme, the label harmonisation, and the
harness version and git revision, and the machine it ran on (``environment``). It is stored beside
the results, so any number can be traced back to exactly what produced it.

The git revision and the environment are recorded but not part of what a run *is*: a study
reuses a stored run that differs only in them (``harness/studies/run.py``). The environment is
there because a trained model is not bit-reproducible across CPUs: the same manifest, with the
same seed and code, trained an e5-small direct-transfer model that scored MasakhaNER hau 60.29 on
one machine and 56.22 on another (different vector kernels round differently, and 900 optimiser
steps amplify it), so a comparison of runs made on different machines includes that variance.

Suites are TOML files::

    name = "masakhaner2"
    description = "..."
    systems = ["gazetteer"]
    seeds = [0]

    [[datasets]]
    name = "masakhaner2"
    split = "test"
    languages = "all"          # or a list of ISO 639-3 codes

    [system_params.gazetteer]  # optional per-system parameters
    case_fold = true

    [[perturbations]]
    name = "char-typos.v1"
    severity = 0.2             # every other key is a perturbation parameter
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, UnknownComponentError

SUITES_DIR = Path(__file__).parent / "suites"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def params_hash(params: Mapping[str, Any]) -> str:
    """Short stable hash of a parameter mapping.

    >>> params_hash({}) == params_hash({})
    True
    """
    return hashlib.sha256(canonical_json(dict(params)).encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class ComponentConfig:
    """A registered component (system or perturbation) and its parameters."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, params: Mapping[str, Any] | None = None) -> ComponentConfig:
        return cls(name, tuple(sorted((params or {}).items())))

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def params_hash(self) -> str:
        return params_hash(self.param_dict)


@dataclass(frozen=True, slots=True)
class LabelMapping:
    """Label harmonisation between a system and a dataset, as data.

    ``pred_to_outside``: system labels the dataset does not annotate (MISC on MasakhaNER) become O
    in predictions. ``gold_to_outside``: dataset labels the system cannot produce (DATE for a
    CoNLL-trained system) become O in the gold standard, as in every published cross-lingual
    MasakhaNER result (systems.md §0).
    """

    system: str
    dataset: str
    pred_to_outside: tuple[str, ...] = ()
    gold_to_outside: tuple[str, ...] = ()

    def map_pred(self, tags: Sequence[str]) -> tuple[str, ...]:
        return _to_outside(tags, self.pred_to_outside)

    def map_gold(self, tags: Sequence[str]) -> tuple[str, ...]:
        return _to_outside(tags, self.gold_to_outside)


def _to_outside(tags: Sequence[str], labels: Sequence[str]) -> tuple[str, ...]:
    if not labels:
        return tuple(tags)
    drop = set(labels)
    return tuple("O" if t != "O" and t[2:] in drop else t for t in tags)


def harmonise(system: str, system_labels: frozenset[str], dataset: str, dataset_labels: frozenset[str]) -> LabelMapping:
    """The default mapping: labels on one side only become O on that side.

    >>> harmonise("x", frozenset({"PER", "MISC"}), "d", frozenset({"PER", "DATE"}))
    LabelMapping(system='x', dataset='d', pred_to_outside=('MISC',), gold_to_outside=('DATE',))
    """
    return LabelMapping(
        system, dataset, tuple(sorted(system_labels - dataset_labels)), tuple(sorted(dataset_labels - system_labels))
    )


@dataclass(frozen=True, slots=True)
class DatasetConfig:
    name: str
    version: str
    split: str
    languages: tuple[str, ...]
    data_files: tuple[tuple[str, str], ...] = ()  # (relative path, sha256)


@dataclass(frozen=True, slots=True)
class RunManifest:
    """Everything that determines a run. ``run_id`` is the hash of its canonical JSON."""

    suite: str
    systems: tuple[ComponentConfig, ...]
    datasets: tuple[DatasetConfig, ...]
    perturbations: tuple[ComponentConfig, ...] = ()
    seeds: tuple[int, ...] = (0,)
    shared_params: tuple[tuple[str, Any], ...] = ()
    label_mappings: tuple[LabelMapping, ...] = ()
    scheme: str = "iob2-strict"
    scorer_version: str = "1"
    orphan_policy: str = "repair"
    max_sentences: int | None = None
    harness_version: str = ""
    git_revision: str = ""
    extra: tuple[tuple[str, Any], ...] = field(default_factory=tuple)
    environment: tuple[tuple[str, str], ...] = ()  # machine_environment(); recorded, not matched

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(canonical_json(asdict(self)))
        if not self.environment:
            # Manifests stored before the environment was recorded have no such key; leaving an
            # empty one out keeps their run_id through from_dict, so an interrupted old run resumes
            # under its own id (with the key, the same grid point would hash to a new id).
            del data["environment"]
        return data

    @property
    def run_id(self) -> str:
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()[:16]

    def mapping_for(self, system: str, dataset: str) -> LabelMapping:
        for mapping in self.label_mappings:
            if mapping.system == system and mapping.dataset == dataset:
                return mapping
        return LabelMapping(system, dataset)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunManifest:
        """Rebuild a stored manifest (inverse of :meth:`to_dict`)."""

        def component(d: Mapping[str, Any]) -> ComponentConfig:
            return ComponentConfig(d["name"], tuple((k, v) for k, v in d["params"]))

        return cls(
            suite=data["suite"],
            systems=tuple(component(s) for s in data["systems"]),
            datasets=tuple(
                DatasetConfig(d["name"], d["version"], d["split"], tuple(d["languages"]), tuple(tuple(x) for x in d["data_files"]))
                for d in data["datasets"]
            ),
            perturbations=tuple(component(p) for p in data["perturbations"]),
            seeds=tuple(data["seeds"]),
            shared_params=tuple((k, v) for k, v in data["shared_params"]),
            label_mappings=tuple(
                LabelMapping(m["system"], m["dataset"], tuple(m["pred_to_outside"]), tuple(m["gold_to_outside"]))
                for m in data["label_mappings"]
            ),
            scheme=data["scheme"],
            scorer_version=data["scorer_version"],
            orphan_policy=data["orphan_policy"],
            max_sentences=data["max_sentences"],
            harness_version=data["harness_version"],
            git_revision=data["git_revision"],
            extra=tuple((k, v) for k, v in data["extra"]),
            environment=tuple((k, v) for k, v in data.get("environment", ())),  # absent before it was recorded
        )


def git_revision() -> str:
    """The checkout's commit (``+dirty`` when modified), or ``unknown`` outside a git checkout."""
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev or "unknown"


# Manifest fields that say where and from which checkout a run was made, not what it is.
RECORDED_NOT_MATCHED = ("git_revision", "environment")


def machine_environment() -> tuple[tuple[str, str], ...]:
    """The facts of this machine that can change a trained model: CPU model, architecture, CPUs
    available to this process, and the installed torch (read from its metadata, not imported)."""
    import os
    import platform
    from importlib import metadata

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        torch = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch = "not installed"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)
    return (("cpu", cpu), ("machine", platform.machine()), ("cpus", str(cpus)), ("torch", torch))


def environment_label(environment: Any) -> str:
    """One short line for a report (``AMD EPYC, x86_64, 2 CPUs, torch 2.13.0``); ``not recorded`` for runs
    stored before the environment was (their manifests have no such field)."""
    env = dict(environment or ())
    if not env:
        return "not recorded"
    return f"{env.get('cpu', '?')}, {env.get('machine', '?')}, {env.get('cpus', '?')} CPUs, torch {env.get('torch', '?')}"


def variant_label(config: ComponentConfig, configs: Sequence[ComponentConfig]) -> str:
    """How a person reads a perturbation: its name, plus the parameters that differ between the
    variants of that name in ``configs`` (``char-typos.v1[severity=3]``). The params hash stays in
    machine keys only.

    >>> a, b = ComponentConfig.of("char-typos.v1", {"severity": 1}), ComponentConfig.of("char-typos.v1", {"severity": 3})
    >>> variant_label(b, [a, b]), variant_label(a, [a])
    ('char-typos.v1[severity=3]', 'char-typos.v1')
    """
    return named_variant(config.name, config.param_dict, [c.param_dict for c in configs if c.name == config.name])


def named_variant(name: str, params: Mapping[str, Any], siblings: Sequence[Mapping[str, Any]]) -> str:
    """``name[k=v,...]`` over the keys whose values differ among ``siblings`` (``name`` alone when none do)."""
    keys = sorted({k for p in siblings for k in p})
    differing = [k for k in keys if len({json.dumps(p.get(k), sort_keys=True, default=str) for p in siblings}) > 1]
    if not differing:
        return name
    shown = ",".join(f"{k}={_short(params.get(k))}" for k in differing)
    return f"{name}[{shown}]"


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "+".join(_short(v) for v in value)
    return str(value)


# --- Suites ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SuiteSpec:
    """A parsed suite file: what to run, before languages and files are resolved."""

    name: str
    description: str
    systems: tuple[str, ...]
    system_params: Mapping[str, Mapping[str, Any]]
    datasets: tuple[tuple[str, str, tuple[str, ...] | None], ...]  # (name, split, languages or None=all)
    perturbations: tuple[ComponentConfig, ...]
    seeds: tuple[int, ...]
    label_overrides: Mapping[str, Any]
    path: str
    # Where the cells run ("local" or "ray"); not part of the manifest: it never changes a result.
    executor: str = "local"


def available_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def load_suite(name_or_path: str) -> SuiteSpec:
    """Load a bundled suite by name (``smoke``, ``masakhaner2``...) or any TOML file by path."""
    path = Path(name_or_path)
    if not path.suffix == ".toml" or not path.is_file():
        bundled = SUITES_DIR / f"{name_or_path}.toml"
        if not bundled.is_file():
            raise UnknownComponentError("suite", name_or_path, available_suites())
        path = bundled
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start}); a suite is a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read suite file: {exc.strerror}") from None
    return parse_suite(data, str(path))


_SUITE_KEYS = {"name", "description", "systems", "system_params", "datasets", "perturbations", "seeds", "label_map", "executor"}


def parse_suite(data: Mapping[str, Any], path: str = "<suite>") -> SuiteSpec:
    unknown = sorted(set(data) - _SUITE_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown suite key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_SUITE_KEYS))}")
    for required in ("name", "systems", "datasets"):
        if required not in data:
            raise ConfigError(f"{path}: missing required key {required!r}")
    systems = data["systems"]
    if not isinstance(systems, list) or not all(isinstance(s, str) for s in systems):
        raise ConfigError(f"{path}: 'systems' must be a list of system names")
    datasets = []
    for i, entry in enumerate(data["datasets"]):
        if "name" not in entry:
            raise ConfigError(f"{path}: datasets[{i}] needs a 'name'")
        langs = entry.get("languages", "all")
        if langs != "all" and not (isinstance(langs, list) and all(isinstance(x, str) for x in langs)):
            raise ConfigError(f"{path}: datasets[{i}].languages must be \"all\" or a list of ISO 639-3 codes")
        datasets.append((entry["name"], entry.get("split", "test"), None if langs == "all" else tuple(langs)))
    perturbations = []
    for i, entry in enumerate(data.get("perturbations", [])):
        if "name" not in entry:
            raise ConfigError(f"{path}: perturbations[{i}] needs a 'name'")
        perturbations.append(ComponentConfig.of(entry["name"], {k: v for k, v in entry.items() if k != "name"}))
    seeds = data.get("seeds", [0])
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise ConfigError(f"{path}: 'seeds' must be a non-empty list of integers ≥ 0, got {seeds!r}")
    executor = data.get("executor", "local")
    if executor not in ("local", "ray"):
        raise ConfigError(f"{path}: 'executor' must be \"local\" or \"ray\"; got {executor!r}")
    system_params = data.get("system_params", {})
    if not isinstance(system_params, Mapping) or not all(isinstance(v, Mapping) for v in system_params.values()):
        raise ConfigError(f"{path}: [system_params.<system>] must be tables of parameter = value")
    label_overrides = _label_overrides(data.get("label_map", {}), path)
    return SuiteSpec(
        name=str(data["name"]),
        description=str(data.get("description", "")),
        systems=tuple(systems),
        system_params={k: dict(v) for k, v in data.get("system_params", {}).items()},
        datasets=tuple(datasets),
        perturbations=tuple(perturbations),
        seeds=tuple(seeds),
        label_overrides=label_overrides,
        path=path,
        executor=executor,
    )


_LABEL_MAP_KEYS = ("gold_to_outside", "pred_to_outside")


def _label_overrides(value: Any, path: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """``[label_map.<system>]`` tables, checked: a string where a list of labels is expected is an
    error (it would otherwise be read as a list of its characters)."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: [label_map] must be a table of [label_map.<system>] tables")
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for system, table in value.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"{path}: label_map.{system} must be a table with {' and/or '.join(_LABEL_MAP_KEYS)}")
        unknown = sorted(set(table) - set(_LABEL_MAP_KEYS))
        if unknown:
            raise ConfigError(f"{path}: label_map.{system} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_LABEL_MAP_KEYS)}")
        entry = {}
        for key, labels in table.items():
            if not (isinstance(labels, list) and all(isinstance(x, str) and x and x == x.strip() for x in labels)):
                example = f'["{labels}"]' if isinstance(labels, str) else '["DATE"]'
                raise ConfigError(f"{path}: label_map.{system}.{key} must be a list of labels, e.g. {example}; got {labels!r}")
            entry[key] = tuple(labels)
        out[str(system)] = entry
    return out
