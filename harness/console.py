"""The consoles every ``xner`` command prints through (one place for width and colour rules)."""

from __future__ import annotations

import sys

from rich.console import Console

# Wide enough for score tables when output is piped or captured (rich falls back to 80 columns).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)
