"""The error hierarchy of xner-bench.

Every message says what is wrong, where (file:line, sentence id or component), what was expected
versus found, and what to do next. Input validation never uses ``assert`` and never signals failure
by returning ``None``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class XnerError(Exception):
    """Base class of every error raised on purpose by xner-bench."""


class DataFormatError(XnerError, ValueError):
    """Malformed input data: a CoNLL file, a predictions file, a tag sequence.

    Args:
        message: what is wrong, expected vs. found.
        path: the file, when the data came from one.
        line: the 1-based line number in ``path``.
        sentence_id: the sentence, when the data is one sentence.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        sentence_id: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.sentence_id = sentence_id
        where = []
        if self.path is not None:
            where.append(self.path if line is None else f"{self.path}:{line}")
        elif line is not None:
            where.append(f"line {line}")
        if sentence_id is not None:
            where.append(f"sentence {sentence_id}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)


class UnknownComponentError(XnerError, KeyError):
    """A registry lookup failed. The message lists close names and everything available."""

    def __init__(self, kind: str, name: str, available: Iterable[str]) -> None:
        names = sorted(available)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        self.kind, self.name, self.available = kind, name, names
        self.text = f"Unknown {kind} {name!r}.{hint} Available: {', '.join(names) or '(none)'}."
        super().__init__(self.text)

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.text


class RegistryCollisionError(XnerError):
    """Two components were registered under the same name."""


class ConformanceError(XnerError, AssertionError):
    """A system or perturbation broke its contract (checked by ``check_system``/``check_perturbation``)."""


class ConfigError(XnerError, ValueError):
    """A suite file, a manifest or a component parameter is invalid."""


class UnsupportedLanguageError(XnerError, ValueError):
    """A component was asked to work on a language or script it does not declare."""


class ModelUnavailableError(XnerError, OSError):
    """A model or dataset could not be loaded: no network and not in the local cache."""


class UntrainedModelError(XnerError):
    """Training ended with a model that clearly did not learn (no steps past warm-up, dev F1 ~ 0).

    Its cells fail with this message: a number from an untrained model is not a result.
    """


class SystemFailure(XnerError):
    """A system raised, or returned output that breaks the predict contract, for one cell."""
