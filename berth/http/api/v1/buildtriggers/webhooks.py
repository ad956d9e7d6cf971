"""The routes outside ``/api/v1`` that start or create triggers (Quay's ``webhooks`` and
``web`` blueprints):

* ``POST /webhooks/push/trigger/{uuid}`` (at most 25 MiB) (and Quay's older
  ``/webhooks/push/{repo}/trigger/{uuid}``): a push. ``Okay`` when a build started or the
  push builds nothing (a ping, ``[skip build]``, a filtered ref); 403 without the trigger's
  token (``berth.buildtriggers.webhooks``); 404 an unknown trigger; 400 a payload that is
  not one or a disabled trigger (``{"message"}``); 503 read-only.
* ``GET /customtrigger/setup/{repo}``: a new custom git trigger (repository admin, signed
  in), then a redirect to its setup page ``/repository/{repo}/trigger/{uuid}``.
* ``GET /oauth2/{github,gitlab,bitbucket}/callback/trigger/{repo}?code=``: the SCM's OAuth
  callback: the code is exchanged for a token and a trigger created, then the same redirect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import PlainTextResponse, RedirectResponse, Response

from berth.authz import RepoRole
from berth.builds.errors import BuildError, QueueLimitReached
from berth.builds.errors import RepositoryNotNormal as BuildRepositoryNotNormal
from berth.buildtriggers.errors import (
    InvalidTriggerRequest,
    RepositoryNotNormal,
    ServiceUnavailable,
    SourceUnreachable,
    TriggerNotFound,
    WebhookForbidden,
)
from berth.http.api.v1.buildtriggers.routes import admin_repo, answer, triggers
from berth.http.api.v1.errors import AbortError, MessageError, invalid_request
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.http.api.v1.repos.access import require_repo

OKAY = "Okay"


MAX_PAYLOAD_BYTES = 25 * 1024 * 1024  # GitHub's own cap on a webhook payload


async def _read_body(ctx: Ctx) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in ctx.request.stream():
        size += len(chunk)
        if size > MAX_PAYLOAD_BYTES:
            raise MessageError(413, "Payload too large")
        chunks.append(chunk)
    return b"".join(chunks)


async def push(ctx: Ctx) -> Response:
    body = await _read_body(ctx)
    headers = {k.lower(): v for k, v in ctx.request.headers.items()}
    try:
        await triggers(ctx).handle_webhook(ctx.params["trigger_uuid"], headers, body)
    except WebhookForbidden as e:
        raise MessageError(403, "Forbidden") from e
    except TriggerNotFound as e:
        raise MessageError(404, "Not Found") from e
    except RepositoryNotNormal as e:
        raise MessageError(503, e.message) from e
    except (InvalidTriggerRequest, ServiceUnavailable, SourceUnreachable) as e:
        raise MessageError(400, e.message) from e
    except QueueLimitReached as e:
        raise MessageError(429, "Maximum queued build rate exceeded.") from e
    except BuildRepositoryNotNormal as e:
        raise MessageError(503, e.message) from e
    except BuildError as e:
        raise MessageError(400, e.message) from e
    return PlainTextResponse(OKAY)


def _redirect(repo: str, trigger_uuid: str) -> Response:
    return RedirectResponse(f"/repository/{repo}/trigger/{trigger_uuid}", status_code=302)


async def _signed_in_admin(ctx: Ctx) -> tuple[Any, int]:
    user = ctx.caller.user
    if user is None:
        raise AbortError(401, "Unauthorized")
    await require_repo(ctx, RepoRole.ADMIN)
    return await admin_repo(ctx), user.id


async def setup_custom(ctx: Ctx) -> Response:
    repo, user_id = await _signed_in_admin(ctx)
    view = await answer(triggers(ctx).create(repo, "custom-git", connected_user_id=user_id))
    return _redirect(repo.full, view.uuid)


def oauth_callback(service: str) -> Callable[[Ctx], Awaitable[Response]]:
    async def callback(ctx: Ctx) -> Response:
        repo, user_id = await _signed_in_admin(ctx)
        code = ctx.query("code")
        if not code:
            raise invalid_request(ctx.query("error_description") or "Missing OAuth code")
        view = await answer(triggers(ctx).connect(repo, service, code, connected_user_id=user_id))
        return _redirect(repo.full, view.uuid)

    return callback


def routes(api: ApiApp) -> list[ApiRoute]:
    enabled = api.settings.build_triggers.enabled
    outside: dict[str, Any] = {"prefix": "", "csrf": False, "enabled": enabled}
    return [
        ApiRoute(
            "POST",
            "/webhooks/push/trigger/{trigger_uuid}",
            push,
            oauth=False,
            anon_allowed=True,
            **outside,
        ),
        ApiRoute(
            "POST",
            "/webhooks/push/{repository}/trigger/{trigger_uuid}",
            push,
            oauth=False,
            anon_allowed=True,
            **outside,
        ),
        ApiRoute("GET", "/customtrigger/setup/{repository}", setup_custom, **outside),
        *(
            ApiRoute(
                "GET",
                f"/oauth2/{service}/callback/trigger/{{repository}}",
                oauth_callback(service),
                enabled=enabled and api.settings.build_triggers.app(service) is not None,
                prefix="",
                csrf=False,
            )
            for service in ("github", "gitlab", "bitbucket")
        ),
    ]
