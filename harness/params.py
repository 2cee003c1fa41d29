"""One validation layer for component parameters, built from the component's own signature.

A system or perturbation declares its parameters as keyword arguments with type annotations
(``min_count: int = 1``) and, where a value has a range, ``Annotated[int, Range(1)]``. Every value
given to it (suite TOML, ``--param``, ``--backbone``...) goes through :func:`validate_params`
before the component is built, so a wrong value fails at start-up with one line naming the
component, the parameter, what is allowed and what was given (scikit-learn's
``_param_validation`` message), never later inside a cell as ``TypeError: '>=' not supported``.

Text from the command line is parsed by the annotated type (``"3"`` → 3 for an ``int``,
``"true"`` → True for a ``bool``); values from TOML keep their type and must already match it.
"""

from __future__ import annotations

import difflib
import inspect
import json
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Literal

from harness.errors import ConfigError

__all__ = ["Annotated", "CliText", "Range", "close_names", "parameter_specs", "validate_params"]


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive bounds of a numeric parameter, declared as ``Annotated[int, Range(1)]``.

    >>> Range(1).describe()
    '≥ 1'
    >>> Range(0, 1).describe()
    'in [0, 1]'
    """

    low: float | None = None
    high: float | None = None

    def contains(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"in [{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f"≥ {self.low:g}"
        return f"≤ {self.high:g}" if self.high is not None else "any value"


class CliText(str):
    """A parameter value typed on the command line: parsed by the parameter's annotated type."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """What a component accepts for one parameter (``annotation`` is ``Any`` when undeclared)."""

    name: str
    annotation: Any
    range: Range | None
    default: Any


def close_names(name: str, names: Sequence[str]) -> str:
    """`` Did you mean 'x'?`` for close matches, else ``""``.

    >>> close_names("min_cout", ["min_count", "max_length"])
    " Did you mean 'min_count'?"
    """
    close = difflib.get_close_matches(name, list(names), n=3, cutoff=0.6)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _hints(factory: Callable[..., Any]) -> dict[str, Any]:
    target = factory.__init__ if isinstance(factory, type) else factory  # type: ignore[misc]
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # noqa: BLE001 - a forward reference we cannot resolve: evaluate one by one
        pass
    module = sys.modules.get(getattr(target, "__module__", ""), None)
    namespace = dict(vars(module)) if module else {}
    out: dict[str, Any] = {}
    for name, annotation in getattr(target, "__annotations__", {}).items():
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, namespace)  # noqa: S307 - the component's own annotation
            except Exception:  # noqa: BLE001 - unresolvable (TYPE_CHECKING import): not validated
                annotation = Any
        out[name] = annotation
    return out


def parameter_specs(factory: Callable[..., Any]) -> dict[str, ParamSpec]:
    """The keyword parameters of a component's constructor with their types and ranges."""
    hints = _hints(factory)
    out = {}
    for p in inspect.signature(factory).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = hints.get(p.name, Any)
        bound = None
        if typing.get_origin(annotation) is Annotated:
            annotation, *extras = typing.get_args(annotation)
            bound = next((e for e in extras if isinstance(e, Range)), None)
        out[p.name] = ParamSpec(p.name, annotation, bound, p.default)
    return out


# --- checking one value ------------------------------------------------------------------------


class _Mismatch(Exception):
    pass


def _describe(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return "an int"
    if annotation is float:
        return "a number"
    if annotation is str:
        return "a string"
    if annotation is NoneType:
        return "none"
    if annotation in (Path,):
        return "a path"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin in (list, tuple, Sequence, frozenset, set) or annotation in (list, tuple):
        inner = args[0] if args else Any
        return f"a list of {_describe(inner).removeprefix('a ').removeprefix('an ')}s" if inner is not Any else "a list"
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        return 'a JSON object ({"key": value})'

    return getattr(annotation, "__name__", str(annotation))


def _from_text(text: str, annotation: Any) -> Any:
    """Parse command-line text as ``annotation`` (raise _Mismatch when it cannot be)."""
    low = text.strip().lower()
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return {"none": None, "null": None}.get(low, text)
    if origin in (typing.Union, UnionType):
        if NoneType in args and low in ("none", "null"):
            return None
        for arg in args:
            if arg is NoneType:
                continue
            try:
                return _check(_from_text(text, arg), arg)
            except _Mismatch:
                continue
        raise _Mismatch
    if annotation is bool:
        if low in ("true", "yes", "1", "on"):
            return True
        if low in ("false", "no", "0", "off"):
            return False
        raise _Mismatch
    if annotation is int:
        try:
            return int(text)
        except ValueError:
            raise _Mismatch from None
    if annotation is float:
        try:
            return float(text)
        except ValueError:
            raise _Mismatch from None
    if origin is Literal:
        for choice in args:
            if str(choice).lower() == low:
                return choice
        raise _Mismatch
    if origin in (list, tuple, Sequence, frozenset, set) or annotation in (list, tuple):
        if text.strip().startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                raise _Mismatch from None
        return [item.strip() for item in text.split(",") if item.strip()]
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        try:
            value = json.loads(text)  # a JSON object: source_params={"epochs": 1}
        except json.JSONDecodeError:
            raise _Mismatch from None
        if not isinstance(value, dict):
            raise _Mismatch
        return value
    if annotation is str or annotation is Path:
        return text
    # A type we do not model (a class, a callable): JSON when it parses, else the text.
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _check(value: Any, annotation: Any) -> Any:
    """``value`` if it is an instance of ``annotation`` (ints count as floats), else _Mismatch."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any or annotation is inspect.Parameter.empty:
        return value
    if origin in (typing.Union, UnionType):
        for arg in args:
            try:
                return _check(value, arg)
            except _Mismatch:
                continue
        raise _Mismatch
    if annotation is NoneType:
        if value is None:
            return None
        raise _Mismatch
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if annotation is str or annotation is Path:
        if isinstance(value, (str, Path)):
            return value
        raise _Mismatch
    if origin is Literal:
        if value in args:
            return value
        raise _Mismatch
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        if isinstance(value, Mapping):
            return value
        raise _Mismatch
    if origin in (list, tuple, Sequence, frozenset, set) or annotation in (list, tuple):
        # A string where a list is expected is never split into its characters.
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
            raise _Mismatch
        inner = args[0] if args else Any
        if inner is not Any and inner is not Ellipsis:
            for item in value:
                _check(item, inner)
        return value
    return value  # a type we do not model (a class, a callable): the component checks it


def validate_value(owner: str, spec: ParamSpec, value: Any) -> Any:
    """The validated (and, for command-line text, parsed) value of one parameter.

    >>> spec = ParamSpec("min_count", int, Range(1), 1)
    >>> validate_value("gazetteer", spec, CliText("3"))
    3
    >>> validate_value("gazetteer", spec, CliText("abc"))
    Traceback (most recent call last):
    ...
    harness.errors.ConfigError: gazetteer.min_count must be an int ≥ 1, got 'abc'
    """
    expected = _describe(spec.annotation) + (f" {spec.range.describe()}" if spec.range else "")
    shown = str(value) if isinstance(value, CliText) else value
    try:
        parsed = _from_text(str(value), spec.annotation) if isinstance(value, CliText) else value
        checked = _check(parsed, spec.annotation)
    except _Mismatch:
        raise ConfigError(f"{owner}.{spec.name} must be {expected}, got {shown!r}") from None
    if spec.range is not None and isinstance(checked, (int, float)) and not isinstance(checked, bool):
        if not spec.range.contains(checked):
            raise ConfigError(f"{owner}.{spec.name} must be {expected}, got {shown!r}")
    if isinstance(checked, CliText):
        checked = str(checked)
    return checked


def validate_params(kind: str, name: str, factory: Callable[..., Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Check every given parameter against the constructor of ``factory``.

    Raises:
        ConfigError: an unknown parameter (with close names and the accepted list), or a value
            of the wrong type or out of range (naming ``name.parameter``, what is allowed and what
            was given).
    """
    specs = parameter_specs(factory)
    unknown = sorted(set(params) - set(specs))
    if unknown:
        hint = close_names(unknown[0], list(specs))
        hint = f" ({hint.strip()[0].lower()}{hint.strip()[1:]})" if hint else ""
        raise ConfigError(
            f"{kind} {name!r} has no parameter {', '.join(repr(u) for u in unknown)}{hint}; "
            f"it accepts: {', '.join(specs) or '(none)'}"
        )
    return {key: validate_value(name, specs[key], value) for key, value in params.items()}
