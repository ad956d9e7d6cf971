"""A repository's manifests by digest, and their labels.

Only manifests visible in the repository (a live tag points at them or at an index listing
them) are found; a reference that is not a digest is not a route at all (404), as in Quay.
"""

from __future__ import annotations

import re

from starlette.responses import Response

from berth.http.api.v1.errors import NOT_FOUND_MESSAGE, MessageError, json_response
from berth.http.api.v1.formats import format_date
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.http.api.v1.registry.serializers import label_view, manifest_view
from berth.http.api.v1.registry.tags import existing, readable_repo, registry_errors, writable_repo

_DIGEST = re.compile(r"^[A-Za-z0-9_+.-]+:[A-Fa-f0-9]+$")
ADD_LABEL = {
    "type": "object",
    "description": "Adds a label to a manifest",
    "required": ["key", "value", "media_type"],
    "properties": {
        "key": {"type": "string", "description": "The key for the label"},
        "value": {"type": "string", "description": "The value for the label"},
        "media_type": {
            "type": ["string", "null"],
            "description": "The media type for this label",
            "enum": ["text/plain", "application/json", None],
        },
    },
}


def manifest_digest(ctx: Ctx) -> str:
    digest = ctx.params["manifestref"]
    if not _DIGEST.match(digest):
        raise MessageError(404, NOT_FOUND_MESSAGE)
    return digest


async def get_manifest(ctx: Ctx) -> Response:
    digest = manifest_digest(ctx)
    _access, repo = await readable_repo(ctx)
    with registry_errors():
        details = await ctx.api.svc.registry.details.get(repo, digest)
    return json_response(manifest_view(details))


async def list_labels(ctx: Ctx) -> Response:
    digest = manifest_digest(ctx)
    _access, repo = await readable_repo(ctx)
    with registry_errors():
        labels = await ctx.api.svc.registry.labels.list(
            repo, digest, prefix=ctx.query("filter") or None
        )
    return json_response({"labels": [label_view(label) for label in labels]})


async def add_label(ctx: Ctx) -> Response:
    digest = manifest_digest(ctx)
    _access, row = await writable_repo(ctx)
    body = await ctx.body(ADD_LABEL)
    service = ctx.api.svc.registry.labels
    with registry_errors():
        service.check_key(body["key"])
        repo = existing(row)
        label = await service.add(
            repo,
            digest,
            body["key"],
            body["value"],
            body["media_type"],
            performer=ctx.performer(),
        )
    location = (
        f"/api/v1/repository/{repo.namespace}/{repo.name}/manifest/{digest}/labels/{label.id}"
    )
    return json_response({"label": label_view(label)}, 201, {"Location": location})


async def get_label(ctx: Ctx) -> Response:
    digest = manifest_digest(ctx)
    _access, repo = await readable_repo(ctx)
    with registry_errors():
        label = await ctx.api.svc.registry.labels.get(repo, digest, ctx.params["labelid"])
    return json_response(label_view(label))


async def delete_label(ctx: Ctx) -> Response:
    digest = manifest_digest(ctx)
    _access, row = await writable_repo(ctx)
    repo = existing(row)
    with registry_errors():
        await ctx.api.svc.registry.labels.delete(
            repo, digest, ctx.params["labelid"], performer=ctx.performer()
        )
    return Response(status_code=204)


async def manifest_pull_statistics(ctx: Ctx) -> Response:
    digest = manifest_digest(ctx)
    _access, repo = await readable_repo(ctx)
    with registry_errors():
        pulls = await ctx.api.svc.registry.pull_stats.manifest(repo, digest)
    return json_response(
        {
            "manifest_digest": digest,
            "manifest_pull_count": pulls.count,
            "last_manifest_pull_date": format_date(pulls.last_ms),
        }
    )


def routes(api: ApiApp) -> list[ApiRoute]:
    base = "/repository/{repository}/manifest/{manifestref}"
    labels = base + "/labels"
    return [
        ApiRoute(
            "GET",
            base + "/pull_statistics",
            manifest_pull_statistics,
            summary="Pull count and last pull of a manifest, by tag or by digest.",
            tag="manifest",
            scopes=("repo:read",),
            enabled=api.settings.registry.pull_stats,
        ),
        ApiRoute(
            "GET",
            base,
            get_manifest,
            summary="A manifest of the repository by digest, with its layers.",
            tag="manifest",
            scopes=("repo:read",),
            query=(Param("include_modelcard", "boolean", "Ignored: Berth has no model cards."),),
        ),
        ApiRoute(
            "GET",
            labels,
            list_labels,
            summary="The labels of a manifest.",
            tag="manifest",
            scopes=("repo:read",),
            query=(
                Param(
                    "filter",
                    description="If specified, only labels matching the given prefix will be "
                    "returned",
                ),
            ),
        ),
        ApiRoute(
            "POST",
            labels,
            add_label,
            summary="Add a label to a manifest.",
            tag="manifest",
            scopes=("repo:write",),
            body=ADD_LABEL,
            body_name="AddLabel",
        ),
        ApiRoute(
            "GET",
            labels + "/{labelid}",
            get_label,
            summary="One label of a manifest.",
            tag="manifest",
            scopes=("repo:read",),
        ),
        ApiRoute(
            "DELETE",
            labels + "/{labelid}",
            delete_label,
            summary="Delete a label added through the API (labels from the image cannot be).",
            tag="manifest",
            scopes=("repo:write",),
        ),
    ]
