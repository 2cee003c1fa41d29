from __future__ import annotations

import pytest

from harness.errors import RegistryCollisionError, UnknownComponentError, XnerError
from harness.registry import Registry


def test_registry_loads_lazy_targets() -> None:
    registry: Registry[object] = Registry("thing", builtins={"sqrt": "math:sqrt"})
    assert registry.get("sqrt")(9) == 3  # type: ignore[operator]


def test_registry_miss_suggests_close_names() -> None:
    registry: Registry[object] = Registry("perturbation", builtins={"char-typos.v1": "math:sqrt"})
    with pytest.raises(UnknownComponentError) as info:
        registry.get("char-typo.v1")
    assert "Did you mean 'char-typos.v1'?" in str(info.value)


def test_registry_collision_names_both_targets() -> None:
    registry: Registry[object] = Registry("thing", builtins={"a": "math:sqrt"})
    with pytest.raises(RegistryCollisionError, match="'math:sqrt'.*'math:floor'"):
        registry.register("a", "math:floor")


def test_registry_bad_target_is_explained() -> None:
    registry: Registry[object] = Registry("thing", builtins={"a": "no_such_module_xyz:Thing"})
    with pytest.raises(XnerError, match="cannot import 'no_such_module_xyz'"):
        registry.get("a")


def test_registry_decorator_registers_objects() -> None:
    registry: Registry[object] = Registry("thing")

    @registry.register("f")  # type: ignore[misc]
    def f() -> int:
        return 1

    assert registry.get("f") is f and "f" in registry.names()
