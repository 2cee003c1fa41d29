"""Shared test fixtures: the real data in ../shared/data, opt-in slow tests, offline environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# No Hypothesis deadline anywhere: a deadline is a wall-clock assertion, and on a loaded 2-core
# machine (CI beside a training run) a 200 ms example budget fails tests that are correct.
settings.register_profile("xner", deadline=None)
settings.load_profile("xner")

# Never touch the network from tests: hub names fail at once instead of retrying for 23 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("XNER_TEST_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
NO_DATA_REASON = (
    f"real data not found at {SHARED_DATA} (expected ../shared/data beside the checkout, "
    "or set XNER_TEST_DATA_DIR)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests (model training, whole suites)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: opt in with --runslow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow test; run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real offline data (../shared/data); skips the test with a clear reason when absent."""
    if not (SHARED_DATA / "manifest.json").is_file():
        pytest.skip(NO_DATA_REASON)
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test session gets its own model cache unless XNER_CACHE_DIR is set by the caller."""
    if "XNER_CACHE_DIR" not in os.environ:
        monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "xner-cache"))


def xner_executable() -> str:
    """The ``xner`` console script of the interpreter running the tests (the venv need not be active)."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "xner"
    found = str(beside) if beside.is_file() else shutil.which("xner")
    if found is None:
        pytest.fail("the xner console script is not installed (pip install -e .)")
    return found
