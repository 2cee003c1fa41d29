"""Scaling of the Ray executor against the local executor on this machine (a timing script).

The grid: the bundled ``smoke`` dataset (4 languages × 4 test sentences), clean cells only,
``--seeds`` seeds (default 16), so 4 × 16 = 64 cells in 16 fit tasks of 4 cells. The system,
:class:`BusyTagger`, burns a fixed amount of *CPU time* per sentence (a busy loop on
``time.process_time``, never ``sleep``), so a cell costs ``4 × ms`` of CPU (default 4 × 500 ms =
2 s) and nothing else matters. It is trainable (its fit is trivial), so predictions are cached per
seed: neither executor can reuse another seed's predictions.

Three runs of the same manifest into three fresh stores:

* ``local``: :class:`harness.executors.LocalExecutor` (the default), one process;
* ``ray-1``: a local Ray instance started with ``num_cpus=1`` (one worker at a time);
* ``ray-2``: a local Ray instance with ``num_cpus=2`` (two workers; the machine has 2 cores).

Ray start-up (``ray.init``) is timed separately from the run. Reported: wall time of each run,
speed-up ``local / ray-2``, and Ray's overhead per cell, ``(ray-1 − local) / cells`` (both run one
cell at a time, so the difference is what Ray adds: task submission, worker start, pickling the
task and its predictions back, the driver's store writes are the same), also as a share of one
cell's time. The stored scores of the three runs are checked to be identical.

Run (with the load of the machine as low as possible; it is printed)::

    nice -n 10 python benchmarks/bench_executors.py               # 64 cells of 2 s
    nice -n 10 python benchmarks/bench_executors.py --seeds 4 --ms 100   # a quick look
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from harness.data import Sentence  # noqa: E402
from systems.base import SystemTags  # noqa: E402

SYSTEM = "benchmarks.bench_executors:BusyTagger"


class BusyTagger:
    """Tags capitalised tokens as PER after burning ``ms`` milliseconds of CPU per sentence."""

    name = "busy"

    def __init__(self, ms: float = 500.0) -> None:
        self.ms = ms

    @property
    def tags(self) -> SystemTags:
        return SystemTags(labels=frozenset({"PER"}), trainable=True)

    def fit(self, context: Any) -> None:
        self.seed_ = context.seed

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        out = []
        for sentence in sentences:
            # CPU time of this process, so a loaded machine stretches wall time, not the work.
            until = time.process_time() + self.ms / 1000.0
            x = 0
            while time.process_time() < until:
                for _ in range(1000):
                    x += 1
            out.append(tuple("B-PER" if t[:1].isupper() else "O" for t in sentence.tokens))
        return out


def _run(manifest: Any, store_path: Path, executor: Any) -> tuple[float, Any]:
    from harness.runner import Runner
    from harness.store import ResultStore

    with ResultStore(store_path) as store:
        started = time.perf_counter()
        summary = Runner(manifest, store, executor=executor, bootstrap_resamples=10).run()
        seconds = time.perf_counter() - started
        frame = store.scores_frame(entity_type="ALL")
        rows = sorted((r.lang, r.seed, r.tp, r.fp, r.fn) for r in frame.itertuples())
    if summary.failed:
        raise SystemExit(f"cells failed: {summary.failed[:3]}")
    return seconds, rows


def _timed_runs(manifest: Any, tmp: Path, tag: str, workers: Sequence[int]) -> tuple[dict[str, float], dict[str, Any], dict[str, float]]:
    """Wall time of the local run and of Ray runs with each number of workers (fresh stores)."""
    import ray

    from harness.executors import RayExecutor

    env = {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    seconds: dict[str, float] = {}
    scores: dict[str, Any] = {}
    init: dict[str, float] = {}
    seconds["local"], scores["local"] = _run(manifest, tmp / f"{tag}-local.sqlite", None)
    for n in workers:
        label = f"ray-{n}"
        started = time.perf_counter()
        ray.init(address="local", num_cpus=n, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 runtime_env={"env_vars": env})
        init[label] = time.perf_counter() - started
        seconds[label], scores[label] = _run(manifest, tmp / f"{tag}-{label}.sqlite", RayExecutor())
        ray.shutdown()
    if any(v != scores["local"] for v in scores.values()):
        raise SystemExit("stored scores differ between executors")
    return seconds, scores, init


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=16, help="seeds (fit tasks); cells = 4 × seeds")
    parser.add_argument("--ms", type=float, default=500.0, help="CPU milliseconds per sentence (4 sentences per cell)")
    args = parser.parse_args(argv)

    from harness.manifest import load_suite
    from harness.runner import build_manifest

    def grid(ms: float) -> Any:
        return build_manifest(
            load_suite("smoke"), systems=[SYSTEM], attacks=[], seeds=list(range(args.seeds)), system_params={SYSTEM: {"ms": ms}}
        )

    cells = 4 * args.seeds
    cell_seconds = 4 * args.ms / 1000.0
    print(f"grid: {cells} cells in {args.seeds} fit tasks, {cell_seconds:.2f} s CPU per cell; load before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        # Overhead: the same grid with cells that cost nothing, one worker; what remains is Ray's
        # (task submission, worker start, pickling the task and its predictions, the wait loop).
        empty, _, _ = _timed_runs(grid(0.0), Path(tmp), "empty", [1])
        print(f"zero-cost grid: local {empty['local']:.2f} s, ray-1 {empty['ray-1']:.2f} s")
        results, _, init = _timed_runs(grid(args.ms), Path(tmp), "busy", [1, 2])
    print(f"load after: {os.getloadavg()}")
    print("| run | wall (s) | per cell (s) | speed-up vs local |")
    print("|---|---|---|---|")
    for label, seconds in results.items():
        extra = f" (+ ray.init {init[label]:.1f} s)" if label in init else ""
        print(f"| {label} | {seconds:.1f}{extra} | {seconds / cells:.3f} | {results['local'] / seconds:.2f}× |")
    overhead = (empty["ray-1"] - empty["local"]) / cells
    busy_overhead = (results["ray-1"] - results["local"]) / cells
    print(f"Ray overhead per cell, zero-cost grid (ray-1 − local): {overhead * 1000:.0f} ms = "
          f"{100 * overhead / cell_seconds:.2f}% of a {cell_seconds:.1f} s cell")
    print(f"Ray overhead per cell, busy grid (ray-1 − local; load-sensitive): {busy_overhead * 1000:.0f} ms = "
          f"{100 * busy_overhead / cell_seconds:.1f}% of a {cell_seconds:.1f} s cell")


if __name__ == "__main__":
    main()
