"""pytest plugin for xner-bench (entry point ``pytest11: xner``).

Loaded in every pytest session of anyone who installs xner-bench, so it imports nothing beyond
pytest and the standard library until it is used: it does nothing unless ``--xner-suite`` is given
or one of its fixtures is requested.

* ``pytest --xner-suite smoke`` runs a suite as tests: one test per cell, ids like
  ``gazetteer::masakhaner2::yor::diacritics-drop.v1``. A cell passes when it was scored (and, with
  ``--xner-min-f1``, reaches that F1), fails with the runner's message when the system failed, and
  is skipped with the reason when the runner skipped it (e.g. an unsupported language).
* Fixtures: ``xner_store`` (the result store of the session) and ``xner_suite`` (the results of the
  suite named by ``--xner-suite`` or by ``@pytest.mark.xner_suite("smoke", attacks=[...])``)::

      def test_yoruba_typos(xner_suite):
          assert xner_suite.f1(lang="yor", attack="char-typos.v1") >= 0.5

* Failed ``==`` comparisons of IOB2 tag sequences (or sentences) show a span diff.
* ``check_system`` and ``parametrize_with_checks`` are re-exported from ``systems.checks``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

_TAG_RE = re.compile(r"^(?:O|[BI]-\S+)$")


def __getattr__(name: str) -> Any:
    # Lazy re-exports: importing systems.checks at plugin load would slow down every pytest run.
    if name in ("check_system", "parametrize_with_checks", "run_checks"):
        from systems import checks

        return getattr(checks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xner", "xner-bench suites as tests")
    group.addoption("--xner-suite", default=None, help="run this xner-bench suite (name or TOML path), one test per cell")
    group.addoption("--xner-store", default=None, help="result store for suite runs (default: a temporary file)")
    group.addoption("--xner-data-dir", default=None, help="local data root (default: $XNER_DATA_DIR)")
    group.addoption("--xner-systems", default=None, help="comma-separated systems (overrides the suite)")
    group.addoption("--xner-attacks", default=None, help="comma-separated perturbations (overrides the suite)")
    group.addoption("--xner-languages", default=None, help="comma-separated ISO 639-3 codes")
    group.addoption("--xner-max-sentences", type=int, default=None, help="score only the first N sentences per language")
    group.addoption("--xner-min-f1", type=float, default=None, help="fail cells whose F1 (0-1) is below this")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "xner_suite(name, **options): the suite the xner_suite fixture runs (systems=, attacks=, languages=, max_sentences=)"
    )


# --- results helper ----------------------------------------------------------------------------


class SuiteResult:
    """Scores of one suite run, read from the store; numbers are fractions in [0, 1].

    Args:
        store: the result store.
        run_id: the run to read.
    """

    def __init__(self, store: Any, run_id: str) -> None:
        self.store = store
        self.run_id = run_id

    def _cells(self, system: str | None, lang: str | None, attack: str | None, dataset: str | None) -> list[Any]:
        from harness.store import CLEAN

        perturbation = CLEAN if attack is None else attack
        cells = self.store.cells(run_id=self.run_id, status="done", system=system, lang=lang, perturbation=perturbation, dataset=dataset)
        if not cells:
            available = sorted({(c.key.system, c.key.lang, c.key.perturbation) for c in self.store.cells(run_id=self.run_id)})
            raise LookupError(
                f"no finished cell for system={system!r} lang={lang!r} attack={perturbation!r} in run {self.run_id}; "
                f"cells: {', '.join('/'.join(a) for a in available[:12])}"
            )
        systems = {c.key.system for c in cells}
        if len(systems) > 1:
            raise LookupError(f"several systems match ({', '.join(sorted(systems))}); pass system=")
        return list(cells)

    def counts(self, *, system: str | None = None, lang: str | None = None, attack: str | None = None,
               dataset: str | None = None, entity_type: str = "ALL") -> Any:
        """Summed span counts over the matching cells (all languages when ``lang`` is None)."""
        from harness.metrics import SpanCounts

        total = SpanCounts()
        for cell in self._cells(system, lang, attack, dataset):
            total = total + self.store.counts(cell.key).get(entity_type, SpanCounts())
        return total

    def f1(self, *, system: str | None = None, lang: str | None = None, attack: str | None = None,
           dataset: str | None = None, entity_type: str = "ALL") -> float:
        """Micro F1 of the matching cells; ``attack=None`` is the clean test set."""
        return float(self.counts(system=system, lang=lang, attack=attack, dataset=dataset, entity_type=entity_type).f1)

    def precision(self, **filters: Any) -> float:
        return float(self.counts(**filters).precision)

    def recall(self, **filters: Any) -> float:
        return float(self.counts(**filters).recall)

    def robustness(self, *, attack: str, lang: str, system: str | None = None) -> dict[str, Any]:
        """The stored robustness row (clean vs perturbed on the changed sentences) of one cell."""
        frame = self.store.robustness_frame(run_id=self.run_id, perturbation=attack, lang=lang, system=system)
        if len(frame) != 1:
            raise LookupError(f"{len(frame)} robustness rows for attack={attack!r} lang={lang!r} system={system!r}; be more specific")
        return dict(frame.iloc[0])

    def __repr__(self) -> str:
        return f"SuiteResult(run_id={self.run_id!r}, store={str(self.store.path)!r})"


# --- running suites ----------------------------------------------------------------------------


def _split(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


class _Session:
    """Per-session state: the store and the runs already executed (keyed by run id)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._store: Any = None
        self._summaries: dict[str, Any] = {}
        self._tmp: Any = None

    @property
    def data_dir(self) -> str | None:
        value = self.config.getoption("--xner-data-dir")
        return None if value is None else str(value)

    def store(self) -> Any:
        if self._store is None:
            from harness.store import ResultStore

            path = self.config.getoption("--xner-store")
            if path is None:
                import tempfile

                self._tmp = tempfile.TemporaryDirectory(prefix="xner-pytest-")
                path = str(Path(self._tmp.name) / "xner.sqlite")
            self._store = ResultStore(path)
        return self._store

    def manifest(self, suite: str, **options: Any) -> Any:
        from harness.manifest import load_suite
        from harness.runner import build_manifest

        opt = self.config.getoption
        return build_manifest(
            load_suite(suite),
            data_dir=self.data_dir,
            systems=_split(options.get("systems", opt("--xner-systems"))),
            attacks=None if options.get("attacks", opt("--xner-attacks")) is None else (_split(options.get("attacks", opt("--xner-attacks"))) or []),
            languages=_split(options.get("languages", opt("--xner-languages"))),
            max_sentences=options.get("max_sentences", opt("--xner-max-sentences")),
        )

    def run(self, manifest: Any) -> Any:
        if manifest.run_id not in self._summaries:
            from harness.runner import Runner

            self._summaries[manifest.run_id] = Runner(manifest, self.store(), data_dir=self.data_dir).run()
        return self._summaries[manifest.run_id]

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        if self._tmp is not None:
            self._tmp.cleanup()


_SESSION_KEY = pytest.StashKey[_Session]()


def _session(config: pytest.Config) -> _Session:
    if _SESSION_KEY not in config.stash:
        config.stash[_SESSION_KEY] = _Session(config)
    return config.stash[_SESSION_KEY]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_KEY in config.stash:
        config.stash[_SESSION_KEY].close()


class XnerCellFailure(Exception):
    """A suite cell failed (its message is the runner's)."""


class XnerCellItem(pytest.Item):
    """One cell of a suite, run as a test."""

    def __init__(self, *, manifest: Any, key: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.manifest = manifest
        self.key = key

    def runtest(self) -> None:
        state = _session(self.config)
        state.run(self.manifest)
        store = state.store()
        records = store.cells(**{f: getattr(self.key, f) for f in ("run_id", "system", "dataset", "lang", "split", "perturbation", "params_hash", "seed")})
        if not records:
            raise XnerCellFailure(f"{self.name}: the runner recorded nothing for this cell")
        record = records[0]
        if record.status == "skipped":
            pytest.skip(f"{self.name}: {record.error}")
        if record.status == "failed":
            raise XnerCellFailure(f"{self.name}: {record.error}")
        minimum = self.config.getoption("--xner-min-f1")
        f1 = store.counts(self.key)["ALL"].f1
        self.user_properties.append(("f1", f1))
        if minimum is not None and f1 < minimum:
            raise XnerCellFailure(f"{self.name}: F1 {f1:.4f} is below --xner-min-f1 {minimum:.4f} (run {self.key.run_id})")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, XnerCellFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path | str, int | None, str]:
        return self.path, None, f"xner cell {self.name}"


def _cell_items(session: pytest.Session, suite: str) -> list[XnerCellItem]:
    from harness.errors import XnerError
    from harness.runner import Runner

    state = _session(session.config)
    try:
        manifest = state.manifest(suite)
    except XnerError as exc:
        raise pytest.UsageError(f"--xner-suite {suite}: {exc}") from None
    runner = Runner(manifest, state.store())  # only used to enumerate the cells' keys
    keys = [
        key
        for system in manifest.systems
        for seed in manifest.seeds
        for dataset in manifest.datasets
        for lang in dataset.languages
        for key, _ in runner.cell_keys(system.name, dataset, lang, seed)
    ]
    names = [f"{k.system}::{k.dataset}::{k.lang}::{k.perturbation}" for k in keys]
    if len(manifest.seeds) > 1:
        names = [f"{n}::seed{k.seed}" for n, k in zip(names, keys, strict=True)]
    duplicated = {n for n in names if names.count(n) > 1}
    names = [f"{n}::{k.params_hash}" if n in duplicated else n for n, k in zip(names, keys, strict=True)]
    return [XnerCellItem.from_parent(session, name=name, nodeid=name, manifest=manifest, key=key) for name, key in zip(names, keys, strict=True)]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    suite = config.getoption("--xner-suite")
    if suite:
        items.extend(_cell_items(session, suite))


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def xner_store(request: pytest.FixtureRequest) -> Any:
    """The session's result store (``--xner-store``, else a temporary SQLite file)."""
    return _session(request.config).store()


@pytest.fixture
def xner_suite(request: pytest.FixtureRequest, xner_store: Any) -> SuiteResult:
    """Run (once per session) the suite named by the ``xner_suite`` marker or ``--xner-suite``."""
    marker = request.node.get_closest_marker("xner_suite")
    options: dict[str, Any] = {}
    if marker is not None:
        if not marker.args:
            raise pytest.UsageError("@pytest.mark.xner_suite needs the suite name as its first argument")
        suite = marker.args[0]
        options = dict(marker.kwargs)
    else:
        suite = request.config.getoption("--xner-suite")
        if not suite:
            pytest.fail("the xner_suite fixture needs a suite: pass --xner-suite NAME or mark the test @pytest.mark.xner_suite('smoke')")
    state = _session(request.config)
    manifest = state.manifest(suite, **options)
    state.run(manifest)
    return SuiteResult(xner_store, manifest.run_id)


# --- assertion diffs ---------------------------------------------------------------------------


def _as_tags(value: Any) -> tuple[tuple[str, ...], tuple[str, ...] | None] | None:
    """(tags, tokens) when ``value`` is an IOB2 tag sequence or a Sentence-like object."""
    tags = getattr(value, "tags", None)
    tokens = getattr(value, "tokens", None)
    if isinstance(tags, tuple) and isinstance(tokens, tuple):
        value = tags
    else:
        tokens = None
    if isinstance(value, (list, tuple)) and value and all(isinstance(t, str) and _TAG_RE.match(t) for t in value):
        if any(t != "O" for t in value) or tokens is not None:
            return tuple(value), tokens
    return None


def span_diff(left: Sequence[str], right: Sequence[str], tokens: Sequence[str] | None = None) -> list[str]:
    """Lines describing how two IOB2 tag sequences differ as spans.

    >>> span_diff(["B-PER", "O"], ["B-LOC", "O"], ["Adé", "lọ"])
    ["spans only on the left:  PER[0:1] 'Adé'", "spans only on the right: LOC[0:1] 'Adé'"]
    """
    from harness.data import spans_from_iob2, tag_errors

    lines = []
    for side, tags in (("left", left), ("right", right)):
        errors = tag_errors(tuple(tags))
        if errors:
            lines.append(f"{side} is not valid IOB2: {'; '.join(errors[:3])}")
    if lines:
        return lines
    a, b = set(spans_from_iob2(tuple(left))), set(spans_from_iob2(tuple(right)))

    def show(spans: set[Any]) -> str:
        parts = []
        for s in sorted(spans, key=lambda s: (s.start, s.end, s.label)):
            text = f" {' '.join(tokens[s.start:s.end])!r}" if tokens is not None and s.end <= len(tokens) else ""
            parts.append(f"{s.label}[{s.start}:{s.end}]{text}")
        return ", ".join(parts)

    if a - b:
        lines.append(f"spans only on the left:  {show(a - b)}")
    if b - a:
        lines.append(f"spans only on the right: {show(b - a)}")
    if len(left) != len(right):
        lines.append(f"lengths differ: {len(left)} vs {len(right)} tags")
    return lines


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> list[str] | None:
    if op != "==":
        return None
    a, b = _as_tags(left), _as_tags(right)
    if a is None or b is None:
        return None
    tokens = a[1] or b[1]
    lines = span_diff(a[0], b[0], tokens)
    if not lines:
        return None
    return ["NER tag sequences differ (strict IOB2 spans):", *lines]
