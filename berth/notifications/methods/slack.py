"""Slack: Quay's message (summary text and one coloured attachment) posted to an incoming
webhook URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from berth.notifications.events import LEVEL_COLORS
from berth.notifications.methods.base import Delivery, DeliveryDeps, check_http_url
from berth.notifications.methods.webhook import post_json


def slack_message(delivery: Delivery, title: str) -> dict[str, Any]:
    data = delivery.data
    summary = delivery.summary
    link = data.get("homepage")
    text = f"<{link}|{summary}>" if link else summary
    return {
        "text": summary,
        "username": title,
        "attachments": [
            {
                "fallback": summary,
                "text": text,
                "color": LEVEL_COLORS.get(delivery.event.level, LEVEL_COLORS["info"]),
                "mrkdwn_in": ["text"],
            }
        ],
    }


class SlackMethod:
    name = "slack"
    secret_keys: tuple[str, ...] = ("url",)

    def __init__(self, check_url: Any = check_http_url) -> None:
        self._check_url = check_url

    def check_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"url": self._check_url(config.get("url"))}

    async def deliver(
        self, delivery: Delivery, config: Mapping[str, Any], deps: DeliveryDeps
    ) -> None:
        body = orjson.dumps(slack_message(delivery, deps.title))
        headers = {"X-Berth-Delivery": delivery.delivery_id}
        await post_json(deps, str(config["url"]), body, headers, "slack")
