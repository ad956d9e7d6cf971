"""Adapters /api/v1 plugs into its hooks: usage-log records and namespace administration.

They open their own unit of work, so the HTTP layer never touches SQL.
"""

from __future__ import annotations

from typing import Any

from berth.audit.services import Performer, record
from berth.db.session import Database
from berth.orgs.services import find_namespace, is_namespace_admin


async def record_usage_log(db: Database, rec: Any) -> None:
    """Write one usage-log record (``rec``: kind, namespace, performer, performer_id, ip,
    metadata) with Quay's log kinds."""
    async with db.write() as s:
        record(
            s,
            rec.kind,
            rec.namespace,
            Performer(rec.performer, rec.performer_id, rec.ip),
            repository=rec.repository,
            metadata=rec.metadata,
        )


async def administers_namespace(db: Database, user_id: int, namespace: str) -> bool:
    """Owner of a user namespace, or in an admin team of an organization."""
    async with db.read() as s:
        ns = await find_namespace(s, namespace)
        return ns is not None and await is_namespace_admin(s, ns, user_id)


async def organization_roles(db: Database, user_id: int) -> list[tuple[str, str | None, str]]:
    """(name, email, strongest team role) of every organization the user is a member of."""
    from sqlalchemy import select

    from berth.accounts.models import Namespace
    from berth.teams.models import Team, TeamMember

    async with db.read() as s:
        rows = (
            await s.execute(
                select(Namespace.name, Namespace.email, Team.role)
                .join(Team, Team.namespace_id == Namespace.id)
                .join(TeamMember, TeamMember.team_id == Team.id)
                .where(TeamMember.user_id == user_id, Namespace.enabled, Namespace.kind == "org")
                .order_by(Namespace.name)
            )
        ).all()
    strongest: dict[str, tuple[str | None, str]] = {}
    order = {"admin": 0, "creator": 1, "member": 2}
    for name, email, role in rows:
        if name not in strongest or order.get(role, 3) < order.get(strongest[name][1], 3):
            strongest[name] = (email, role)
    return [(name, email, role) for name, (email, role) in strongest.items()]
