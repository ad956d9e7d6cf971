"""The notifications tables: what to tell whom when an event happens, the e-mail addresses
a repository may mail, and the in-app notifications of users (the bell).

A ``Notification`` belongs to a repository (``repository_id``) or, for the namespace
events of quota notifications, to a whole namespace (``repository_id`` NULL). The push path
asks one question of this table per tag push, "has this repository a live ``repo_push``
notification?", answered by ``ix_notifications_repo_event``. Its ``config`` keeps the
method's settings with secrets (URLs, the signing secret) Fernet-encrypted under
``DATABASE_SECRET_KEY`` (keys listed in ``berth.notifications.methods``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from berth.db.base import Base, now_ms


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_repo_event", "repository_id", "event"),
        Index("ix_notifications_namespace", "namespace_id", "repository_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    repository_id: Mapped[int | None] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE")
    )
    event: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(255))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)  # secrets encrypted (see methods)
    event_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    number_of_failures: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[int] = mapped_column(default=now_ms)


class AuthorizedEmail(Base):
    """An address a repository's e-mail notifications may go to, once ``confirmed`` by the
    link sent to it (Quay's RepositoryAuthorizedEmail)."""

    __tablename__ = "authorized_emails"
    __table_args__ = (UniqueConstraint("repository_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    confirmed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[int] = mapped_column(default=now_ms)


class UserNotification(Base):
    """One in-app notification of a user (Quay's bell): ``kind`` is Quay's notification
    kind (``repo_push``, ``org_team_invite``, ...), ``metadata`` its data. ``delivery_id``
    makes a retried delivery write it once."""

    __tablename__ = "user_notifications"
    __table_args__ = (
        UniqueConstraint("delivery_id", "user_id"),
        Index("ix_user_notifications_user", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    dismissed: Mapped[bool] = mapped_column(default=False)
    delivery_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(default=now_ms)


class ExpiryNotice(Base):
    """A tag whose coming expiry a ``repo_image_expiry`` notification already announced
    (each tag once per notification and expiry time)."""

    __tablename__ = "notification_expiry_notices"
    __table_args__ = (UniqueConstraint("notification_id", "tag_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    tag_id: Mapped[int] = mapped_column()
    expires_at: Mapped[int] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
