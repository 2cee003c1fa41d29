"""The seam every NER system plugs into.

A system is anything with a ``name``, typed capability ``tags`` and a batch ``predict``:
sentences in (their gold tags are blanked by the runner), one IOB2 tag tuple per sentence out,
same order, same lengths. Systems that learn also have ``fit(context)``. ``__init__`` only stores
parameters (scikit-learn's rule), so a system can be described, fingerprinted and listed without
loading weights; weights load in ``fit`` or lazily on first ``predict``.

Write a new system as a class with keyword parameters, then register it (one line in
``systems/__init__.py`` or one entry point in your own package's ``xner_bench.systems`` group),
and test it with ``check_system`` / ``parametrize_with_checks``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from harness.data import Sentence


@dataclass(frozen=True, slots=True)
class SystemTags:
    """Declared capabilities, read by the conformance checks and the runner.

    Attributes:
        labels: entity types the system can output (``{"PER", "ORG", "LOC", "MISC"}``).
        languages: ISO 639-3 codes it supports; ``None`` means any language.
        deterministic: same input and seed give the same output.
        trainable: the system has ``fit`` and must be fitted before ``predict``.
        accelerator: a neural system that benefits from a GPU (the Ray executor asks for one when
            the cluster has GPUs).
        expected_failed_checks: check name → written reason, for checks the system is known to fail.
    """

    labels: frozenset[str]
    languages: frozenset[str] | None = None
    deterministic: bool = True
    trainable: bool = False
    accelerator: bool = False
    expected_failed_checks: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for check, reason in self.expected_failed_checks.items():
            if not isinstance(reason, str) or not reason.strip():
                raise ValueError(f"expected failure of {check!r} needs a written reason")


@runtime_checkable
class NERSystem(Protocol):
    """Tokens in, IOB2 tags out."""

    name: str

    @property
    def tags(self) -> SystemTags: ...

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        """Tag a batch. Returns one tuple of IOB2 tags per sentence, same order and lengths."""
        ...


@runtime_checkable
class TrainableSystem(NERSystem, Protocol):
    def fit(self, context: FitContext) -> None:
        """Train (or load cached artefacts). Called once before ``predict``."""
        ...


@dataclass(frozen=True)
class FitContext:
    """What a system may use while training: data access, target languages, seed, cache dir.

    Attributes:
        data_dir: local data root (layout ``<dataset>/<lang>/<split>.txt``); ``None`` → hub.
        target_dataset: the dataset the system will be evaluated on.
        target_languages: the languages it will be asked to tag.
        seed: training seed.
        cache_dir: where trained artefacts go, keyed by content hash, built once.
        show_progress: draw progress bars.
    """

    data_dir: Path | None
    target_dataset: str
    target_languages: tuple[str, ...]
    seed: int = 0
    cache_dir: Path = field(default_factory=lambda: default_cache_dir())
    show_progress: bool = True

    def load(self, dataset: str, lang: str, split: str) -> list[Sentence]:
        """Load a split of a registered NER dataset (orphan I- tags repaired)."""
        from harness.datasets import load_ner

        return load_ner(dataset, lang, split, data_dir=self.data_dir).sentences

    def has_split(self, dataset: str, lang: str, split: str) -> bool:
        from harness.datasets import available_splits

        return split in available_splits(dataset, lang, data_dir=self.data_dir)

    def load_parallel(self, dataset: str, lang: str, split: str) -> list[tuple[str, str]]:
        """(English line, target line) pairs from a parallel dataset such as ``mafand``."""
        from harness.datasets import load_parallel

        return load_parallel(dataset, lang, split, data_dir=self.data_dir)


def parse_label_list(owner: str, labels: str) -> tuple[str, ...]:
    """Entity types from a comma-separated parameter such as ``"LOC,ORG,PER"`` (sorted, unique).

    >>> parse_label_list("ts-multi", "PER, LOC,PER")
    ('LOC', 'PER')
    """
    from harness.errors import ConfigError

    parsed = tuple(sorted({x.strip() for x in labels.split(",") if x.strip()}))
    if not parsed:
        raise ConfigError(f"{owner}: labels must name at least one entity type; got {labels!r}")
    return parsed


def default_cache_dir() -> Path:
    """``$XNER_CACHE_DIR`` or ``~/.cache/xner-bench``: trained models, tokenizers, alignments."""
    root = os.environ.get("XNER_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "xner-bench"


def get_params(system: object) -> dict[str, Any]:
    """The constructor parameters of ``system`` read back from its attributes (sklearn style)."""
    signature = inspect.signature(type(system).__init__)
    params: dict[str, Any] = {}
    for name, parameter in signature.parameters.items():
        if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if hasattr(system, name):
            params[name] = getattr(system, name)
    return params


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "name"):  # a component passed as a parameter, e.g. a source system
        return {"component": getattr(value, "name"), "params": _jsonable(get_params(value))}
    return repr(value)


def system_fingerprint(system: NERSystem) -> str:
    """A content hash of what determines the system's output: name, version and parameters.

    The prediction cache is keyed by it, so two systems (or two parameter settings of one system)
    can never share cached predictions.
    """
    payload = {
        "name": system.name,
        "class": f"{type(system).__module__}.{type(system).__qualname__}",
        "version": str(getattr(system, "version", "1")),
        "params": _jsonable(get_params(system)),
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def fitted_builds(report: Mapping[str, Any]) -> list[str]:
    """The ``build`` ids of every trained model a fit report names (students, teachers, target models).

    A saved tagger gets a fresh build id (``Tagger.save``) and ``training_report`` names it; the
    runner keys cached predictions by these ids, so a system of your own that loads trained weights
    should report theirs under a ``build`` key too.

    >>> fitted_builds({"teacher": {"build": "t1"}, "hau": {"student": {"build": "s1"}}, "steps": 3})
    ['s1', 't1']
    """
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                if k == "build" and isinstance(v, str):
                    found.append(v)
                else:
                    walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    walk(report)
    return sorted(set(found))


def describe_system(system: NERSystem) -> dict[str, Any]:
    """JSON-able description for manifests and leaderboards."""
    return {
        "name": system.name,
        "version": str(getattr(system, "version", "1")),
        "params": _jsonable(get_params(system)),
        "fingerprint": system_fingerprint(system),
    }
