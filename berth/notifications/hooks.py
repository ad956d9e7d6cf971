"""Where events enter: ``notify`` (called in the transaction that caused the event), the
push listener the registry core is given, and the team-invitation listener identity is
given.

``notify(s, event, namespace_id=..., repository_id=..., data=...)`` selects the live
notifications of the repository (or, for namespace events, of the namespace) watching
``event`` (one indexed query: ``ix_notifications_repo_event`` / ``_namespace``), applies
each one's event filter and enqueues one ``deliver_notification`` job per match, each with a
fresh delivery id, in ``s``: the deliveries commit or roll back with their cause. Only Core
statements, so it runs in the push path's ``FastUnit`` too. Producers build ``data`` with
the payload builders of ``berth.notifications.events``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer
from berth.db.base import now_ms
from berth.db.fast import Unit
from berth.identity.teams import InviteInfo
from berth.jobs import enqueue_core
from berth.notifications.events import RepoRef, get_event, repo_push_data
from berth.notifications.models import Notification, UserNotification
from berth.notifications.tasks import (
    DELIVER_NOTIFICATION,
    FAILURE_THRESHOLD,
    SEND_EMAIL,
    DeliverNotification,
    SendEmail,
)
from berth.registry import sql
from berth.registry.cache import NoCache, ReadCache
from berth.registry.repositories import RepoRow

_N = Notification.__table__
_FOR_REPOSITORY = select(_N.c.id, _N.c.event_config).where(
    _N.c.repository_id == bindparam("repository_id"),
    _N.c.event == bindparam("event"),
    _N.c.number_of_failures < FAILURE_THRESHOLD,
)
_FOR_NAMESPACE = select(_N.c.id, _N.c.event_config).where(
    _N.c.namespace_id == bindparam("namespace_id"),
    _N.c.repository_id.is_(None),
    _N.c.event == bindparam("event"),
    _N.c.number_of_failures < FAILURE_THRESHOLD,
)


def new_delivery_id() -> str:
    return str(uuid.uuid4())


async def enqueue_delivery(
    s: Unit, notification_id: int, event: str, data: Mapping[str, Any]
) -> str:
    delivery_id = new_delivery_id()
    await enqueue_core(
        s,
        DELIVER_NOTIFICATION,
        DeliverNotification(
            notification_id, delivery_id, event, {**data, "delivery_id": delivery_id}
        ),
    )
    return delivery_id


async def notify(
    s: Unit,
    event: str,
    *,
    namespace_id: int | None = None,
    repository_id: int | None = None,
    data: Mapping[str, Any],
) -> int:
    """Enqueue the deliveries of ``event`` in ``s``; how many. Repository events need
    ``repository_id``, namespace events (``quota_*``) ``namespace_id``."""
    ev = get_event(event)
    if ev.scope == "namespace":
        if namespace_id is None:
            raise ValueError(f"{event} is a namespace event: pass namespace_id")
        rows = (
            await s.execute(_FOR_NAMESPACE, {"namespace_id": namespace_id, "event": event})
        ).all()
    else:
        if repository_id is None:
            raise ValueError(f"{event} is a repository event: pass repository_id")
        rows = (
            await s.execute(_FOR_REPOSITORY, {"repository_id": repository_id, "event": event})
        ).all()
    sent = 0
    for notification_id, event_config in rows:
        if ev.applies(event_config or {}, data):
            await enqueue_delivery(s, notification_id, event, data)
            sent += 1
    return sent


def cache_key(repository_id: int) -> str:
    """The read-cache key of a repository's live notifications: bumped (``invalidate``)
    after every commit that adds, removes, disables or re-enables one."""
    return f"notifications/{repository_id}"


class PushNotifier:
    """The registry's ``PushListener``: a tag push fires ``repo_push``.

    The ids of a repository's live ``repo_push`` notifications are kept in the read cache
    (generations shared by the server's processes, or Redis), so a push to a repository
    without notifications usually costs no query at all, and at most one indexed lookup.
    """

    def __init__(self, *, host: str, base_url: str, cache: ReadCache[Any] | None = None) -> None:
        self.host = host
        self.base_url = base_url
        self.cache: ReadCache[Any] = cache if cache is not None else NoCache()

    async def _live(self, s: Unit, repository_id: int) -> tuple[int, ...]:
        key = cache_key(repository_id)
        ids: tuple[int, ...] | None = self.cache.get(key, "repo_push")
        if ids is None:
            generation = self.cache.generation(key)
            params = {"repository_id": repository_id, "event": "repo_push"}
            ids = tuple(row[0] for row in (await s.execute(_FOR_REPOSITORY, params)).all())
            self.cache.put(key, "repo_push", ids, generation)
        return ids

    async def tag_pushed(
        self, s: Unit, repo: RepoRow, tag: str, digest: str, performer: Performer | None
    ) -> None:
        ids = await self._live(s, repo.id)
        if not ids:
            return
        data = repo_push_data(RepoRef(repo.namespace, repo.name, self.host, self.base_url), [tag])
        for notification_id in ids:
            await enqueue_delivery(s, notification_id, "repo_push", data)


class InviteNotifier:
    """Identity's ``InviteListener``: an invitation is mailed (with links to accept or
    decline it) and, for an existing user, shown in the bell (Quay's ``org_team_invite``)."""

    def __init__(self, *, mailing: bool, base_url: str) -> None:
        self.mailing = mailing
        self.base_url = base_url

    async def invited(self, s: AsyncSession, invite: InviteInfo, user_id: int | None) -> None:
        link = f"{self.base_url}/confirminvite?code={invite.code}"
        if self.mailing and invite.email:
            await enqueue_core(
                s,
                SEND_EMAIL,
                SendEmail(
                    invite.email,
                    "team_invite",
                    {
                        "org": invite.org,
                        "team": invite.team,
                        "inviter": invite.inviter,
                        "accept_url": link,
                        "decline_url": link + "&decline=true",
                    },
                ),
            )
        if user_id is not None:
            await sql.insert_ignore(
                s,
                UserNotification,
                {
                    "uuid": new_delivery_id(),
                    "user_id": user_id,
                    "organization": invite.org,
                    "kind": "org_team_invite",
                    "meta": {
                        "code": invite.code,
                        "inviter": invite.inviter,
                        "org": invite.org,
                        "teamname": invite.team,
                    },
                    "dismissed": False,
                    "delivery_id": f"invite:{invite.code}",
                    "created_at": now_ms(),
                },
                ["delivery_id", "user_id"],
            )
