"""E-mail: the event's summary and data to one address, which must have been confirmed
for the repository first (the service checks; ``authorizedemail``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from berth.notifications.errors import InvalidMethodConfig
from berth.notifications.methods.base import Delivery, DeliveryDeps

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_email(value: object) -> str:
    if not isinstance(value, str) or not EMAIL.match(value.strip()):
        raise InvalidMethodConfig("Missing or invalid e-mail address")
    return value.strip()


def _fields(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    for key, value in data.items():
        if key == "delivery_id":
            continue
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        out.append((key, text))
    return out


class EmailMethod:
    name = "email"
    secret_keys: tuple[str, ...] = ()

    def check_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"email": check_email(config.get("email"))}

    async def deliver(
        self, delivery: Delivery, config: Mapping[str, Any], deps: DeliveryDeps
    ) -> None:
        await deps.mail.send(
            str(config["email"]),
            "notification",
            {
                "summary": delivery.summary,
                "fields": _fields(delivery.data),
                "notification_title": delivery.notification_title or delivery.event.title,
                "delivery_id": delivery.delivery_id,
            },
        )
