"""Quay's JSON shapes of notifications."""

from __future__ import annotations

from typing import Any

from berth.http.api.v1.formats import format_date
from berth.notifications.services import (
    AuthorizedEmailView,
    NotificationView,
    UserNotificationView,
)


def notification_view(n: NotificationView) -> dict[str, Any]:
    return {
        "uuid": n.uuid,
        "title": n.title,
        "event": n.event,
        "method": n.method,
        "config": n.config,
        "event_config": n.event_config,
        "number_of_failures": n.number_of_failures,
    }


def authorized_email_view(e: AuthorizedEmailView) -> dict[str, Any]:
    return {
        "email": e.email,
        "repository": e.repository,
        "namespace": e.namespace,
        "confirmed": e.confirmed,
        "code": e.code,
    }


def user_notification_view(n: UserNotificationView) -> dict[str, Any]:
    return {
        "id": n.uuid,
        "organization": n.organization,
        "kind": n.kind,
        "created": format_date(n.created_at),
        "metadata": n.metadata,
        "dismissed": n.dismissed,
    }
