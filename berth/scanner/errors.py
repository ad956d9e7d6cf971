"""What the scanner refuses."""

from __future__ import annotations


class LayerRejected(Exception):
    """A layer the indexer will not index: the reason is stored and shown to operators."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadPackageDatabase(Exception):
    """A package database (dpkg status, apk installed, ...) that does not parse."""


class ImportRefused(Exception):
    """A vulnerability data import that was refused; the loaded database stays as it was."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ScannerUnavailable(Exception):
    """The external scanner (Clair) could not answer: Quay's 520 ``downstream_issue``."""
