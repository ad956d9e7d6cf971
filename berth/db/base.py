"""Declarative base, naming conventions and time helpers shared by every feature's models."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import BigInteger, Integer, MetaData, Table
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # 64-bit everywhere; on SQLite INTEGER so primary keys alias the rowid and autoincrement.
    type_annotation_map = {int: BigInteger().with_variant(Integer(), "sqlite")}
    if TYPE_CHECKING:
        # Every model maps one table (no mapping to a join or a select).
        __table__: ClassVar[Table]


def now_ms() -> int:
    """Timestamps are stored as integer epoch milliseconds (portable, sortable, Quay-like)."""
    return int(time.time() * 1000)
