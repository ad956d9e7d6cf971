"""The job handlers: deliver one event to one notification, send one e-mail, and sweep the
tags about to expire (``repo_image_expiry``).

A delivery reads its notification (gone or disabled: nothing to do), sends through the
method, and on failure counts it (``number_of_failures``) and raises so the runner retries
after its backoff; a destination the SSRF guard refuses is counted and not retried. The
payload, delivery id included, is fixed when the job is enqueued, so every attempt sends the
same body and a receiver drops duplicates by ``delivery_id``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from berth.authz import TeamRole
from berth.db.base import now_ms
from berth.db.session import Database
from berth.identity.models import Team, TeamMember, User
from berth.jobs import NoPayload
from berth.namespaces.models import ORG_KIND, Namespace
from berth.notifications.errors import DeliveryFailed
from berth.notifications.events import RepoRef, get_event, image_expiry_data
from berth.notifications.hooks import enqueue_delivery
from berth.notifications.mail import Mailer
from berth.notifications.methods import Delivery, DeliveryDeps
from berth.notifications.models import ExpiryNotice, Notification, UserNotification
from berth.notifications.services import NotificationService
from berth.notifications.tasks import FAILURE_THRESHOLD, DeliverNotification, SendEmail
from berth.outbound import OutboundClients
from berth.registry import sql
from berth.registry.models import Repository, Tag

log = logging.getLogger(__name__)
DAY_MS = 86_400_000


async def write_inapp(
    db: Database,
    delivery: Delivery,
    target: Mapping[str, Any],
    namespace_id: int,
) -> None:
    """One in-app notification per user the target names: a user, a team's members, or an
    organization's administrators (the members of its admin teams); robots never."""
    kind, name = target.get("kind"), target.get("name")
    async with db.write() as s:
        ns = await s.get(Namespace, namespace_id)
        if ns is None:
            return
        if kind == "user":
            stmt = select(User.id).where(User.username == name, User.kind == "user")
        elif kind == "team":
            stmt = (
                select(User.id)
                .join(TeamMember, TeamMember.user_id == User.id)
                .join(Team, Team.id == TeamMember.team_id)
                .where(Team.namespace_id == ns.id, Team.name == name, User.kind == "user")
            )
        elif ns.kind == ORG_KIND:
            stmt = (
                select(User.id)
                .join(TeamMember, TeamMember.user_id == User.id)
                .join(Team, Team.id == TeamMember.team_id)
                .where(
                    Team.namespace_id == ns.id,
                    Team.role == TeamRole.ADMIN.value,
                    User.kind == "user",
                )
            )
        else:  # a user's own namespace: its owner
            stmt = select(User.id).where(User.namespace_id == ns.id, User.kind == "user")
        organization = ns.name if kind in ("team", "org") else None
        now = now_ms()
        for user_id in set((await s.execute(stmt)).scalars()):
            await sql.insert_ignore(
                s,
                UserNotification,
                {
                    "uuid": str(uuid.uuid4()),
                    "user_id": user_id,
                    "organization": organization,
                    "kind": delivery.event.name,
                    "meta": delivery.data,
                    "dismissed": False,
                    "delivery_id": delivery.delivery_id,
                    "created_at": now,
                },
                ["delivery_id", "user_id"],
            )


class Deliverer:
    def __init__(
        self,
        db: Database,
        service: NotificationService,
        mailer: Mailer,
        outbound: OutboundClients,
        *,
        title: str,
    ) -> None:
        self.db = db
        self.service = service
        self.mailer = mailer
        self.outbound = outbound
        self.title = title

    async def deliver_notification(self, job: DeliverNotification) -> None:
        async with self.db.read() as s:
            row = (
                await s.execute(select(Notification).where(Notification.id == job.notification_id))
            ).scalar_one_or_none()
        if row is None or row.number_of_failures >= FAILURE_THRESHOLD:
            return
        method = self.service.methods.get(row.method)
        if method is None:
            return
        delivery = Delivery(job.delivery_id, row.uuid, row.title, get_event(job.event), job.data)
        namespace_id = row.namespace_id

        async def inapp(delivery: Delivery, target: Mapping[str, Any]) -> None:
            await write_inapp(self.db, delivery, target, namespace_id)

        deps = DeliveryDeps(self.outbound.client(), self.mailer, inapp, self.title)
        try:
            await method.deliver(delivery, self.service.open(row.config), deps)
        except DeliveryFailed as e:
            await self.service.count_failure(row.id, row.repository_id)
            if e.permanent:
                log.warning("notification %s: %s (not retried)", row.uuid, e)
                return
            raise
        except Exception:
            await self.service.count_failure(row.id, row.repository_id)
            raise
        if row.number_of_failures:
            await self.service.reset_failures(row.id, row.repository_id)

    async def send_email(self, job: SendEmail) -> None:
        if not self.service.settings.mailing:
            return
        await self.mailer.send(job.to, job.template, dict(job.context))

    async def notify_expiring_tags(self, _job: NoPayload) -> int:
        """For each live ``repo_image_expiry`` notification, the tags of its repository that
        expire within its ``days`` and were not announced yet: one delivery listing them."""
        now = now_ms()
        sent = 0
        async with self.db.write() as s:
            rows = (
                await s.execute(
                    select(Notification, Namespace.name, Repository.name)
                    .join(Repository, Repository.id == Notification.repository_id)
                    .join(Namespace, Namespace.id == Repository.namespace_id)
                    .where(
                        Notification.event == "repo_image_expiry",
                        Notification.number_of_failures < FAILURE_THRESHOLD,
                    )
                )
            ).all()
            for n, ns_name, repo_name in rows:
                days = int((n.event_config or {}).get("days", 1))
                noticed = select(ExpiryNotice.id).where(
                    ExpiryNotice.notification_id == n.id,
                    ExpiryNotice.tag_id == Tag.id,
                    ExpiryNotice.expires_at == Tag.end_ts,
                )
                tags = (
                    await s.execute(
                        select(Tag.id, Tag.name, Tag.end_ts)
                        .where(
                            Tag.repository_id == n.repository_id,
                            Tag.hidden.is_(False),
                            Tag.end_ts > now,
                            Tag.end_ts <= now + days * DAY_MS,
                            ~noticed.exists(),
                        )
                        .order_by(Tag.name)
                    )
                ).all()
                if not tags:
                    continue
                for tag_id, _name, end_ts in tags:
                    s.add(ExpiryNotice(notification_id=n.id, tag_id=tag_id, expires_at=end_ts))
                repo = RepoRef(ns_name, repo_name, self.service.host, self.service.base_url)
                data = image_expiry_data(repo, [t[1] for t in tags], days)
                await enqueue_delivery(s, n.id, "repo_image_expiry", data)
                sent += 1
        return sent
