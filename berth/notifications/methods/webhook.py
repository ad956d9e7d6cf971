"""Webhook POST: Quay's payload (the event's data) as JSON, or the notification's
``template`` (a JSON document whose ``${path}`` placeholders take the payload's values).

Beyond Quay: every request carries ``X-Berth-Delivery`` (the delivery id, also in the
body as ``delivery_id``) and ``X-Berth-Event``; with a ``secret`` in the config,
``X-Berth-Signature-256: sha256=<hex HMAC-SHA256 of the raw body keyed by the secret>``.
A 2xx answer is a success; anything else, a timeout or a refused destination a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

import orjson

from berth.notifications.errors import DeliveryFailed, InvalidMethodConfig
from berth.notifications.methods.base import Delivery, DeliveryDeps, check_http_url
from berth.outbound import DestinationRefused, OutboundError, Timeouts

TIMEOUTS = Timeouts(connect=5.0, read=10.0, write=10.0, pool=5.0)
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


def _lookup(data: Any, path: str) -> Any:
    value = data
    for part in path.strip().removeprefix("$.").split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def apply_template(template: Any, data: Mapping[str, Any]) -> Any:
    """Replace ``${path}`` in every string of ``template``: a string that is exactly one
    placeholder takes the value itself (any JSON type), others get its text."""
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return _lookup(data, whole.group(1))

        def text(m: re.Match[str]) -> str:
            v = _lookup(data, m.group(1))
            return "" if v is None else v if isinstance(v, str) else orjson.dumps(v).decode()

        return _PLACEHOLDER.sub(text, template)
    if isinstance(template, list):
        return [apply_template(v, data) for v in template]
    if isinstance(template, Mapping):
        return {k: apply_template(v, data) for k, v in template.items()}
    return template


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_json(
    deps: DeliveryDeps, url: str, body: bytes, headers: dict[str, str], what: str
) -> None:
    try:
        response = await deps.client.post(
            url,
            content=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=TIMEOUTS,
            retry=False,
        )
    except DestinationRefused as e:
        raise DeliveryFailed(f"{what}: {e}", permanent=True) from e
    except OutboundError as e:
        raise DeliveryFailed(f"{what}: {e}") from e
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"{what}: the receiver answered {response.status_code}")


class WebhookMethod:
    name = "webhook"
    secret_keys: tuple[str, ...] = ("url", "secret")

    def __init__(self, check_url: Any = check_http_url) -> None:
        self._check_url = check_url

    def check_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self._check_url(config.get("url"))}
        template = config.get("template")
        if template not in (None, ""):
            try:
                parsed = orjson.loads(template) if isinstance(template, str) else template
            except orjson.JSONDecodeError as e:
                raise InvalidMethodConfig(f"Invalid template: not JSON ({e})") from e
            if not isinstance(parsed, dict | list):
                raise InvalidMethodConfig("Invalid template: must be a JSON object or array")
            out["template"] = (
                template if isinstance(template, str) else orjson.dumps(template).decode()
            )
        secret = config.get("secret")
        if secret not in (None, ""):
            if not isinstance(secret, str) or len(secret) < 8:
                raise InvalidMethodConfig("Invalid secret: at least 8 characters")
            out["secret"] = secret
        return out

    async def deliver(
        self, delivery: Delivery, config: Mapping[str, Any], deps: DeliveryDeps
    ) -> None:
        payload: Any = delivery.data
        if config.get("template"):
            payload = apply_template(orjson.loads(config["template"]), delivery.data)
        body = orjson.dumps(payload)
        headers = {
            "X-Berth-Delivery": delivery.delivery_id,
            "X-Berth-Event": delivery.event.name,
        }
        if config.get("secret"):
            headers["X-Berth-Signature-256"] = signature(str(config["secret"]), body)
        await post_json(deps, str(config["url"]), body, headers, "webhook")
