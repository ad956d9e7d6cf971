"""Audit errors."""

from __future__ import annotations


class UnknownLogKind(ValueError):
    def __init__(self, kind: str) -> None:
        super().__init__(f"unknown log kind {kind!r}")
        self.kind = kind
