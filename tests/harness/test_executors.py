"""The Ray executor stores exactly what the local executor stores, through worker and driver deaths.

Real Ray on a local 2-CPU instance (no network, no dashboard), started once for the module.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.executors import RayExecutor, TaskResources, shortfall, split_resource_params
from harness.manifest import load_suite
from harness.runner import Runner, build_manifest
from harness.store import ResultStore

ray = pytest.importorskip("ray", reason="the Ray executor needs the [distributed] extra (ray==2.60.0)")

FAKES = "tests.harness.fake_systems"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ray_cluster():  # type: ignore[no-untyped-def]
    # Workers import the test fakes from this checkout, whatever the venv's editable install points to.
    ray.init(
        address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}},
    )
    yield ray
    ray.shutdown()


def manifest(systems: list[str], **kwargs: object):  # type: ignore[no-untyped-def]
    return build_manifest(load_suite("smoke"), systems=systems, **kwargs)  # type: ignore[arg-type]


def exports(store_path: Path, tmp_path: Path) -> dict[str, str]:
    """The three user-facing exports, as text (what `xner export` writes)."""
    out = {}
    with ResultStore(store_path) as store:
        for table in ("scores", "robustness", "sentences"):
            path = store.export(tmp_path / f"{store_path.stem}-{table}.csv", table=table)
            out[table] = path.read_text(encoding="utf-8")
        out["fit_reports"] = repr(store.fit_reports())
    return out


def run(manifest_, store_path: Path, executor=None, **kwargs):  # type: ignore[no-untyped-def]
    with ResultStore(store_path) as store:
        return Runner(manifest_, store, executor=executor, bootstrap_resamples=50, **kwargs).run()


def test_ray_executor_stores_exactly_what_the_local_executor_stores(ray_cluster, tmp_path: Path) -> None:
    m = manifest(["gazetteer", f"{FAKES}:CapitalisedIsPerson", f"{FAKES}:ReportsOnFit"], seeds=[0, 1])
    local = run(m, tmp_path / "local.sqlite")
    remote = run(m, tmp_path / "ray.sqlite", RayExecutor())
    assert remote.run_id == local.run_id
    assert sorted(remote.computed) == sorted(local.computed) and len(local.computed) == 3 * 2 * 4 * 5
    a, b = exports(tmp_path / "local.sqlite", tmp_path), exports(tmp_path / "ray.sqlite", tmp_path)
    assert a["robustness"].count("\n") > 40 and "projection_report" in a["fit_reports"]
    assert a == b


def test_ray_executor_rerun_reuses_finished_cells(ray_cluster, tmp_path: Path) -> None:
    m = manifest(["gazetteer"], attacks=[])
    run(m, tmp_path / "r.sqlite", RayExecutor())
    again = run(m, tmp_path / "r.sqlite", RayExecutor())
    assert again.computed == [] and len(again.reused) == 4


def test_ray_executor_retries_a_task_whose_worker_was_killed(ray_cluster, tmp_path: Path) -> None:
    log = tmp_path / "pids.txt"
    m = manifest([f"{FAKES}:KillsItsWorker", "gazetteer"], system_params={f"{FAKES}:KillsItsWorker": {"log": str(log)}}, seeds=[0])
    summary = run(m, tmp_path / "ray.sqlite", RayExecutor(max_retries=2))
    pids = [int(p) for p in log.read_text().split()]
    assert pids[0] != os.getpid() and len(set(pids)) >= 2, "the first worker must have died and another retried the task"
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)  # the killed worker is gone
    assert summary.failed == []
    # The same manifest locally (the log already holds one pid, so nothing is killed here).
    run(m, tmp_path / "local.sqlite")
    assert exports(tmp_path / "ray.sqlite", tmp_path) == exports(tmp_path / "local.sqlite", tmp_path)


def test_ray_executor_task_whose_worker_keeps_dying_fails_only_its_cells(ray_cluster, tmp_path: Path) -> None:
    m = manifest([f"{FAKES}:KillsItsWorker", "gazetteer"], attacks=[],
                 system_params={f"{FAKES}:KillsItsWorker": {"log": str(tmp_path / "pids.txt"), "times": 100}})
    summary = run(m, tmp_path / "ray.sqlite", RayExecutor(max_retries=1))
    assert {k.system for k, _ in summary.failed} == {f"{FAKES}:KillsItsWorker"} and len(summary.failed) == 4
    assert all("worker died" in message and "1 retries" in message for _, message in summary.failed)
    assert len(open(tmp_path / "pids.txt").read().split()) == 2  # one attempt plus one bounded retry
    with ResultStore(tmp_path / "ray.sqlite") as store:
        assert {c.key.system for c in store.cells(status="done")} == {"gazetteer"}


def test_ray_executor_failing_system_fails_its_cells_with_the_workers_message(ray_cluster, tmp_path: Path) -> None:
    m = manifest([f"{FAKES}:Raises", "gazetteer"], attacks=["diacritics-drop.v1"])
    summary = run(m, tmp_path / "ray.sqlite", RayExecutor())
    assert {k.system for k, _ in summary.failed} == {f"{FAKES}:Raises"} and len(summary.failed) == 8
    assert all("raises.predict raised RuntimeError: model exploded" in message for _, message in summary.failed)
    with ResultStore(tmp_path / "ray.sqlite") as store:
        assert len(store.cells(status="done", system="gazetteer")) == 8
        assert "model exploded" in store.cells(status="failed")[0].error  # type: ignore[operator]


def test_ray_executor_says_when_the_cluster_is_too_small_instead_of_waiting(ray_cluster, tmp_path: Path) -> None:
    lines: list[str] = []
    m = manifest(["gazetteer", f"{FAKES}:CapitalisedIsPerson"], attacks=[])
    executor = RayExecutor(resources={"gazetteer": {"num_gpus": 1}}, report=lines.append)
    summary = run(m, tmp_path / "ray.sqlite", executor)
    assert len(summary.failed) == 4 and len(summary.computed) == 4
    assert any("cannot schedule gazetteer on smoke (seed 0)" in line and "num_gpus=1" in line and "0 GPU" in line for line in lines)


def test_split_resource_params_keeps_resources_out_of_the_system_and_validates_them() -> None:
    params, resources = split_resource_params({"gazetteer": {"case_fold": True, "num_cpus": 2}})
    assert params == {"gazetteer": {"case_fold": True}} and resources == {"gazetteer": {"num_cpus": 2.0}}
    with pytest.raises(ConfigError, match=r"gazetteer.num_gpus must be a non-negative number of GPUs; got 'one'"):
        split_resource_params({"gazetteer": {"num_gpus": "one"}})
    assert shortfall(TaskResources(4, 0), [{"CPU": 2.0}, {"CPU": 3.0}]) == "asks for num_cpus=4, num_gpus=0 but the largest node has 3 CPU, 0 GPU"


SLOW_SUITE = """
name = "ray-kill"
systems = ["tests.harness.fake_systems:SlowGazetteer"]
seeds = [0, 1, 2, 3]
executor = "ray"

[[datasets]]
name = "smoke"
split = "test"

[system_params."tests.harness.fake_systems:SlowGazetteer"]
train = "smoke/{target}/train"
"""


def test_cli_run_with_ray_executor_resumes_after_the_driver_is_killed(tmp_path: Path) -> None:
    """kill -9 the driver of a Ray run mid-way; rerunning the command resumes without duplicates."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), "XNER_TEST_SLOW": "1"}
    suite = tmp_path / "ray-kill.toml"
    suite.write_text(SLOW_SUITE, encoding="utf-8")  # `executor = "ray"` in the suite, not on the command line
    args = [sys.executable, "-m", "harness.cli", "run", str(suite), "--batch-size", "2", "--no-progress"]
    killed = tmp_path / "killed.sqlite"
    process = subprocess.Popen([*args, "--store", str(killed)], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline, done = time.time() + 120, 0
    while time.time() < deadline and process.poll() is None:
        if killed.exists():
            try:
                with ResultStore(killed) as store:
                    done = len(store.cells(status="done"))
            except Exception:  # noqa: BLE001 - the writer may hold the lock for a moment
                done = 0
            if done:
                break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the driver and the local Ray instance it started
    process.wait()
    assert 1 <= done < 16, f"expected to kill mid-run, found {done} of 16 finished cells"
    env.pop("XNER_TEST_SLOW")
    subprocess.run([*args, "--store", str(killed)], env=env, cwd=tmp_path, check=True, capture_output=True)
    fresh = tmp_path / "fresh.sqlite"
    subprocess.run([*args, "--executor", "local", "--store", str(fresh)], env=env, cwd=tmp_path, check=True, capture_output=True)
    with ResultStore(killed) as a:
        assert len(a.cells(status="done")) == 16
        assert a.execute("SELECT COUNT(*) AS n FROM sentence_results")[0]["n"] == 16 * 4
    assert exports(killed, tmp_path) == exports(fresh, tmp_path)


def test_cli_executor_ray_without_ray_installed_is_one_clear_error(tmp_path: Path) -> None:
    # A sitecustomize that hides ray stands in for an environment without the extra.
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['ray'] = None\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    result = subprocess.run([sys.executable, "-m", "harness.cli", "run", "smoke", "--executor", "ray", "--store", str(tmp_path / "r.sqlite")],
                            env=env, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    assert "--executor ray needs Ray: pip install 'xner-bench[distributed]' (ray==2.60.0)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_ray_executor_matches_local_with_a_tiny_neural_backbone(ray_cluster, tmp_path: Path) -> None:
    from systems._toy import write_toy_data_dir

    data = write_toy_data_dir(tmp_path / "data", n=24)
    suite = load_suite("masakhaner2")
    m = build_manifest(suite, data_dir=data, systems=["direct-transfer"], attacks=["diacritics-drop.v1"], languages=["hau", "yor"],
                       shared_params={"backbone": "offline-tiny"}, system_params={"direct-transfer": {"epochs": 1, "max_minutes": 2}})
    # Separate caches: the Ray run must train its own model, not load the local one.
    run(m, tmp_path / "local.sqlite", data_dir=data, cache_dir=tmp_path / "cache-local")
    run(m, tmp_path / "ray.sqlite", RayExecutor(), data_dir=data, cache_dir=tmp_path / "cache-ray")
    assert any((tmp_path / "cache-ray").iterdir())
    assert exports(tmp_path / "ray.sqlite", tmp_path) == exports(tmp_path / "local.sqlite", tmp_path)


def test_progress_display_counts_done_running_failed_queued_per_system() -> None:
    from harness.executors import _Display
    from harness.runner import RunSummary

    m = manifest(["gazetteer", f"{FAKES}:CapitalisedIsPerson"], attacks=[], seeds=[0, 1])
    with ResultStore(":memory:") as store:
        runner = Runner(m, store)
        summary = RunSummary(m.run_id)
        tasks = [runner._plan(s, m.datasets[0], seed, summary) for s in m.systems for seed in m.seeds]
    display = _Display(tasks, live=False)  # type: ignore[arg-type]
    display.running([0, 2])
    for failed in (False, False, True):
        display.cell(0, failed=failed)
    assert display.counts()["gazetteer"] == {"done": 2, "running": 1, "failed": 1, "queued": 4}
    display.cell(0, failed=False)
    display.finished(0)
    display.fail_rest(1)
    display.finished(1)
    assert display.counts() == {
        "gazetteer": {"done": 3, "running": 0, "failed": 5, "queued": 0},
        f"{FAKES}:CapitalisedIsPerson": {"done": 0, "running": 4, "failed": 0, "queued": 4},
    }


def test_prediction_cache_is_per_fit_seed_so_executors_agree_on_seed_dependent_fits(ray_cluster, tmp_path: Path) -> None:
    m = manifest([f"{FAKES}:SeedDependent"], attacks=[], seeds=[0, 1])
    run(m, tmp_path / "local.sqlite")
    with ResultStore(tmp_path / "local.sqlite") as store:
        tp_by_seed = {r.seed: r.tp for r in store.scores_frame(entity_type="ALL", lang="yor").itertuples()}
    assert tp_by_seed[0] > 0 and tp_by_seed[1] == 0  # seed 1 did not reuse seed 0's cached predictions
    run(m, tmp_path / "ray.sqlite", RayExecutor())
    assert exports(tmp_path / "ray.sqlite", tmp_path) == exports(tmp_path / "local.sqlite", tmp_path)
