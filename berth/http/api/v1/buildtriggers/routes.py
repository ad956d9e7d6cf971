"""Build triggers (``/repository/{repo}/trigger/...``), Quay's routes and answers:

* list 200 ``{triggers}``; get 200, an unknown uuid 404;
* PUT ``{enabled}`` 200 (400 on a trigger not activated); DELETE 204;
* activate 200 (400 already active or a bad config, a bad tag template with its reason;
  404 unknown pull robot, 403 a robot of another namespace);
* analyze 200 ``{status, ...}``; start 201 with the build and ``Location``;
  ``builds`` 200 ``{builds}``.

All need repository admin. Besides the API: the push webhook
``POST /webhooks/push/trigger/{uuid}`` (``webhooks.py``) and the setup routes that create a
trigger (``GET /customtrigger/setup/{repo}``, the SCMs' OAuth callbacks).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from starlette.responses import Response

from berth.authz import RepoRole, RepositoryState
from berth.builds.errors import (
    BadContext,
    BuildError,
    BuildsDisabled,
    QueueLimitReached,
    RepositoryNotFound,
)
from berth.builds.errors import RepositoryNotNormal as BuildRepositoryNotNormal
from berth.buildtriggers.errors import (
    InvalidTriggerRequest,
    RepositoryNotNormal,
    RobotNotAllowed,
    RobotNotFound,
    ServiceUnavailable,
    SourceUnreachable,
    TriggerNotFound,
)
from berth.buildtriggers.services import BuildTriggerService
from berth.http.api.v1.buildtriggers.serializers import build_view
from berth.http.api.v1.errors import (
    MessageError,
    forbidden,
    invalid_request,
    json_response,
    not_found,
)
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.http.api.v1.repos.access import require_repo
from berth.http.api.v1.trigger_views import trigger_view
from berth.registry.repositories import RepoName

T = TypeVar("T")
ITEM = "/repository/{repository}/trigger/{trigger_uuid}"

UPDATE_BODY = {
    "type": "object",
    "description": "Options for updating a build trigger",
    "required": ["enabled"],
    "properties": {
        "enabled": {"type": "boolean", "description": "Whether the build trigger is enabled"}
    },
}
ACTIVATE_BODY = {
    "type": "object",
    "required": ["config"],
    "properties": {
        "config": {"type": "object", "description": "Arbitrary json."},
        "pull_robot": {
            "type": "string",
            "description": "The name of the robot that will be used to pull images.",
        },
    },
}
ANALYZE_BODY = {
    "type": "object",
    "required": ["config"],
    "properties": {"config": {"type": "object", "description": "Arbitrary json."}},
}
RUN_BODY = {
    "type": "object",
    "description": "Optional run parameters for activating the build trigger",
    "properties": {
        "branch_name": {
            "type": "string",
            "description": "(SCM only) If specified, the name of the branch to build.",
        },
        "commit_sha": {
            "type": "string",
            "description": "(Custom Only) If specified, the ref/SHA1 used to checkout a git "
            "repository.",
        },
        "refs": {
            "type": ["object", "null"],
            "description": "(SCM Only) If specified, the ref to build.",
        },
    },
    "additionalProperties": False,
}


async def answer(call: Awaitable[T]) -> T:
    """Trigger errors as Quay answers them."""
    try:
        return await call
    except TriggerNotFound as e:
        raise not_found() from e
    except RobotNotFound as e:
        raise not_found() from e
    except RobotNotAllowed as e:
        raise forbidden() from e
    except RepositoryNotNormal as e:
        raise MessageError(503, e.message) from e
    except (InvalidTriggerRequest, ServiceUnavailable, SourceUnreachable) as e:
        raise invalid_request(e.message) from e
    except (RepositoryNotFound, BuildsDisabled) as e:
        raise not_found() from e
    except QueueLimitReached as e:
        raise MessageError(429, "Maximum queued build rate exceeded.") from e
    except BuildRepositoryNotNormal as e:
        raise MessageError(503, e.message) from e
    except (BadContext, BuildError) as e:
        raise invalid_request(e.message) from e


async def admin_repo(ctx: Ctx, *, normal: bool = False) -> RepoName:
    """The repository, for its admins; ``normal``: Quay's
    ``disallow_for_non_normal_repositories`` (503 when read-only or mirrored)."""
    access = (await require_repo(ctx, RepoRole.ADMIN)).require_exists()
    state = access.facts.state
    if normal and state != RepositoryState.NORMAL:
        raise MessageError(503, f"Repository is in read only or mirror mode: {state.name}")
    return RepoName(access.repo.namespace, access.repo.name)


async def list_triggers(ctx: Ctx) -> Response:
    repo = await admin_repo(ctx)
    views = await answer(triggers(ctx).list(repo))
    return json_response({"triggers": [trigger_view(v) for v in views]})


async def get_trigger(ctx: Ctx) -> Response:
    repo = await admin_repo(ctx)
    view = await answer(triggers(ctx).get(repo, ctx.params["trigger_uuid"]))
    return json_response(trigger_view(view))


async def update_trigger(ctx: Ctx) -> Response:
    repo = await admin_repo(ctx, normal=True)
    body = await ctx.body(UPDATE_BODY)
    if not isinstance(body.get("enabled"), bool):
        raise invalid_request("enabled: a boolean is required")
    view = await answer(
        triggers(ctx).set_enabled(
            repo, ctx.params["trigger_uuid"], body["enabled"], performer=ctx.performer()
        )
    )
    return json_response(trigger_view(view))


async def delete_trigger(ctx: Ctx) -> Response:
    repo = await admin_repo(ctx, normal=True)
    await answer(triggers(ctx).delete(repo, ctx.params["trigger_uuid"], performer=ctx.performer()))
    return Response(status_code=204)


async def activate_trigger(ctx: Ctx) -> Response:
    repo = await admin_repo(ctx, normal=True)
    body = await ctx.body(ACTIVATE_BODY)
    config = body.get("config")
    if not isinstance(config, dict):
        raise invalid_request("config: an object is required")
    robot = body.get("pull_robot") or None
    if robot is not None:
        user = ctx.caller.user
        if not isinstance(robot, str) or user is None:
            raise invalid_request("pull_robot: a robot name")
        if not await ctx.api.is_namespace_admin(user, robot.split("+", 1)[0]):
            raise forbidden()
    view = await answer(
        triggers(ctx).activate(
            repo,
            ctx.params["trigger_uuid"],
            config,
            pull_robot=robot,
            performer=ctx.performer(),
        )
    )
    return json_response(trigger_view(view))


async def analyze_trigger(ctx: Ctx) -> Response:
    repo = await admin_repo(ctx, normal=True)
    body = await ctx.body(ANALYZE_BODY)
    config = body.get("config")
    if not isinstance(config, dict):
        raise invalid_request("config: an object is required")
    result = await answer(triggers(ctx).analyze(repo, ctx.params["trigger_uuid"], config))
    return json_response(result)


async def start_trigger(ctx: Ctx) -> Response:
    repo = await admin_repo(ctx, normal=True)
    body: dict[str, Any] = await ctx.body(RUN_BODY, optional=True)
    unknown = set(body) - {"branch_name", "commit_sha", "refs"}
    if unknown:
        raise invalid_request(
            f"Additional properties are not allowed ({', '.join(sorted(unknown))})"
        )
    trigger_uuid = ctx.params["trigger_uuid"]
    build = await answer(triggers(ctx).start(repo, trigger_uuid, body, performer=ctx.performer()))
    view = await answer(triggers(ctx).get(repo, trigger_uuid))
    location = f"{ctx.api.base_url}/api/v1/repository/{repo.full}/build/{build.uuid}"
    return json_response(build_view(build, view), 201, headers={"Location": location})


async def trigger_builds(ctx: Ctx) -> Response:
    repo = await admin_repo(ctx)
    trigger_uuid = ctx.params["trigger_uuid"]
    view = await answer(triggers(ctx).get(repo, trigger_uuid))
    limit = ctx.query_int("limit", 5) or 5
    builds = await answer(triggers(ctx).builds_of(repo, trigger_uuid, limit=limit))
    return json_response({"builds": [build_view(b, view) for b in builds]})


def triggers(ctx: Ctx) -> BuildTriggerService:
    svc = ctx.api.svc.build_triggers
    if svc is None:
        raise not_found()
    return svc


def routes(api: ApiApp) -> list[ApiRoute]:
    common: dict[str, Any] = {
        "tag": "trigger",
        "scopes": ("repo:admin",),
        "enabled": api.settings.build_triggers.enabled,
    }
    return [
        ApiRoute(
            "GET",
            "/repository/{repository}/trigger/",
            list_triggers,
            "List the triggers for the specified repository.",
            **common,
        ),
        ApiRoute(
            "GET", ITEM, get_trigger, "Get information for the specified build trigger.", **common
        ),
        ApiRoute(
            "PUT",
            ITEM,
            update_trigger,
            "Updates the specified build trigger.",
            body=UPDATE_BODY,
            body_name="UpdateTrigger",
            **common,
        ),
        ApiRoute("DELETE", ITEM, delete_trigger, "Delete the specified build trigger.", **common),
        ApiRoute(
            "POST",
            ITEM + "/activate",
            activate_trigger,
            "Activate the specified build trigger.",
            body=ACTIVATE_BODY,
            body_name="BuildTriggerActivateRequest",
            **common,
        ),
        ApiRoute(
            "POST",
            ITEM + "/analyze",
            analyze_trigger,
            "Analyze the specified build trigger configuration.",
            body=ANALYZE_BODY,
            body_name="BuildTriggerAnalyzeRequest",
            internal=True,
            **common,
        ),
        ApiRoute(
            "POST",
            ITEM + "/start",
            start_trigger,
            "Manually start a build from the specified trigger.",
            body=RUN_BODY,
            body_name="RunParameters",
            **common,
        ),
        ApiRoute(
            "GET",
            ITEM + "/builds",
            trigger_builds,
            "List the builds started by the specified trigger.",
            query=(Param("limit", "integer", "The maximum number of builds to return"),),
            **common,
        ),
    ]
