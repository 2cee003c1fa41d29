"""The parameter validation layer (harness.params): types and ranges from the signature."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.params import Annotated, CliText, Range, parameter_specs, validate_params


class Component:
    def __init__(
        self,
        count: Annotated[int, Range(1)] = 1,
        rate: Annotated[float, Range(0, 1)] = 0.5,
        flag: bool = False,
        name: str = "x",
        limit: int | None = None,
        labels: Sequence[str] = (),
        options: Mapping[str, Any] | None = None,
        mode: Literal["fast", "slow"] = "fast",
        path: str | Path | None = None,
        anything=None,  # type: ignore[no-untyped-def]
    ) -> None:
        pass


def check(**params: Any) -> dict[str, Any]:
    return validate_params("system", "comp", Component, params)


def test_parameter_specs_read_annotations_and_ranges() -> None:
    specs = parameter_specs(Component)
    assert specs["count"].annotation is int and specs["count"].range == Range(1)
    assert specs["anything"].annotation is Any


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("3", "count", 3), ("0.25", "rate", 0.25), ("1", "rate", 1), ("true", "flag", True), ("no", "flag", False),
        ("yor", "name", "yor"), ("none", "limit", None), ("7", "limit", 7), ("PER,LOC", "labels", ["PER", "LOC"]),
        ('["PER"]', "labels", ["PER"]), ('{"epochs": 1}', "options", {"epochs": 1}), ("SLOW", "mode", "slow"),
        ("a/b", "path", "a/b"), ("[1, 2]", "anything", [1, 2]), ("text", "anything", "text"), ("true", "name", "true"),
    ],
)
def test_command_line_text_is_parsed_by_the_annotated_type(text: str, key: str, value: Any) -> None:
    assert check(**{key: CliText(text)}) == {key: value}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("count", CliText("abc"), "comp.count must be an int ≥ 1, got 'abc'"),
        ("count", 0, "comp.count must be an int ≥ 1, got 0"),
        ("count", "lots", "comp.count must be an int ≥ 1, got 'lots'"),
        ("count", True, "comp.count must be an int ≥ 1, got True"),
        ("rate", 1.5, "comp.rate must be a number in [0, 1], got 1.5"),
        ("flag", CliText("maybe"), "comp.flag must be true or false, got 'maybe'"),
        ("flag", "yes", "comp.flag must be true or false, got 'yes'"),
        ("labels", "DATE", "comp.labels must be a list of strings, got 'DATE'"),
        ("labels", [1], "comp.labels must be a list of strings, got [1]"),
        ("options", CliText("epochs=1"), "comp.options must be a JSON object"),
        ("mode", "medium", "comp.mode must be one of 'fast', 'slow', got 'medium'"),
        ("limit", CliText("x"), "comp.limit must be an int or none, got 'x'"),
    ],
)
def test_wrong_values_name_owner_parameter_expected_and_given(key: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        check(**{key: value})
    assert str(info.value).startswith(message), str(info.value)


def test_unknown_parameter_suggests_close_names() -> None:
    with pytest.raises(ConfigError, match=r"system 'comp' has no parameter 'cuont' \(did you mean 'count'\?\); it accepts: count"):
        check(cuont=1)


@given(st.integers())
def test_int_range_is_enforced_for_every_integer(n: int) -> None:
    if n >= 1:
        assert check(count=n) == {"count": n}
        assert check(count=CliText(str(n))) == {"count": n}
    else:
        with pytest.raises(ConfigError, match="must be an int ≥ 1"):
            check(count=n)
