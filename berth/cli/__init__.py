"""The ``berth`` command."""

from __future__ import annotations

from berth.cli.main import main

__all__ = ["main"]
