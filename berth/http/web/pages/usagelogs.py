"""Usage logs pages: the Logs tab of a repository (``/repository/{ns}/{repo}?tab=logs``),
an organization (``/organization/{org}?tab=logs``) and the signed-in user
(``/user/{name}?tab=logs``), and the superuser's ``/superuser/logs``.

Each shows, for a date range (``start``/``end``, ``YYYY-MM-DD`` from the date pickers, UTC
days, the end day included; a week by default), a chart of actions per day by kind (the
aggregate of ``.../aggregatelogs``, drawn as SVG by ``berth.http.web.chart``), then the
entries newest first, 20 a page as ``.../logs`` pages them (``next_page``), each as a
sentence (``berth.http.web.logkinds``), with the API's ``performer`` filter and a text filter
over the page. The export dialog posts to ``.../exportlogs`` with an e-mail address or a
callback URL and calls the same ``UsageLogService.queue_export`` as
``POST /api/v1/.../exportlogs``.

Who may see what is the API's: the scope functions of ``berth.http.api.v1.usagelogs``
(repository admin, organization admin, the user, a superuser).
"""

from __future__ import annotations

import urllib.parse
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.responses import Response

from berth.http.api.v1.errors import not_found
from berth.http.api.v1.usagelogs.routes import org_scope, repo_scope, user_scope
from berth.http.web import chart
from berth.http.web.framework import Page, Redirect, WebApp, WebRoute
from berth.http.web.logkinds import describe, title
from berth.registry.errors import NameInvalid
from berth.registry.repositories import parse_repo_name
from berth.usagelogs.errors import (
    ExportTooLarge,
    InvalidDateRange,
    InvalidExport,
    UnknownScope,
)
from berth.usagelogs.services import AGGREGATE_MAX, LogScope, date_range

DEFAULT_DAYS = 7
MAX_FILTER = 255


def _mdy(d: date) -> str:
    return d.strftime("%m/%d/%Y")


def _days(page: Page) -> tuple[date, date]:
    """The range the visitor picked (a week up to today by default; swapped if reversed)."""
    today = datetime.now(UTC).date()
    end = chart.parse_day(page.query("end")) or today
    start = chart.parse_day(page.query("start")) or (end - timedelta(days=DEFAULT_DAYS - 1))
    if end < start:
        start, end = end, start
    return start, end


async def logs_data(
    page: Page, scope: LogScope, *, base: str, export_action: str | None, performer: bool = True
) -> dict[str, Any]:
    """What ``usagelogs/_logs.html`` shows for ``scope``. ``base``: the page's URL with its
    tab (the links keep it); ``export_action``: where the export dialog posts (None: no
    export, as for the superuser)."""
    svc = page.web.api.svc.usage_logs
    conf = page.web.api.settings.usage_logs
    first, last = _days(page)
    who = page.query("performer").strip()[:MAX_FILTER] if performer else ""
    text = page.query("filter").strip()[:MAX_FILTER]
    data: dict[str, Any] = {
        "logs_base": base,
        "start": first.isoformat(),
        "end": last.isoformat(),
        "performer": who,
        "filter": text,
        "export_action": export_action if conf.log_export else None,
        "chart": None,
        "chart_note": "",
        "rows": [],
        "next_url": "",
        "first_url": "",
        "show_performer_filter": performer,
    }
    try:
        span = date_range(_mdy(first), _mdy(last))
    except InvalidDateRange:  # pragma: no cover - _days orders the range
        return data
    try:
        logs = await svc.page(scope, span, performer=who or None, next_page=page.query("next_page"))
        if not conf.aggregated_counts:
            data["chart_note"] = "The chart is off (FEATURE_AGGREGATED_LOG_COUNT_RETRIEVAL)."
        elif span.end - span.start >= AGGREGATE_MAX:
            data["chart_note"] = "The chart covers at most four weeks: choose a shorter range."
        else:
            counts = await svc.aggregate(scope, span, performer=who or None)
            data["chart"] = chart.build(counts, first, last)
    except UnknownScope:
        return data
    rows = []
    needle = text.lower()
    for view in logs.logs:
        row = {
            "kind": view["kind"],
            "title": title(view["kind"]),
            "description": describe(view),
            "datetime": view["datetime"],
            "performer": (view.get("performer") or {}).get("name", ""),
            "ip": view.get("ip") or "",
        }
        haystack = f"{row['description']} {row['title']} {row['kind']} {row['ip']}".lower()
        if needle and needle not in haystack:
            continue
        rows.append(row)
    data["rows"] = rows
    data["page_had_entries"] = bool(logs.logs)
    keep = {"start": data["start"], "end": data["end"]}
    if who:
        keep["performer"] = who
    if text:
        keep["filter"] = text
    sep = "&" if "?" in base else "?"
    data["first_url"] = base + sep + urllib.parse.urlencode(keep)
    if logs.next_page:
        data["next_url"] = (
            base + sep + urllib.parse.urlencode({**keep, "next_page": logs.next_page})
        )
    data["paged"] = bool(page.query("next_page"))
    return data


async def repository_logs(page: Page, namespace: str, name: str) -> dict[str, Any]:
    base = f"/repository/{namespace}/{name}"
    return await logs_data(
        page,
        await repo_scope(page.ctx),
        base=f"{base}?tab=logs",
        export_action=f"{base}/exportlogs",
        performer=False,
    )


async def organization_logs(page: Page, org: str) -> dict[str, Any]:
    page.ctx.params["orgname"] = org
    return await logs_data(
        page,
        await org_scope(page.ctx),
        base=f"/organization/{org}?tab=logs",
        export_action=f"/organization/{org}/exportlogs",
    )


async def user_logs(page: Page, username: str) -> dict[str, Any]:
    return await logs_data(
        page,
        await user_scope(page.ctx),
        base=f"/user/{username}?tab=logs",
        export_action=f"/user/{username}/exportlogs",
    )


# ------------------------------------------------------------------------------ pages


async def superuser_logs(page: Page) -> Response:
    page.ctx.require_superuser(fresh=False)  # as the panel: reading needs no fresh sign-in
    data = await logs_data(page, LogScope.everything(), base="/superuser/logs", export_action=None)
    return page.render("usagelogs/superuser.html", logs=data)


async def my_logs(page: Page) -> Response:
    """The sidebar's "Usage logs": the signed-in user's own logs."""
    user = page.require_user()
    return page.redirect(f"/user/{user.username}?tab=logs")


async def _export(page: Page, scope: LogScope, back: str) -> Response:
    form = await page.form()
    first = chart.parse_day(form.get("start", "")) or datetime.now(UTC).date()
    last = chart.parse_day(form.get("end", "")) or datetime.now(UTC).date()
    back_url = f"{back}&" + urllib.parse.urlencode(
        {"start": first.isoformat(), "end": last.isoformat()}
    )
    method = form.get("method", "email")
    email = form.get("callback_email", "").strip()[:MAX_FILTER] if method == "email" else ""
    url = form.get("callback_url", "").strip()[:2048] if method == "url" else ""
    if not email and not url:
        page.flash("Give an e-mail address or a callback URL for the export.", "danger")
        raise Redirect(back_url)
    try:
        export_id = await page.web.api.svc.usage_logs.queue_export(
            scope,
            _mdy(first),
            _mdy(last),
            callback_url=url or None,
            callback_email=email or None,
            performer=page.ctx.performer(),
        )
    except (InvalidExport, ExportTooLarge) as e:
        page.flash(e.message, "danger")
        raise Redirect(back_url) from e
    target = f"an e-mail to {email}" if email else f"a call to {url}"
    page.flash(f"Logs export {export_id} started: a link to the file follows in {target}.")
    return page.redirect(back_url)


async def export_repository(page: Page) -> Response:
    try:
        repo = parse_repo_name(page.params["repository"], library=None)
    except NameInvalid as e:
        raise not_found() from e
    page.ctx.params["repository"] = f"{repo.namespace}/{repo.name}"
    return await _export(
        page, await repo_scope(page.ctx), f"/repository/{repo.namespace}/{repo.name}?tab=logs"
    )


async def export_organization(page: Page) -> Response:
    org = page.params["org"]
    page.ctx.params["orgname"] = org
    return await _export(page, await org_scope(page.ctx), f"/organization/{org}?tab=logs")


async def export_user(page: Page) -> Response:
    user = page.require_user()
    if page.params["name"] != user.username:
        raise Redirect(f"/user/{user.username}?tab=logs")
    return await _export(page, await user_scope(page.ctx), f"/user/{user.username}?tab=logs")


def routes(web: WebApp) -> list[WebRoute]:
    conf = web.api.settings.usage_logs
    post = ("POST",)
    export = conf.log_export
    repo = "/repository/{repository:repository}"
    return [
        WebRoute("/usagelogs", my_logs),
        WebRoute(
            "/superuser/logs", superuser_logs, enabled=web.api.settings.api.super_users_enabled
        ),
        WebRoute("/organization/{org}/exportlogs", export_organization, post, enabled=export),
        WebRoute("/user/{name}/exportlogs", export_user, post, enabled=export),
        WebRoute(repo + "/exportlogs", export_repository, post, enabled=export),
    ]
