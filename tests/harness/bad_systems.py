"""Misbehaving third-party systems, run as ``--systems tests.harness.bad_systems:Name``.

Each one breaks the system contract in one way a new user's class might; the harness must answer
each with one clear line (or a failed cell), never a traceback or a silently wrong score.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from harness.data import Sentence
from systems.base import SystemTags
from tests.harness.fake_systems import CapitalisedIsPerson

NOT_A_CLASS = 3


class InitRaises(CapitalisedIsPerson):
    name = "init-raises"

    def __init__(self, label: str = "PER") -> None:
        raise RuntimeError("cannot find my weights")


class NoPredict:
    name = "no-predict"

    @property
    def tags(self) -> SystemTags:
        return SystemTags(labels=frozenset({"PER"}))


class TagsRaise(CapitalisedIsPerson):
    name = "tags-raise"

    @property
    def tags(self) -> SystemTags:
        raise RuntimeError("tags are not ready")


class UndeclaredLabel(CapitalisedIsPerson):
    """Declares PER but predicts B-DATE on capitalised tokens."""

    name = "undeclared-label"

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        return [tuple("B-DATE" if t[:1].isupper() else "O" for t in s.tokens) for s in sentences]


class ExitsInPredict(CapitalisedIsPerson):
    name = "exits-in-predict"

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        sys.exit(0)


class HardExit(CapitalisedIsPerson):
    name = "hard-exit"

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        os._exit(3)


class Sleeps(CapitalisedIsPerson):
    name = "sleeps"

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        time.sleep(3600)
        return super().predict(sentences)
