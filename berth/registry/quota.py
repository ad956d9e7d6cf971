"""The quota check of the registry core: may a push grow its namespace by this much?

The registry does not know quotas (a feature, ``berth.quotas``). The composition root hands
it a ``QuotaGuard`` built over the feature's rules; without one (quota management off) a
push pays nothing. The check runs inside the push's transaction, at the one place where a
namespace's stored size grows (``berth.registry.accounting.manifest_stored``), after the
namespace's new total is known:

- the total comes from the statement that adds the push's exclusive bytes
  (``UPDATE namespaces SET size_bytes = size_bytes + delta ... RETURNING size_bytes``),
  together with the guard's own ``returning`` expressions (the namespace's limits, read by
  scalar subqueries in that same statement: the check costs no extra round trip), so
  the guard sees the committed total of every earlier push plus this one: on PostgreSQL the
  UPDATE waits for any other transaction that updated the row and re-reads it, and holds the
  row until this push commits or rolls back; SQLite runs one writer at a time;
- ``admit`` raises ``QuotaExceeded`` to refuse; the transaction rolls back, so the manifest,
  its tag and its bytes in the totals are gone together (its blobs are left to GC).

So concurrent pushes never jointly take a namespace past a Reject limit: each one is
checked against the total that includes every push committed before its own UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from berth.db.fast import Unit
from berth.registry.errors import QuotaExceeded


class QuotaGuard(Protocol):
    """A namespace's limits as the push path asks them."""

    @property
    def returning(self) -> tuple[Any, ...]:
        """Scalar SQL expressions the namespace's size UPDATE returns after the new size:
        over the updated ``namespaces`` row (its new ``size_bytes``) and the statement's
        ``delta`` parameter (the bytes the push adds). Built once."""
        ...

    async def admit(
        self, s: Unit, namespace_id: int, before: int, after: int, checks: Sequence[Any]
    ) -> None:
        """The push takes the namespace from ``before`` to ``after`` bytes (``after >
        before``); ``checks`` are the values of ``returning``. Raise ``QuotaExceeded`` to
        refuse it; report crossed limits in ``s``."""
        ...

    async def refused(self, exc: QuotaExceeded) -> None:
        """A push was refused and its transaction rolled back: report it (own unit)."""
        ...


__all__ = ["QuotaExceeded", "QuotaGuard"]
