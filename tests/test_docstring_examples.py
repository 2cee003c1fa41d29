"""The examples in the core's docstrings are tests too: each module's doctests must pass."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import attacks
import harness
import leaderboards


def _modules() -> list[str]:
    names = []
    for package in (harness, leaderboards, attacks):
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_hold(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of {name} failed (run pytest -s to see them)"
