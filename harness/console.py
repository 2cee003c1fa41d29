"""The consoles every ``xner`` command prints through (one place for width and colour rules)."""

from __future__ import annotations

import sys

from rich.console import Console

# Wide enough for score tables when output is piped or captured (rich falls back to 80 columns).
# emoji=False: ":x:" in a data file is text, never an emoji (user data is also markup-escaped).
console = Console(highlight=False, emoji=False, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False, emoji=False, width=None if sys.stderr.isatty() else 200)
