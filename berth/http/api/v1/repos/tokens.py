"""Quay's legacy repository access tokens, removed: every route answers 410 (Quay 3.x).

The routes stay so that old scripts get Quay's answer (an admin check, then 410 with a
message), not a 404 that reads like a typo in the path.
"""

from __future__ import annotations

from starlette.responses import Response

from berth.authz import RepoRole
from berth.http.api.v1.errors import json_response
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.http.api.v1.repos.access import require_repo

GONE_MESSAGE = "Handling of access tokens is no longer supported"


async def gone(ctx: Ctx) -> Response:
    await require_repo(ctx, RepoRole.ADMIN)
    return json_response({"message": GONE_MESSAGE}, status=410)


def routes(api: ApiApp) -> list[ApiRoute]:
    collection = "/repository/{repository}/tokens/"
    item = "/repository/{repository}/tokens/{code}"
    return [
        ApiRoute(method, path, gone, summary, tag="repositorytoken", scopes=("repo:admin",))
        for method, path, summary in (
            ("GET", collection, "List the tokens for the specified repository."),
            ("POST", collection, "Create a new repository token."),
            ("GET", item, "Fetch the specified repository token information."),
            ("PUT", item, "Update the permissions for the specified repository token."),
            ("DELETE", item, "Delete the repository token."),
        )
    ]
