"""Fixtures for leaderboard tests: small stores built from the bundled smoke suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.manifest import load_suite
from harness.runner import Runner, build_manifest
from harness.store import ResultStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TOY_PKG = FIXTURES / "toy_system_pkg"
TOY_META = FIXTURES / "toy_meta.toml"
ATTACKS = ["diacritics-drop.v1", "char-typos.v1"]


def run_smoke(store: ResultStore, attacks: list[str] | None = None, **options: object) -> str:
    """Run the bundled smoke suite (gazetteer) into ``store``; returns the run id."""
    manifest = build_manifest(load_suite("smoke"), attacks=attacks, **options)  # type: ignore[arg-type]
    Runner(manifest, store, bootstrap_resamples=200).run()
    return manifest.run_id


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    with ResultStore(tmp_path / "board.sqlite") as result_store:
        yield result_store


@pytest.fixture
def smoke_store(store: ResultStore) -> ResultStore:
    """A store holding the gazetteer on the smoke suite, clean and under two perturbations."""
    run_smoke(store, ATTACKS)
    return store


def xner(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the xner CLI in a subprocess (as a user would), optionally with extra env."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", "from harness.cli import main; main()", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300,
    )
