"""``/api/v1/messages``: global messages (quay-api.md, "Global messages")."""

from __future__ import annotations

from starlette.responses import Response

from berth.http.api.v1.errors import json_response
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.messages.services import MEDIA_TYPES, SEVERITIES, MessageService

NEW_MESSAGE = {
    "type": "object",
    "description": "Create a new message",
    "required": ["message"],
    "properties": {
        "message": {
            "type": "object",
            "description": "A single message",
            "required": ["content", "media_type", "severity"],
            "properties": {
                "content": {"type": "string", "description": "The actual message"},
                "media_type": {
                    "type": "string",
                    "description": "The media type of the message",
                    "enum": list(MEDIA_TYPES),
                },
                "severity": {
                    "type": "string",
                    "description": "The severity of the message",
                    "enum": list(SEVERITIES),
                },
            },
        }
    },
}


def _messages(ctx: Ctx) -> MessageService:
    svc = ctx.api.svc.messages
    assert svc is not None  # always built by create_services
    return svc


async def list_messages(ctx: Ctx) -> Response:
    found = await _messages(ctx).list()
    return json_response(
        {
            "messages": [
                {
                    "uuid": m.uuid,
                    "content": m.content,
                    "media_type": m.media_type,
                    "severity": m.severity,
                }
                for m in found
            ]
        }
    )


async def create_message(ctx: Ctx) -> Response:
    ctx.require_superuser()
    body = await ctx.body(NEW_MESSAGE)
    msg = body["message"]
    await _messages(ctx).create(msg["content"], msg["media_type"], msg["severity"])
    return Response(status_code=201)


async def delete_message(ctx: Ctx) -> Response:
    ctx.require_superuser()
    await _messages(ctx).delete(ctx.params["uuid"])
    return Response(status_code=204)


def routes(api: ApiApp) -> list[ApiRoute]:
    superusers = api.settings.api.super_users_enabled
    return [
        ApiRoute(
            "GET", "/messages", list_messages, "Return the system's messages.",
            tag="globalmessages", anon_allowed=True,
        ),
        ApiRoute(
            "POST", "/messages", create_message, "Create a message.", tag="globalmessages",
            scopes=("super:user",), body=NEW_MESSAGE, body_name="CreateMessage",
            enabled=superusers,
        ),
        ApiRoute(
            "DELETE", "/message/{uuid}", delete_message, "Delete a message.",
            tag="globalmessages", scopes=("super:user",), enabled=superusers,
        ),
    ]  # fmt: skip
