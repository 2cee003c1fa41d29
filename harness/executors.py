"""Where fit tasks run: here, in order (:class:`LocalExecutor`), or on a Ray cluster (:class:`RayExecutor`).

The runner plans the grid into :class:`harness.work.FitTask` values (one fit and the pending
cells that share it), hands them to an executor, and scores and stores every event the executor
delivers. Executors never write results; they only decide where :func:`harness.work.run_fit_task`
runs. So the store's guarantees (a cell is one transaction, resume, no duplicates, the run id)
are the same whichever executor ran the work, and the executor is not part of the manifest.

Ray is optional (``pip install 'xner-bench[distributed]'``); nothing here imports it until a
:class:`RayExecutor` runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.errors import ConfigError, XnerError
from harness.work import FitTask, MemoryCache, TaskFailed, WorkCache, WorkEvent, run_fit_task

Deliver = Callable[[FitTask, WorkEvent], None]
Reporter = Callable[[str], None]

EXECUTORS = ("local", "ray")
# System parameters that say where a fit runs, not what it computes: taken out of the system's
# parameters (and so out of the manifest and run id) and given to the executor.
RESOURCE_PARAMS = ("num_cpus", "num_gpus")
RAY_MISSING = "--executor ray needs Ray: pip install 'xner-bench[distributed]' (ray==2.60.0)"


class Executor(Protocol):
    """Runs fit tasks and delivers their events, in order per task, to the driver."""

    def execute(self, tasks: Sequence[FitTask], cache: WorkCache, deliver: Deliver) -> None: ...


class LocalExecutor:
    """Runs every task in this process, one after the other, with the result store as its cache.

    Events are delivered as they happen, so each cell is stored as soon as it is computed and
    predictions are committed per batch (nothing is lost on Ctrl-C or ``kill -9``).
    """

    def __init__(self, perturbations: dict[tuple[str, str], Any] | None = None) -> None:
        self._perturbations = perturbations if perturbations is not None else {}

    def execute(self, tasks: Sequence[FitTask], cache: WorkCache, deliver: Deliver) -> None:
        for task in tasks:
            for event in run_fit_task(task, cache, self._perturbations):
                deliver(task, event)


@dataclass(frozen=True, slots=True)
class TaskResources:
    """What one fit task asks the cluster for."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0

    def describe(self) -> str:
        return f"num_cpus={self.num_cpus:g}, num_gpus={self.num_gpus:g}"


def split_resource_params(
    params_by_system: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, float]]]:
    """Separate scheduling resources (``num_cpus``, ``num_gpus``) from system parameters.

    >>> split_resource_params({"direct-transfer": {"backbone": "offline", "num_gpus": 1}})
    ({'direct-transfer': {'backbone': 'offline'}}, {'direct-transfer': {'num_gpus': 1.0}})
    """
    params: dict[str, dict[str, Any]] = {}
    resources: dict[str, dict[str, float]] = {}
    for system, values in params_by_system.items():
        params[system] = {k: v for k, v in values.items() if k not in RESOURCE_PARAMS}
        for key in RESOURCE_PARAMS:
            if key not in values:
                continue
            value = values[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{system}.{key} must be a non-negative number of {key[4:-1].upper()}s; got {value!r}")
            resources.setdefault(system, {})[key] = float(value)
    return params, resources


def declared_resources(task: FitTask, cluster_gpus: float, overrides: Mapping[str, Mapping[str, float]]) -> TaskResources:
    """One CPU; one GPU too when the system declares it benefits from one and the cluster has any.

    ``overrides`` (per system name, from ``--param system.num_gpus=…`` or the suite) win.
    """
    from systems import make_system

    system = make_system(task.system.name, task.system.param_dict, shared=dict(task.manifest.shared_params))
    wants_gpu = bool(getattr(system.tags, "accelerator", False)) and cluster_gpus > 0
    chosen = TaskResources(1.0, 1.0 if wants_gpu else 0.0)
    extra = overrides.get(task.system.name, {})
    return TaskResources(extra.get("num_cpus", chosen.num_cpus), extra.get("num_gpus", chosen.num_gpus))


def shortfall(needed: TaskResources, nodes: Sequence[Mapping[str, float]]) -> str | None:
    """Why no node of the cluster can ever run a task that asks for ``needed``, or None.

    >>> shortfall(TaskResources(1, 1), [{"CPU": 2.0}])
    'asks for num_cpus=1, num_gpus=1 but the largest node has 2 CPU, 0 GPU'
    >>> shortfall(TaskResources(1, 0), [{"CPU": 2.0}]) is None
    True
    """
    for node in nodes:
        if node.get("CPU", 0.0) >= needed.num_cpus and node.get("GPU", 0.0) >= needed.num_gpus:
            return None
    cpus = max((n.get("CPU", 0.0) for n in nodes), default=0.0)
    gpus = max((n.get("GPU", 0.0) for n in nodes), default=0.0)
    return f"asks for {needed.describe()} but the largest node has {cpus:g} CPU, {gpus:g} GPU"


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds when HOST:PORT does not answer (Ray itself keeps retrying for minutes)."""
    import socket

    host, sep, port = address.rpartition(":")
    if address == "auto" or "://" in address or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(
            f"--ray-address {address}: nothing answers there ({exc}); start the head node with `ray start --head --port={port}`"
        ) from None


def import_ray() -> Any:
    """The ``ray`` module, or one clear error naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


@dataclass(frozen=True, slots=True)
class _TaskOutput:
    """What a Ray task sends back: its events, and the cache entries it computed."""

    events: tuple[WorkEvent, ...]
    predictions: Mapping[str, Mapping[str, tuple[str, ...]]]
    blobs: Mapping[str, Any]


def _run_on_worker(task: FitTask, index: int, board: Any) -> _TaskOutput:
    """The body of a Ray task: run one fit task on this worker with a fresh in-memory cache."""
    if board is not None:
        board.started.remote(index)  # fire and forget: only feeds the driver's progress display
    if task.cache_dir is not None:
        # Systems that do not read FitContext.cache_dir (translators' lexicons) read this.
        os.environ["XNER_CACHE_DIR"] = task.cache_dir
    cache = MemoryCache()
    events = tuple(run_fit_task(task, cache))
    return _TaskOutput(events, cache.predictions, cache.blobs)


class _Board:
    """A tiny Ray actor: which tasks have started on a worker (for "running" in the display)."""

    def __init__(self) -> None:
        self._started: set[int] = set()

    def started(self, index: int) -> None:
        self._started.add(index)

    def snapshot(self) -> list[int]:
        return sorted(self._started)


class RayExecutor:
    """Runs fit tasks as Ray tasks; the driver (this process) scores and stores what comes back.

    Args:
        address: ``None`` starts a local Ray instance with this machine's cores (or ``num_cpus``);
            ``"auto"`` or ``HOST:PORT`` joins an existing cluster. If Ray is already initialised
            in this process (tests, notebooks), that instance is used and left running.
        num_cpus: CPUs of a local instance (ignored when joining a cluster).
        resources: per-system overrides, e.g. ``{"direct-transfer": {"num_gpus": 1}}``.
        max_retries: how many times a task whose worker died is retried before its cells fail.
        progress: draw one live table (done / running / failed per system) on the driver.
        report: receives one line per notable event (resource shortfalls, task failures).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        resources: Mapping[str, Mapping[str, float]] | None = None,
        max_retries: int = 3,
        progress: bool = False,
        report: Reporter | None = None,
        poll_seconds: float = 0.5,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.resources = {k: dict(v) for k, v in (resources or {}).items()}
        self.max_retries = max_retries
        self.progress = progress
        self.report = report or (lambda line: None)
        self.poll_seconds = poll_seconds

    def _init(self, ray: Any) -> bool:
        """Connect to (or start) Ray; returns whether this call started it (and must shut it down)."""
        if ray.is_initialized():
            return False
        # Workers must import the same code as the driver: on this machine, hand them the
        # driver's import path; on a cluster, install the same xner-bench on every node.
        env = {k: v for k, v in os.environ.items() if k.startswith(("XNER_", "HF_", "TRANSFORMERS_"))}
        kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if self.address is None:
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
            # address="local": a new instance, never a `ray start` cluster found on this machine.
            kwargs.update(address="local", num_cpus=self.num_cpus, include_dashboard=False)
        else:
            _check_reachable(self.address)
            kwargs["address"] = self.address
        try:
            ray.init(runtime_env={"env_vars": env}, **kwargs)
        except (ConnectionError, RuntimeError) as exc:
            raise ConfigError(f"--ray-address {self.address}: cannot join the Ray cluster ({_first_line(exc)})") from None
        return True

    def execute(self, tasks: Sequence[FitTask], cache: WorkCache, deliver: Deliver) -> None:
        ray = import_ray()
        started_here = self._init(ray)
        try:
            self._execute(ray, tasks, cache, deliver)
        finally:
            if started_here:
                ray.shutdown()

    def _execute(self, ray: Any, tasks: Sequence[FitTask], cache: WorkCache, deliver: Deliver) -> None:
        if not tasks:
            return
        nodes = [dict(n["Resources"]) for n in ray.nodes() if n.get("Alive")]
        cluster_gpus = sum(n.get("GPU", 0.0) for n in nodes)
        remote = ray.remote(_run_on_worker)
        display = _Display(tasks, live=self.progress)
        # Which tasks are running (not queued) only matters to the live table: no actor without it.
        board = ray.remote(num_cpus=0)(_Board).remote() if display.is_live else None
        in_flight: dict[Any, int] = {}
        for index, task in enumerate(tasks):
            needed = declared_resources(task, cluster_gpus, self.resources)
            short = shortfall(needed, nodes)
            if short is not None:
                message = (
                    f"cannot schedule {task.label} on this Ray cluster: it {short}; add a node with these "
                    f"resources or lower them with --param {task.system.name}.num_gpus=… / num_cpus=…"
                )
                self.report(message)
                deliver(task, TaskFailed(message))
                display.fail_rest(index)
                display.finished(index)
                continue
            ref = remote.options(num_cpus=needed.num_cpus, num_gpus=needed.num_gpus, max_retries=self.max_retries).remote(
                task, index, board
            )
            in_flight[ref] = index
        try:
            with display:
                while in_flight:
                    ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=self.poll_seconds)
                    for ref in ready:
                        index = in_flight.pop(ref)
                        self._collect(ray, ref, tasks[index], cache, deliver, display, index)
                    if board is not None:
                        try:
                            display.running(ray.get(board.snapshot.remote(), timeout=5))
                        except Exception:  # noqa: BLE001 - the display is best effort, the results are not
                            pass
        finally:
            # Ctrl-C or an error on the driver: stop what it no longer waits for (a rerun resumes).
            for ref in in_flight:
                ray.cancel(ref, force=True)
            if board is not None:
                ray.kill(board)

    def _collect(self, ray: Any, ref: Any, task: FitTask, cache: WorkCache, deliver: Deliver, display: _Display, index: int) -> None:
        from harness.work import CellNotRun, CellPredicted, FitFailed

        try:
            output = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            message = f"{task.label} failed on a Ray worker: {_first_line(cause)}"
        except ray.exceptions.RayError as exc:
            message = f"{task.label}: the Ray worker died and {self.max_retries} retries did not help ({_first_line(exc)})"
        else:
            # Caches first, so that a driver killed between two cells loses no prediction.
            for fingerprint, items in output.predictions.items():
                cache.cache_predictions(fingerprint, items)
            for key, payload in output.blobs.items():
                cache.put_blob(key, payload)
            for event in output.events:
                deliver(task, event)
                if isinstance(event, CellPredicted):
                    display.cell(index, failed=False)
                elif isinstance(event, CellNotRun):
                    display.cell(index, failed=event.status == "failed")
                elif isinstance(event, FitFailed):
                    display.fail_rest(index)
            display.finished(index)
            return
        self.report(f"FAILED {message}")
        deliver(task, TaskFailed(message))
        display.fail_rest(index)
        display.finished(index)


def _first_line(exc: BaseException) -> str:
    """The worker's message in one line (Ray's wrapped tracebacks end with the original error)."""
    text = str(exc) if isinstance(exc, XnerError) else f"{type(exc).__name__}: {exc}"
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [type(exc).__name__]
    return lines[-1] if "ray::" in lines[0] else lines[0]


class _Display:
    """One live table on the driver: cells done / running / failed / queued per system."""

    def __init__(self, tasks: Sequence[FitTask], *, live: bool) -> None:
        self._tasks = tasks
        self._state = ["queued"] * len(tasks)
        self._done = [0] * len(tasks)
        self._failed = [0] * len(tasks)
        self._live: Any = None
        if live:
            from rich.live import Live

            from harness.console import console

            if console.is_terminal:
                self._live = Live(self._render(), console=console, refresh_per_second=4, transient=False)

    @property
    def is_live(self) -> bool:
        return self._live is not None

    def __enter__(self) -> _Display:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.stop()

    def running(self, indices: Sequence[int]) -> None:
        for index in indices:
            if self._state[index] == "queued":
                self._state[index] = "running"
        self._refresh()

    def cell(self, index: int, *, failed: bool) -> None:
        """One cell of task ``index`` is stored (done or skipped) or failed."""
        if self._state[index] == "queued":
            self._state[index] = "running"
        if failed:
            self._failed[index] += 1
        else:
            self._done[index] += 1
        self._refresh()

    def fail_rest(self, index: int) -> None:
        """Every cell of task ``index`` not yet accounted for failed."""
        self._failed[index] = self._tasks[index].n_cells - self._done[index]
        self._refresh()

    def finished(self, index: int) -> None:
        self._state[index] = "finished"
        self._refresh()

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for i, task in enumerate(self._tasks):
            row = out.setdefault(task.system.name, {"done": 0, "running": 0, "failed": 0, "queued": 0})
            row["done"] += self._done[i]
            row["failed"] += self._failed[i]
            rest = task.n_cells - self._done[i] - self._failed[i]
            if self._state[i] != "finished":
                row[self._state[i]] += rest
        return out

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Any:
        from rich.table import Table

        table = Table("system", "done", "running", "failed", "queued", title=f"Ray: {len(self._tasks)} fit tasks", title_justify="left")
        for system, row in self.counts().items():
            table.add_row(system, str(row["done"]), str(row["running"]), str(row["failed"]), str(row["queued"]))
        return table


def make_executor(
    name: str,
    *,
    address: str | None = None,
    resources: Mapping[str, Mapping[str, float]] | None = None,
    progress: bool = False,
    report: Reporter | None = None,
) -> Executor | None:
    """The executor named on the command line or in a suite (``None`` = the runner's default)."""
    if name not in EXECUTORS:
        raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}; got {name!r}")
    if name == "local":
        if address is not None:
            raise ConfigError("--ray-address needs --executor ray")
        return None
    import_ray()
    return RayExecutor(address, resources=resources, progress=progress, report=report)
