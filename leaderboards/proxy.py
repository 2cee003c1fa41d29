"""Stand-ins that let the normal :class:`harness.runner.Runner` score submissions.

* :class:`SubprocessSystem` runs submitted code in a worker process (``leaderboards.worker``),
  speaking JSON lines with a time limit per batch. Nothing from the worker is unpickled; a worker
  that hangs is killed and restarted for the next batch.
* :class:`PredictionsSystem` answers ``predict`` from a validated predictions-file submission,
  looked up by the same content hash the runner caches predictions under.

Both are registered into ``systems.SYSTEMS`` at submission time under ``name@version``, so cells,
robustness rows and run manifests are produced by exactly the code path every built-in uses.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.data import Sentence
from harness.errors import SystemFailure, XnerError
from systems.base import FitContext, SystemTags

_LIVE: weakref.WeakSet[SubprocessSystem] = weakref.WeakSet()


def close_all() -> None:
    """Stop every worker still running (called after a submission and at interpreter exit)."""
    for system in list(_LIVE):
        system.close()


atexit.register(close_all)


class SubprocessSystem:
    """A submitted system hosted in a worker process.

    Args:
        name: the leaderboard name (``name@version``).
        target: what the worker imports: a ``.py`` path, ``module:Class`` or an entry-point name.
        version: the submission's version (part of the fingerprint, so caches never mix versions).
        params: keyword arguments for the submitted class.
        batch_timeout: seconds allowed for one ``predict`` batch before the worker is killed.
        fit_timeout: seconds allowed for ``fit``.
        load_timeout: seconds allowed for importing and constructing the system.
        python: interpreter for the worker (default: this one).
        pythonpath: extra import path entries for the worker (prepended to ``PYTHONPATH``).
    """

    version = "1"

    def __init__(
        self,
        name: str,
        target: str,
        version: str = "1",
        params: Mapping[str, Any] | None = None,
        batch_timeout: float = 120.0,
        fit_timeout: float = 3600.0,
        load_timeout: float = 120.0,
        python: str | None = None,
        pythonpath: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.target = target
        self.version = version
        self.params = dict(params or {})
        self.batch_timeout = batch_timeout
        self.fit_timeout = fit_timeout
        self.load_timeout = load_timeout
        self.python = python
        self.pythonpath = tuple(pythonpath)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None
        self._buffer = b""
        self._handshake: dict[str, Any] | None = None
        self._fit_context: dict[str, Any] | None = None
        self.fit_report: dict[str, Any] = {}  # the worker's, after fit (harness.runner.FIT_REPORT_ATTRIBUTES)
        self.projection_report_: dict[str, Any] = {}
        _LIVE.add(self)

    # -- the NERSystem protocol ---------------------------------------------------------------

    @property
    def tags(self) -> SystemTags:
        info = self._ensure()["tags"]
        return SystemTags(
            labels=frozenset(info["labels"]),
            languages=None if info["languages"] is None else frozenset(info["languages"]),
            deterministic=bool(info["deterministic"]),
            trainable=bool(info["trainable"]),
        )

    def fit(self, context: FitContext) -> None:
        self._fit_context = {
            "data_dir": None if context.data_dir is None else str(context.data_dir),
            "target_dataset": context.target_dataset,
            "target_languages": list(context.target_languages),
            "seed": context.seed,
            "cache_dir": str(context.cache_dir),
        }
        self._ensure()
        self._take_fit_report(self._call({"op": "fit", "context": self._fit_context}, self.fit_timeout, "fit"))

    def _take_fit_report(self, reply: Mapping[str, Any]) -> None:
        """Expose the worker's fit report under the attributes the runner reads, so the stored report
        and the prediction cache key (which names the builds of the trained models) are the same as
        for the system run in process."""
        report = reply.get("report")
        if isinstance(report, dict):
            self.fit_report = report.get("fit_report") or {}
            self.projection_report_ = report.get("projection_report") or {}

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        self._ensure()
        reply = self._call(
            {"op": "predict", "sentences": [[s.id, s.lang, list(s.tokens)] for s in sentences]},
            self.batch_timeout,
            f"predict on a batch of {len(sentences)} sentence(s)" + (f" starting at {sentences[0].id}" if sentences else ""),
        )
        tags = reply.get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, list) for t in tags):
            raise SystemFailure(f"{self.name}: worker replied without a list of tag lists")
        return [tuple(t) for t in tags]

    # -- worker management --------------------------------------------------------------------

    def _ensure(self) -> dict[str, Any]:
        if self._proc is not None and self._proc.poll() is None and self._handshake is not None:
            return self._handshake
        self._start()
        assert self._handshake is not None  # set by _start or it raised
        return self._handshake

    def _start(self) -> None:
        self.close()
        env = dict(os.environ)
        extra = [str(Path(p).resolve()) for p in self.pythonpath]
        # The worker must import leaderboards.worker from this checkout even when run from elsewhere.
        here = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join([*extra, here, *filter(None, [env.get("PYTHONPATH")])])
        self._stderr = tempfile.TemporaryFile()
        self._buffer = b""
        self._proc = subprocess.Popen(
            [self.python or sys.executable, "-m", "leaderboards.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            start_new_session=True,  # its own process group: a timeout kills everything it spawned
        )
        reply = self._call({"op": "load", "target": self.target, "params": self.params}, self.load_timeout, "load")
        self._handshake = reply
        if self._fit_context is not None:  # a restarted worker must be as fitted as the one it replaces
            self._take_fit_report(self._call({"op": "fit", "context": self._fit_context}, self.fit_timeout, "fit"))

    def _call(self, request: Mapping[str, Any], timeout: float, what: str) -> dict[str, Any]:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise SystemFailure(f"{self.name}: worker is not running")
        try:
            proc.stdin.write((json.dumps(request, ensure_ascii=False) + "\n").encode())
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise SystemFailure(f"{self.name}: worker exited before {what}; {self._stderr_tail()}") from None
        line = self._readline(timeout)
        if line is None:
            self.close()
            raise SystemFailure(
                f"{self.name}: {what} exceeded the time limit of {timeout:g} s; the worker was stopped "
                "(raise --batch-timeout or use a smaller --batch-size)"
            )
        if not line:
            code = proc.wait()
            self._proc = None
            raise SystemFailure(f"{self.name}: worker exited with code {code} during {what}; {self._stderr_tail()}")
        try:
            reply = json.loads(line)
        except json.JSONDecodeError:
            raise SystemFailure(f"{self.name}: worker sent a line that is not JSON during {what}: {line[:200]!r}") from None
        if not isinstance(reply, dict) or not reply.get("ok"):
            error = reply.get("error") if isinstance(reply, dict) else reply
            where = reply.get("where") if isinstance(reply, dict) else ""
            raise SystemFailure(f"{self.name}: {what} failed in the worker: {error}" + (f" (at {where})" if where else ""))
        return reply

    def _readline(self, timeout: float) -> bytes | None:
        """One reply line; ``b""`` at end of output, ``None`` when the deadline passes."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                if not selector.select(remaining):
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return b""
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return "no stderr captured"
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace").strip()
        tail = "\n".join(text.splitlines()[-8:])
        return f"worker stderr:\n{tail}" if tail else "worker wrote nothing to stderr"

    def close(self) -> None:
        """Stop the worker (politely, then by killing its process group)."""
        proc, self._proc, self._handshake = self._proc, None, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                if proc.stdin is not None:
                    proc.stdin.write(b'{"op": "close"}\n')
                    proc.stdin.flush()
                proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


# --- predictions-file submissions --------------------------------------------------------------

_TABLES: dict[str, Mapping[str, tuple[str, ...]]] = {}


def register_predictions(digest: str, table: Mapping[str, tuple[str, ...]]) -> None:
    """Make a validated prediction table available to :class:`PredictionsSystem` by its digest."""
    _TABLES[digest] = table


class PredictionsSystem:
    """Replays a predictions-file submission.

    Args:
        name: the leaderboard name (``name@version``).
        version: the submission's version.
        predictions_sha256: digest of the validated prediction files (selects the table).
        labels: entity types the submission may output.

    >>> register_predictions("d1", {})
    >>> PredictionsSystem("demo@1", "1", "d1", ("PER",)).tags.labels
    frozenset({'PER'})
    """

    def __init__(self, name: str, version: str, predictions_sha256: str, labels: Sequence[str]) -> None:
        self.name = name
        self.version = version
        self.predictions_sha256 = predictions_sha256
        self.labels = tuple(labels)

    @property
    def tags(self) -> SystemTags:
        return SystemTags(labels=frozenset(self.labels), languages=None, deterministic=True, trainable=False)

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        from harness.runner import sentence_hash

        table = _TABLES.get(self.predictions_sha256)
        if table is None:
            raise XnerError(f"{self.name}: predictions {self.predictions_sha256} are not loaded in this process")
        out = []
        for sentence in sentences:
            tags = table.get(sentence_hash(sentence))
            if tags is None:
                raise SystemFailure(
                    f"{self.name}: the submitted files hold no prediction for sentence {sentence.id} "
                    f"({' '.join(sentence.tokens[:8])}...); re-export the suite with `xner export-suite`"
                )
            out.append(tags)
        return out
