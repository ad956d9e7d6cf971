"""``/search?q=``: repositories the caller may read (public ones included) and users whose
name matches, from the same services as ``/api/v1/repository`` and ``/api/v1/entities``."""

from __future__ import annotations

from starlette.responses import Response

from berth.http.api.v1.repos.access import list_viewer
from berth.http.web.framework import Page, WebApp, WebRoute
from berth.repos.services import ListQuery

MAX_QUERY = 255


async def search(page: Page) -> Response:
    q = page.query("q").strip()[:MAX_QUERY]
    repos = []
    users = []
    if q:
        svc = page.web.api.svc
        result = await svc.repos.list_repositories(
            list_viewer(page.ctx), ListQuery(public=True, name_contains=q, last_modified=True)
        )
        repos = sorted(result.repositories, key=lambda r: (r.namespace, r.name))
        if page.user is not None:
            users = [m for m in await svc.orgs.match_users(q.lower()) if not m.is_robot]
    return page.render("search/results.html", q=q, repos=repos, users=users)


def routes(web: WebApp) -> list[WebRoute]:
    return [WebRoute("/search", search, name="search", signed_in=False)]
