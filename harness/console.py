"""The consoles every ``xner`` command prints through (one place for width and colour rules)."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console

# Wide enough for score tables when output is piped or captured (rich falls back to 80 columns).
# emoji=False: ":x:" in a data file is text, never an emoji (user data is also markup-escaped).
console = Console(highlight=False, emoji=False, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False, emoji=False, width=None if sys.stderr.isatty() else 200)


class ProgressBar:
    """A transient rich progress bar of ``total`` items, or nothing when ``enabled`` is false.

    Rich allows one live display at a time: callers already inside another bar pass ``False``.
    """

    def __init__(self, enabled: bool, description: str, total: int) -> None:
        self._progress: Any = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self._progress = Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
            )
            self._progress.start()
            self._task = self._progress.add_task(description, total=total)

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
