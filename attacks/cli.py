"""`xner` subcommands that belong to the attacks package (registered into harness.cli's app)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main `xner` app."""
