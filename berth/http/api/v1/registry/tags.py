"""Tags of a repository: history, create/move, expiration, immutability, delete, restore.

Quay's order of checks on writes: the caller's role (401/403), then a repository that is
not NORMAL (503), then the body, then the repository's existence (404). Registry errors are
translated once, by ``registry_errors``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from starlette.responses import Response

from berth.authz import RepoRole, RepositoryState
from berth.http.api.v1.errors import (
    ApiError,
    ApiProblem,
    MessageError,
    forbidden,
    invalid_request,
    json_response,
    not_found,
)
from berth.http.api.v1.formats import format_date
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.http.api.v1.registry.serializers import tag_view
from berth.http.api.v1.repos.access import RepoAccess, require_repo
from berth.oci.names import is_valid_tag
from berth.registry.errors import (
    ExpirationInvalid,
    LabelImmutable,
    LabelInvalid,
    LabelUnknown,
    ManifestUnknown,
    NameUnknown,
    RegistryError,
    RestoreOutsideWindow,
    TagImmutable,
    TagInvalid,
)
from berth.registry.repositories import RepoRow
from berth.registry.tags import HistoryQuery, NameFilter, TagUpdate

TAG_ERROR = (
    'Invalid tag: must match [A-Za-z0-9_.-], NOT start with "." or "-", '
    "and can contain 1-128 characters"
)
CHANGE_TAG = {
    "type": "object",
    "description": "Makes changes to a specific tag",
    "properties": {
        "manifest_digest": {
            "type": ["string", "null"],
            "description": "(If specified) The manifest digest to which the tag should point",
        },
        "expiration": {
            "type": ["number", "null"],
            "description": "(If specified) The expiration for the image",
        },
        "immutable": {
            "type": "boolean",
            "description": "(If specified) Whether the tag refuses moves, deletion and expiry",
        },
    },
}
RESTORE_TAG = {
    "type": "object",
    "description": "Restores a tag to a specific image",
    "properties": {
        "manifest_digest": {
            "type": "string",
            "description": "If specified, the manifest digest that should be used",
        },
    },
}


# ---- shared with the manifests/labels routes -----------------------------------------------


def _problem(e: RegistryError) -> ApiProblem:
    if isinstance(e, TagImmutable):
        return ApiError("tag_immutable", e.message)
    if isinstance(e, TagInvalid):
        return MessageError(400, TAG_ERROR)
    if isinstance(e, (ExpirationInvalid, LabelInvalid, LabelImmutable)):
        return MessageError(400, e.message)
    if isinstance(e, RestoreOutsideWindow):
        return ApiError("invalid_request", e.message)
    if isinstance(e, (ManifestUnknown, NameUnknown, LabelUnknown)):
        return not_found()
    raise e


@contextlib.contextmanager
def registry_errors() -> Iterator[None]:
    """Translate the registry's domain errors into Quay's answers."""
    try:
        yield
    except RegistryError as e:
        raise _problem(e) from e


async def readable_repo(ctx: Ctx) -> tuple[RepoAccess, RepoRow]:
    """Read permission (public repositories: anyone), then existence."""
    access = await require_repo(ctx, RepoRole.READ)
    row = await ctx.api.svc.registry.find(access.repo)
    if row is None:
        raise not_found()
    return access, row


async def writable_repo(ctx: Ctx) -> tuple[RepoAccess, RepoRow | None]:
    """Write permission, then Quay's ``disallow_for_non_normal_repositories`` (503). The
    repository is None when it doesn't exist: the handler answers 404 after checking its body."""
    access = await require_repo(ctx, RepoRole.WRITE)
    row = await ctx.api.svc.registry.find(access.repo)
    if row is not None and not RepositoryState(row.state).accepts_pushes:
        raise MessageError(503, f"Repository is in read only or mirror mode: {row.state}")
    return access, row


def existing(row: RepoRow | None) -> RepoRow:
    if row is None:
        raise not_found()
    return row


# ---- handlers -----------------------------------------------------------------------------


async def list_tags(ctx: Ctx) -> Response:
    _access, row = await readable_repo(ctx)
    raw_filter = ctx.query("filter_tag_name")
    try:
        name_filter = NameFilter.parse(raw_filter) if raw_filter else None
    except ValueError as e:
        raise MessageError(400, str(e)) from e
    query = HistoryQuery(
        page=ctx.query_int("page", 1) or 1,
        limit=ctx.query_int("limit", 50) or 1,
        specific_tag=ctx.query("specificTag") or None,
        name_filter=name_filter,
        active_only=ctx.query_bool("onlyActiveTags"),
    ).bounded()
    tags, more = await ctx.api.svc.registry.tags.history(row, query)
    with_immutable = ctx.api.settings.registry.tags.immutable_tags
    return json_response(
        {
            "tags": [tag_view(t, with_immutable=with_immutable) for t in tags],
            "page": query.page,
            "has_additional": more,
        }
    )


def _tag_update(ctx: Ctx, access: RepoAccess, body: dict[str, Any]) -> TagUpdate:
    immutable = body.get("immutable")
    if immutable is not None:
        if not ctx.api.settings.registry.tags.immutable_tags:
            raise invalid_request("Tag immutability is not enabled (FEATURE_IMMUTABLE_TAGS)")
        if not immutable and not access.can_admin:
            raise forbidden()  # making a tag mutable again takes an administrator
    if "manifest_digest" in body and body["manifest_digest"] is None:
        raise not_found()  # Quay looks the null digest up, and finds nothing
    return TagUpdate(
        manifest_digest=body.get("manifest_digest"),
        set_expiration="expiration" in body,
        expiration_s=body.get("expiration"),
        immutable=immutable,
    )


async def change_tag(ctx: Ctx) -> Response:
    access, row = await writable_repo(ctx)
    body = await ctx.body(CHANGE_TAG)
    tag = ctx.params["tag"]
    if not is_valid_tag(tag):
        raise MessageError(400, TAG_ERROR)
    repo = existing(row)
    change = _tag_update(ctx, access, body)
    with registry_errors():
        await ctx.api.svc.registry.tags.update(repo, tag, change, performer=ctx.performer())
    return json_response("Updated", 201)


async def delete_tag(ctx: Ctx) -> Response:
    _access, row = await writable_repo(ctx)
    repo = existing(row)
    tag = ctx.params["tag"]
    with registry_errors():
        await ctx.api.svc.registry.tags.delete(
            repo,
            tag,
            skip_recovery=ctx.query_bool("skipRecoveryPeriod"),
            performer=ctx.performer(),
        )
    return Response(status_code=204)


async def restore_tag(ctx: Ctx) -> Response:
    _access, row = await writable_repo(ctx)
    body = await ctx.body(RESTORE_TAG)
    repo = existing(row)
    digest = body.get("manifest_digest")
    if digest is None:
        raise invalid_request("Missing manifest_digest")
    tag = ctx.params["tag"]
    with registry_errors():
        await ctx.api.svc.registry.tags.restore(repo, tag, digest, performer=ctx.performer())
    return json_response({})


async def tag_pull_statistics(ctx: Ctx) -> Response:
    _access, repo = await readable_repo(ctx)
    with registry_errors():
        stats = await ctx.api.svc.registry.pull_stats.tag(repo, ctx.params["tag"])
    return json_response(
        {
            "tag_name": stats.tag,
            "tag_pull_count": stats.tag_pulls.count,
            "last_tag_pull_date": format_date(stats.tag_pulls.last_ms),
            "current_manifest_digest": stats.manifest_digest,
            "manifest_pull_count": stats.manifest_pulls.count,
            "last_manifest_pull_date": format_date(stats.manifest_pulls.last_ms),
        }
    )


def routes(api: ApiApp) -> list[ApiRoute]:
    base = "/repository/{repository}/tag"
    return [
        ApiRoute(
            "GET",
            base + "/{tag}/pull_statistics",
            tag_pull_statistics,
            summary="Pull count and last pull of a tag and of the manifest it points at "
            "(counted within about a second of the pulls).",
            tag="tag",
            scopes=("repo:read",),
            enabled=api.settings.registry.pull_stats,
        ),
        ApiRoute(
            "GET",
            base + "/",
            list_tags,
            summary="List the tags of a repository, with their history (deleted and expired "
            "rows) unless onlyActiveTags.",
            tag="tag",
            scopes=("repo:read",),
            query=(
                Param("specificTag", description="Filters the tags to the specific tag."),
                Param(
                    "filter_tag_name",
                    description="Syntax: <op>:<name> Filters the tag names based on the "
                    "operation. <op> can be 'like' or 'eq'.",
                ),
                Param(
                    "limit",
                    "integer",
                    "Limit to the number of results to return per page. Max 100.",
                ),
                Param("page", "integer", "Page index for the results. Default 1."),
                Param("onlyActiveTags", "boolean", "Filter to only active tags."),
            ),
        ),
        ApiRoute(
            "PUT",
            base + "/{tag}",
            change_tag,
            summary="Create or move a tag, change its expiration or make it immutable.",
            tag="tag",
            scopes=("repo:write",),
            body=CHANGE_TAG,
            body_name="ChangeTag",
        ),
        ApiRoute(
            "DELETE",
            base + "/{tag}",
            delete_tag,
            summary="Delete a tag (it stays restorable within the time-machine window).",
            tag="tag",
            scopes=("repo:write",),
            query=(
                Param(
                    "skipRecoveryPeriod",
                    "boolean",
                    "Tag will be immediately available for garbage collection and not "
                    "recoverable through time machine settings.",
                ),
            ),
        ),
        ApiRoute(
            "POST",
            base + "/{tag}/restore",
            restore_tag,
            summary="Restore a tag to a manifest it pointed at within the time-machine window.",
            tag="tag",
            scopes=("repo:write",),
            body=RESTORE_TAG,
            body_name="RestoreTag",
        ),
    ]
