"""Usage logs: ``…/logs``, ``…/aggregatelogs`` and ``…/exportlogs`` of repositories,
organizations and the caller's own namespace, the superuser's ``/superuser/logs`` and
``/superuser/aggregatelogs``, and ``/exportedlogs/<token>``, where an export's time-limited
link points.

Quay's rules: repository routes need a repository admin (``require_repo(ctx,
RepoRole.ADMIN)``, then 404 for a missing repository), organization routes an org admin
(a user's own name works too), user routes the caller (``user:admin``), superuser routes a
superuser. Dates are ``MM/DD/YYYY`` (a malformed one is the default), an end before the
start is a 400 ``{"message"}``; an unknown ``performer`` matches nothing. Aggregates need
FEATURE_AGGREGATED_LOG_COUNT_RETRIEVAL, exports FEATURE_LOG_EXPORT (404 when off). The
service (berth.usagelogs) reads the entries and writes the export's usage-log entries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response, StreamingResponse

from berth.authz import RepoRole
from berth.http.api.v1.errors import (
    BAD_REQUEST_MESSAGE,
    NOT_FOUND_MESSAGE,
    MessageError,
    json_response,
    not_found,
)
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.http.api.v1.identity.access import administered_org
from berth.http.api.v1.repos.access import require_repo
from berth.usagelogs.errors import (
    AggregateRangeTooLong,
    ExportTooLarge,
    InvalidDateRange,
    InvalidExport,
    UnknownScope,
)
from berth.usagelogs.services import LogScope, date_range

EXPORT_BODY = {
    "type": "object",
    "description": "Configuration for an export logs operation",
    "properties": {
        "callback_url": {
            "type": "string",
            "description": "The callback URL to invoke with a link to the exported logs",
        },
        "callback_email": {
            "type": "string",
            "description": "The e-mail address at which to e-mail a link to the exported logs",
        },
    },
}
_DATES = (
    Param("starttime", "string", 'Earliest time for logs. Format: "%m/%d/%Y" in UTC.'),
    Param("endtime", "string", 'Latest time for logs. Format: "%m/%d/%Y" in UTC.'),
)
_PERFORMER = (Param("performer", "string", "Username for which to filter logs."),)
_PAGE = (Param("next_page", "string", "The page token for the next page"),)

ScopeOf = Callable[[Ctx], Awaitable[LogScope]]


# ---- whose logs --------------------------------------------------------------------------


async def repo_scope(ctx: Ctx) -> LogScope:
    access = (await require_repo(ctx, RepoRole.ADMIN)).require_exists()
    return LogScope.of_repository(access.repo.namespace, access.repo.name)


async def org_scope(ctx: Ctx) -> LogScope:
    name = ctx.params["orgname"]
    await administered_org(ctx, name)
    return LogScope.of_namespace(name)


async def user_scope(ctx: Ctx) -> LogScope:
    return LogScope.of_namespace(ctx.require_user("user:admin").username, own=True)


async def superuser_scope(ctx: Ctx) -> LogScope:
    ctx.require_superuser()
    return LogScope.everything()


def _span(ctx: Ctx) -> Any:
    try:
        return date_range(ctx.query("starttime"), ctx.query("endtime"))
    except InvalidDateRange as e:
        raise MessageError(400, BAD_REQUEST_MESSAGE) from e  # Quay's bare abort(400)


def _handlers(scope_of: ScopeOf, *, performer: bool) -> dict[str, Callable[[Ctx], Any]]:
    async def list_logs(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        span = _span(ctx)
        try:
            page = await ctx.api.svc.usage_logs.page(
                scope,
                span,
                performer=ctx.query("performer") if performer else None,
                next_page=ctx.query("next_page"),
            )
        except UnknownScope as e:
            raise not_found() from e
        body: dict[str, Any] = {
            "start_time": page.start_time,
            "end_time": page.end_time,
            "logs": page.logs,
        }
        if page.next_page:
            body["next_page"] = page.next_page
        return json_response(body)

    async def aggregate_logs(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        span = _span(ctx)
        try:
            counts = await ctx.api.svc.usage_logs.aggregate(
                scope, span, performer=ctx.query("performer") if performer else None
            )
        except UnknownScope as e:
            raise not_found() from e
        except AggregateRangeTooLong as e:
            raise MessageError(400, e.message) from e
        return json_response({"aggregated": counts})

    async def export_logs(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        body = await ctx.body(EXPORT_BODY)
        try:
            export_id = await ctx.api.svc.usage_logs.queue_export(
                scope,
                ctx.query("starttime"),
                ctx.query("endtime"),
                callback_url=body.get("callback_url"),
                callback_email=body.get("callback_email"),
                performer=ctx.performer(),
            )
        except UnknownScope as e:
            raise not_found() from e
        except (InvalidExport, ExportTooLarge) as e:
            raise MessageError(400, e.message) from e
        return json_response({"export_id": export_id})

    return {"list": list_logs, "aggregate": aggregate_logs, "export": export_logs}


_OWNERS: dict[str, tuple[str, ScopeOf, str, bool]] = {
    "repository": ("/repository/{repository}", repo_scope, "repo:admin", False),
    "organization": ("/organization/{orgname}", org_scope, "org:admin", True),
    "user": ("/user", user_scope, "user:admin", True),
}


async def exported_logs(ctx: Ctx) -> Response:
    """An export's file while its link lives; 404 after (or for a tampered link)."""
    chunks = await ctx.api.svc.usage_logs.exported_file(ctx.params["token"])
    if chunks is None:
        return json_response({"message": NOT_FOUND_MESSAGE}, 404)
    return StreamingResponse(chunks, media_type="application/json")


def routes(api: ApiApp) -> list[ApiRoute]:
    conf = api.settings.usage_logs
    table: list[ApiRoute] = []
    for owner, (base, scope_of, scope, performer) in _OWNERS.items():
        h = _handlers(scope_of, performer=performer)
        q_list = (*_DATES, *(_PERFORMER if performer else ()), *_PAGE)
        q_agg = (*_DATES, *(_PERFORMER if performer else ()))
        table += [
            ApiRoute(
                "GET", f"{base}/logs", h["list"], f"List the logs of the {owner}.",
                tag="logs", scopes=(scope,), query=q_list,
            ),
            ApiRoute(
                "GET", f"{base}/aggregatelogs", h["aggregate"],
                f"Returns the aggregated logs of the {owner}.", tag="logs", scopes=(scope,),
                query=q_agg, enabled=conf.aggregated_counts,
            ),
            ApiRoute(
                "POST", f"{base}/exportlogs", h["export"],
                f"Queues an export of the logs of the {owner}.", tag="logs", scopes=(scope,),
                query=_DATES, body=EXPORT_BODY, body_name="ExportLogs", enabled=conf.log_export,
            ),
        ]  # fmt: skip
    su = _handlers(superuser_scope, performer=True)
    if api.settings.api.super_users_enabled:
        table += [
            ApiRoute(
                "GET", "/superuser/logs", su["list"], "List the usage logs for the system.",
                tag="superuser", scopes=("super:user",), query=(*_DATES, *_PERFORMER, *_PAGE),
            ),
            ApiRoute(
                "GET", "/superuser/aggregatelogs", su["aggregate"],
                "Returns the aggregated logs for the system.", tag="superuser",
                scopes=("super:user",), query=(*_DATES, *_PERFORMER), internal=True,
                enabled=conf.aggregated_counts,
            ),
        ]  # fmt: skip
    table.append(
        ApiRoute(
            "GET", "/exportedlogs/{token}", exported_logs, "An exported logs file.",
            prefix="", csrf=False, oauth=False, internal=True,
        )
    )  # fmt: skip
    return table
