"""The worker process that hosts a submitted system: JSON lines on stdin/stdout, nothing pickled.

The parent (:class:`leaderboards.proxy.SubprocessSystem`) starts ``python -m leaderboards.worker``
and sends one JSON object per line; the worker answers each with one JSON object per line:

* ``{"op": "load", "target": ..., "params": {...}}`` → ``{"ok": true, "name", "version", "tags"}``
* ``{"op": "fit", "context": {...}}`` → ``{"ok": true, "report": {...}}`` (the fitted system's
  report, :func:`harness.runner.fit_report`: what it trained and the build ids of the models it loaded)
* ``{"op": "predict", "sentences": [[id, lang, [tokens...]], ...]}`` → ``{"ok": true, "tags": [[...], ...]}``
* ``{"op": "close"}`` → the worker exits.

Failures answer ``{"ok": false, "error": "...", "where": "file:line"}``; the worker stays up.

Submitted code may print to stdout; that would corrupt the protocol, so the worker keeps a private
duplicate of the real stdout for replies and points file descriptor 1 at stderr before importing
anything submitted.

A target is resolved in this order (see :func:`resolve_target`): a path to a ``.py`` file
(optionally ``file.py:Class``), a ``module:Class`` string, or the name of an entry point in the
``xner_bench.systems`` group of an installed package.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from importlib import metadata
from pathlib import Path
from typing import IO, Any

ENTRY_POINT_GROUP = "xner_bench.systems"


def resolve_target(target: str) -> Any:
    """The class or factory named by ``target`` (file path, ``module:Class`` or entry-point name).

    >>> resolve_target("systems.gazetteer:GazetteerTagger").__name__
    'GazetteerTagger'
    """
    from harness.errors import XnerError
    from harness.registry import load_target

    head, sep, tail = target.rpartition(":")
    path_part, attr = (head, tail) if sep and head.endswith(".py") else (target, "")
    if path_part.endswith(".py"):
        path = Path(path_part)
        if not path.is_file():
            raise XnerError(f"system file {path} does not exist")
        spec = importlib.util.spec_from_file_location(f"xner_submitted_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise XnerError(f"cannot import {path} as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        if attr:
            if not hasattr(module, attr):
                raise XnerError(f"{path} defines no {attr!r}")
            return getattr(module, attr)
        # Without an explicit class, take the one class defined in the file that has a predict method.
        candidates = [
            obj for obj in vars(module).values()
            if isinstance(obj, type) and obj.__module__ == module.__name__ and callable(getattr(obj, "predict", None))
        ]
        if len(candidates) != 1:
            names = ", ".join(c.__name__ for c in candidates) or "none"
            raise XnerError(f"{path} must define exactly one class with a predict method (found {names}); use {path}:ClassName")
        return candidates[0]
    if ":" in target:
        return load_target(target)
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name == target:
            return entry_point.load()
    available = sorted(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))
    raise XnerError(
        f"{target!r} is not a .py file, a module:Class target, or an entry point in group {ENTRY_POINT_GROUP} "
        f"(installed entry points: {', '.join(available) or 'none'})"
    )


def _describe(exc: BaseException) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "where": where}


class _Worker:
    def __init__(self) -> None:
        self.system: Any = None

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "load":
            factory = resolve_target(str(request["target"]))
            self.system = factory(**dict(request.get("params") or {}))
            tags = self.system.tags
            return {
                "ok": True,
                "name": str(getattr(self.system, "name", "")),
                "version": str(getattr(self.system, "version", "1")),
                "tags": {
                    "labels": sorted(tags.labels),
                    "languages": None if tags.languages is None else sorted(tags.languages),
                    "deterministic": bool(tags.deterministic),
                    "trainable": bool(tags.trainable),
                },
            }
        if self.system is None:
            return {"ok": False, "error": f"no system loaded before {op!r}", "where": ""}
        if op == "fit":
            from systems.base import FitContext

            ctx = request["context"]
            self.system.fit(
                FitContext(
                    data_dir=Path(ctx["data_dir"]) if ctx.get("data_dir") else None,
                    target_dataset=ctx["target_dataset"],
                    target_languages=tuple(ctx["target_languages"]),
                    seed=int(ctx["seed"]),
                    cache_dir=Path(ctx["cache_dir"]),
                    show_progress=False,
                )
            )
            from harness.runner import fit_report

            return {"ok": True, "report": fit_report(self.system)}
        if op == "predict":
            from harness.data import Sentence

            batch = [Sentence(sid, lang, tuple(tokens), ("O",) * len(tokens)) for sid, lang, tokens in request["sentences"]]
            output = self.system.predict(batch)
            if not isinstance(output, list):
                return {"ok": False, "error": f"predict returned {type(output).__name__}, not a list", "where": ""}
            return {"ok": True, "tags": [[str(t) for t in tags] for tags in output]}
        return {"ok": False, "error": f"unknown op {op!r}", "where": ""}


def serve(requests: IO[str], replies: IO[str]) -> None:
    """Answer requests until ``close`` or end of input."""
    worker = _Worker()
    for line in requests:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if request.get("op") == "close":
                break
            reply = worker.handle(request)
        except Exception as exc:  # noqa: BLE001 - every failure of submitted code is reported, not raised
            reply = _describe(exc)
        replies.write(json.dumps(reply, ensure_ascii=False) + "\n")
        replies.flush()


def main() -> None:
    # Keep the real stdout for replies; anything the submitted code prints goes to stderr.
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin, replies)


if __name__ == "__main__":
    main()
