"""Deterministic fake systems used by runner tests (importable as tests.harness.fake_systems)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from harness.data import Sentence
from systems.base import SystemTags
from systems.gazetteer import GazetteerTagger


class CapitalisedIsPerson:
    """Tags every capitalised token as a one-token PER mention."""

    name = "capitalised"

    def __init__(self, label: str = "PER") -> None:
        self.label = label
        self.calls = 0

    @property
    def tags(self) -> SystemTags:
        return SystemTags(labels=frozenset({self.label}))

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        self.calls += 1
        return [tuple(f"B-{self.label}" if t[:1].isupper() else "O" for t in s.tokens) for s in sentences]


class WrongLength(CapitalisedIsPerson):
    name = "wrong-length"

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        return [tuple("O" for _ in s.tokens[1:]) for s in sentences]


class Raises(CapitalisedIsPerson):
    name = "raises"

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        raise RuntimeError("model exploded")


class InterruptAfter(CapitalisedIsPerson):
    """Raises KeyboardInterrupt on the n-th predict call of the process (simulates Ctrl-C)."""

    name = "interrupt-after"
    budget = {"calls": 0}

    def __init__(self, label: str = "PER", after: int = 3) -> None:
        super().__init__(label)
        self.after = after

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        InterruptAfter.budget["calls"] += 1
        if InterruptAfter.budget["calls"] == self.after:
            raise KeyboardInterrupt
        return super().predict(sentences)


class SlowGazetteer(GazetteerTagger):
    """A gazetteer that sleeps per batch, so a subprocess run can be killed mid-way."""

    def __init__(self, train: str = "conll2003/eng/train", delay: float = 0.3) -> None:
        super().__init__(train=train)
        self.delay = delay

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        time.sleep(self.delay if os.environ.get("XNER_TEST_SLOW") else 0.0)
        return super().predict(sentences)


class ReportsOnFit(CapitalisedIsPerson):
    """A trainable fake that leaves a fit report, as projection systems leave drop counts."""

    name = "reports-on-fit"

    @property
    def tags(self) -> SystemTags:
        return SystemTags(labels=frozenset({self.label}), trainable=True)

    def fit(self, context: object) -> None:
        self.projection_report_ = {"yor": {"total": 10, "kept": 7, "dropped_marker-count": 3}}


class KillsItsWorker(CapitalisedIsPerson):
    """Kills the process it predicts in (a Ray worker) the first ``times`` times it is called.

    Every call appends its pid to ``log``, so a test can see which processes ran it; once ``log``
    holds ``times`` pids the system behaves like :class:`CapitalisedIsPerson`.
    """

    name = "kills-its-worker"

    def __init__(self, label: str = "PER", log: str = "", times: int = 1) -> None:
        super().__init__(label)
        self.log = log
        self.times = times

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        previous = open(self.log, encoding="utf-8").read().split() if os.path.exists(self.log) else []
        with open(self.log, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        if len(previous) < self.times:
            os.kill(os.getpid(), 9)  # SIGKILL: the worker dies mid-task, as on an OOM kill
        return super().predict(sentences)


class SeedDependent(CapitalisedIsPerson):
    """A trainable fake whose fitted output depends on the seed (even: tags names, odd: nothing)."""

    name = "seed-dependent"

    @property
    def tags(self) -> SystemTags:
        return SystemTags(labels=frozenset({self.label}), trainable=True)

    def fit(self, context: object) -> None:
        self.seed_ = getattr(context, "seed")

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        if self.seed_ % 2:
            return [("O",) * len(s.tokens) for s in sentences]
        return super().predict(sentences)


class RetrainedUnderSameParams(CapitalisedIsPerson):
    """A trainable fake whose "trained model" is the text of ``model_file``: each fit reports it as
    its build id, as a real tagger reports the id of the weights it loaded. Every predicted
    sentence's language is appended to ``log``, so a test sees which cells came from the cache."""

    name = "retrained-under-same-params"

    def __init__(self, label: str = "PER", model_file: str = "", log: str = "") -> None:
        super().__init__(label)
        self.model_file = model_file
        self.log = log

    @property
    def tags(self) -> SystemTags:
        return SystemTags(labels=frozenset({self.label}), trainable=True)

    def fit(self, context: object) -> None:
        with open(self.model_file, encoding="utf-8") as handle:
            self.fit_report_ = {"hau": {"model": {"build": handle.read().strip()}}}

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        with open(self.log, "a", encoding="utf-8") as handle:
            handle.writelines(f"{s.lang}\n" for s in sentences)
        return super().predict(sentences)
