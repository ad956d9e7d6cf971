"""Notification methods, one module each: ``quay_notification`` (in-app), ``email``,
``webhook``, ``slack``. Flowdock and HipChat, dead services, are refused with a message.

``methods(check_url)`` builds the table the service uses; ``check_url`` validates webhook
and Slack URLs with the deployment's SSRF policy and WEBHOOK_HOSTNAME_BLACKLIST.
"""

from __future__ import annotations

from collections.abc import Callable

from berth.notifications.methods.base import Delivery, DeliveryDeps, Method, masked_url
from berth.notifications.methods.email import EmailMethod
from berth.notifications.methods.quay import QuayNotificationMethod
from berth.notifications.methods.slack import SlackMethod
from berth.notifications.methods.webhook import WebhookMethod

RETIRED = {
    "flowdock": "Flowdock was shut down in 2023: use a webhook or Slack notification instead",
    "hipchat": "HipChat was shut down in 2019: use a webhook or Slack notification instead",
}


def methods(check_url: Callable[..., str]) -> dict[str, Method]:
    table: list[Method] = [
        QuayNotificationMethod(),
        EmailMethod(),
        WebhookMethod(check_url),
        SlackMethod(check_url),
    ]
    return {m.name: m for m in table}


__all__ = ["RETIRED", "Delivery", "DeliveryDeps", "Method", "masked_url", "methods"]
