"""NER systems and their parts (backbones, translators, aligners).

``SYSTEMS`` is the one table of built-in systems: name → lazy ``module:Class`` target, so that
``xner systems`` lists names without importing torch. Third-party systems register through the
``xner_bench.systems`` entry-point group of their own package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.registry import Registry, build_component, factory_parameters
from systems.base import FitContext, NERSystem, SystemTags, TrainableSystem

BUILTIN_SYSTEMS: dict[str, str] = {
    # Baseline (memorisation floor).
    "gazetteer": "systems.gazetteer:GazetteerTagger",
    # Model transfer and teacher-student (systems.md §4-§6).
    "direct-transfer": "systems.transfer:DirectTransfer",
    "ts-single": "systems.teacher_student:SingleSourceTeacherStudent",
    "ts-multi": "systems.teacher_student:MultiSourceTeacherStudent",
    "llm-teacher": "systems.llm_teacher:LLMTeacherStudent",
    "llm-tagger": "systems.llm_teacher:LLMTagger",
    # Projection family, translate-train (systems.md §1-§3).
    "proj-align-train": "systems.projection.systems:AlignmentProjectionTrain",
    "proj-ilp-train": "systems.projection.systems:ILPProjectionTrain",
    "proj-ilp-ner-train": "systems.projection.systems:ILPNERProjectionTrain",
    "easyproject-train": "systems.projection.systems:EasyProjectTrain",
    # Projection family, translate-test.
    "proj-align-test": "systems.projection.systems:AlignmentProjectionTest",
    "proj-ilp-test": "systems.projection.systems:ILPProjectionTest",
    "proj-ilp-greedy-test": "systems.projection.systems:GreedyILPProjectionTest",
    "proj-bt-test": "systems.projection.systems:BackTranslationProjectionTest",
}

SYSTEMS: Registry[Any] = Registry("system", builtins=BUILTIN_SYSTEMS, entry_point_group="xner_bench.systems")


def resolve_system(name: str) -> Any:
    """The factory for ``name``: a registered name, or a ``package.module:Class`` target.

    The second form lets users run their own class without registering it first.
    """
    if ":" in name and name not in SYSTEMS:
        from harness.registry import load_target

        return load_target(name)
    return SYSTEMS.get(name)


def accepted_params(name: str) -> list[str]:
    """Constructor parameters of the system ``name`` (registered name or ``module:Class``)."""
    return factory_parameters(resolve_system(name))


def make_system(
    name: str, params: Mapping[str, Any] | None = None, *, shared: Mapping[str, Any] | None = None
) -> NERSystem:
    """Build the system ``name`` (registered name or ``module:Class``).

    Args:
        params: parameters for this system; an unknown one is an error naming what is accepted.
        shared: run-wide parameters (``--backbone``, ``--aligner``, ``--translator``) given to
            every system that accepts them and skipped by the others.
    """
    return build_component("system", name, resolve_system(name), params, shared=shared)  # type: ignore[no-any-return]


__all__ = [
    "BUILTIN_SYSTEMS",
    "SYSTEMS",
    "FitContext",
    "NERSystem",
    "SystemTags",
    "TrainableSystem",
    "accepted_params",
    "make_system",
    "resolve_system",
]
