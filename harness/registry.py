"""Registries of named components, lazily loaded.

Built-in components are declared as ``"module:object"`` strings in one table per kind (for
example ``systems/__init__.py``), so listing names never imports torch. Third-party packages
register through entry points in the groups ``xner_bench.systems``, ``xner_bench.perturbations``,
``xner_bench.datasets``; an entry point and a built-in with the same name is a collision and raises.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from typing import Any, Generic, TypeVar

from harness.errors import ConfigError, RegistryCollisionError, UnknownComponentError, XnerError

T = TypeVar("T")


def load_target(target: str) -> object:
    """Import ``"package.module:attribute"`` and return the attribute.

    Raises:
        XnerError: the target is malformed or cannot be imported, naming the target.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise XnerError(f"component target {target!r} must look like 'package.module:Object'")
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise XnerError(f"cannot import {module_name!r} for component {target!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise XnerError(f"{module_name!r} has no attribute {attr!r} (component {target!r})") from None
    return obj


def factory_parameters(factory: Callable[..., Any]) -> list[str]:
    """Names of the keyword parameters a component's constructor accepts."""
    return [
        p.name
        for p in inspect.signature(factory).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def build_component(
    kind: str,
    name: str,
    factory: Callable[..., Any],
    params: Mapping[str, Any] | None = None,
    *,
    shared: Mapping[str, Any] | None = None,
) -> Any:
    """Construct a component, with the errors every kind shares.

    Args:
        kind: ``"system"``, ``"perturbation"``... (for messages).
        params: parameters for this component; an unknown one is a ``ConfigError`` listing the
            accepted ones.
        shared: run-wide parameters given only to components that accept them.
    """
    from harness.params import validate_params

    if not callable(factory):
        raise ConfigError(f"{kind} {name!r} is a {type(factory).__name__}, not a class or factory function")
    try:
        accepted = factory_parameters(factory)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{kind} {name!r} has no inspectable constructor signature: {exc}") from None
    kwargs = {k: v for k, v in (shared or {}).items() if k in accepted}
    kwargs.update(params or {})
    kwargs = validate_params(kind, name, factory, kwargs)
    try:
        return factory(**kwargs)
    except ConfigError:
        raise
    except XnerError as exc:
        raise ConfigError(f"cannot build {kind} {name!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a third-party constructor may raise anything
        raise ConfigError(
            f"cannot build {kind} {name!r} with {kwargs}: {type(exc).__name__}: {exc}"
        ) from None


class Registry(Generic[T]):
    """A name → component table with lazy targets, entry points, and helpful misses.

    >>> r: Registry[object] = Registry("widget", builtins={"pi": "math:pi"})
    >>> round(float(r.get("pi")), 2)
    3.14
    >>> r.get("py")
    Traceback (most recent call last):
    ...
    harness.errors.UnknownComponentError: Unknown widget 'py'. Did you mean 'pi'? Available: pi.
    """

    def __init__(
        self,
        kind: str,
        *,
        builtins: Mapping[str, str] | None = None,
        entry_point_group: str | None = None,
    ) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._targets: dict[str, str | object] = dict(builtins or {})
        self._loaded: dict[str, T] = {}
        self._entry_points_scanned = False

    def _scan_entry_points(self) -> None:
        if self._entry_points_scanned or self.entry_point_group is None:
            return
        self._entry_points_scanned = True
        for ep in metadata.entry_points(group=self.entry_point_group):
            existing = self._targets.get(ep.name)
            if existing is not None and existing != ep.value:
                raise RegistryCollisionError(
                    f"{self.kind} {ep.name!r} is registered twice: {existing!r} and entry point "
                    f"{ep.value!r} (group {self.entry_point_group}); rename one of them"
                )
            self._targets[ep.name] = ep.value

    def register(self, name: str, target: str | object | None = None) -> Callable[[T], T] | None:
        """Register ``target`` (an object or a ``module:object`` string) under ``name``.

        Used as a decorator when ``target`` is omitted.
        """
        if target is None:

            def decorator(obj: T) -> T:
                self.register(name, obj)
                return obj

            return decorator
        self._scan_entry_points()
        existing = self._targets.get(name)
        if existing is not None and existing is not target and existing != target:
            raise RegistryCollisionError(
                f"{self.kind} {name!r} is already registered as {existing!r}; cannot also register {target!r}"
            )
        self._targets[name] = target
        self._loaded.pop(name, None)
        return None

    def names(self) -> list[str]:
        self._scan_entry_points()
        return sorted(self._targets)

    def __contains__(self, name: object) -> bool:
        self._scan_entry_points()
        return name in self._targets

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def target(self, name: str) -> str | object:
        """The declared target without importing it."""
        self._scan_entry_points()
        if name not in self._targets:
            raise UnknownComponentError(self.kind, name, self._targets)
        return self._targets[name]

    def get(self, name: str) -> T:
        """The component registered as ``name``, imported on first use."""
        if name in self._loaded:
            return self._loaded[name]
        target = self.target(name)
        obj = load_target(target) if isinstance(target, str) else target
        self._loaded[name] = obj  # type: ignore[assignment]
        return obj  # type: ignore[return-value]

    def origin(self, name: str) -> str:
        """``file:line`` where the component is defined (for error messages and docs)."""
        obj = self.get(name)
        try:
            return f"{inspect.getsourcefile(obj)}:{inspect.getsourcelines(obj)[1]}"  # type: ignore[arg-type]
        except (TypeError, OSError):
            return repr(self.target(name))

    def _clear(self, name: str) -> None:
        """Test-only: forget a registration."""
        self._targets.pop(name, None)
        self._loaded.pop(name, None)
