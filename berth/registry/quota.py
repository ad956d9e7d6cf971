"""The quota check of the registry core: may a push grow its namespace by this much?

The registry does not know quotas (a feature, ``berth.quotas``). The composition root hands
it a ``QuotaGuard`` built over the feature's rules; without one (quota management off) a
push pays nothing. The check runs inside the push's transaction, at the one place where a
namespace's stored size grows (``berth.registry.accounting.manifest_stored``), after the
namespace's new total is known:

- the total comes from the statement that adds the push's exclusive bytes
  (``UPDATE namespaces SET size_bytes = size_bytes + delta ... RETURNING size_bytes``), so
  the guard sees the committed total of every earlier push plus this one: on PostgreSQL the
  UPDATE waits for any other transaction that updated the row and re-reads it, and holds the
  row until this push commits or rolls back; SQLite runs one writer at a time;
- ``admit`` raises ``QuotaExceeded`` to refuse; the transaction rolls back, so the manifest,
  its tag and its bytes in the totals are gone together (its blobs are left to GC).

So concurrent pushes never jointly take a namespace past a Reject limit: each one is
checked against the total that includes every push committed before its own UPDATE.
"""

from __future__ import annotations

from typing import Protocol

from berth.db.fast import Unit
from berth.registry.errors import QuotaExceeded


class QuotaGuard(Protocol):
    """A namespace's limits as the push path asks them."""

    async def admit(self, s: Unit, namespace_id: int, before: int, after: int) -> None:
        """The push takes the namespace from ``before`` to ``after`` bytes (``after >
        before``): raise ``QuotaExceeded`` to refuse it; report crossed limits in ``s``.
        At most one indexed read."""
        ...

    async def refused(self, exc: QuotaExceeded) -> None:
        """A push was refused and its transaction rolled back: report it (own unit)."""
        ...


__all__ = ["QuotaExceeded", "QuotaGuard"]
