"""Quay notification: an in-app notification (the bell) for a user, the members of a team,
or the administrators of the organization (``target: {kind, name}``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from berth.notifications.errors import InvalidMethodConfig
from berth.notifications.methods.base import Delivery, DeliveryDeps

TARGET_KINDS = ("user", "team", "org")


class QuayNotificationMethod:
    name = "quay_notification"
    secret_keys: tuple[str, ...] = ()

    def check_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        target = config.get("target")
        if not isinstance(target, Mapping):
            raise InvalidMethodConfig("Missing target")
        kind, name = target.get("kind"), target.get("name")
        if kind not in TARGET_KINDS or not isinstance(name, str) or not name:
            raise InvalidMethodConfig("Invalid target: needs kind (user, team or org) and name")
        return {"target": {"kind": kind, "name": name}}

    async def deliver(
        self, delivery: Delivery, config: Mapping[str, Any], deps: DeliveryDeps
    ) -> None:
        await deps.inapp(delivery, config["target"])
