"""Quay's security route: ``GET /repository/{repository}/manifest/{manifestref}/security``.

``{"status": "queued"|"scanned"|"failed"|"unsupported"|"manifest_layer_too_large",
"data": null | {"Layer": {...}}}``; read permission (public repositories: anyone); 404 for an
unknown repository or a manifest not visible in it; 404 altogether with
FEATURE_SECURITY_SCANNER off. ``vulnerabilities`` is accepted and, as in Quay's v4 model,
does not change the answer (features always carry their vulnerabilities).
"""

from __future__ import annotations

from starlette.responses import Response

from berth.http.api.v1.errors import json_response
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.http.api.v1.registry.manifests import manifest_digest
from berth.http.api.v1.registry.tags import readable_repo, registry_errors


async def get_security(ctx: Ctx) -> Response:
    digest = manifest_digest(ctx)
    _access, repo = await readable_repo(ctx)
    with registry_errors():
        await ctx.api.svc.registry.details.get(repo, digest)
    answer = await ctx.api.svc.scanner.security(digest)
    return json_response({"status": answer.status, "data": answer.data})


def routes(api: ApiApp) -> list[ApiRoute]:
    return [
        ApiRoute(
            "GET",
            "/repository/{repository}/manifest/{manifestref}/security",
            get_security,
            summary="The security scan of a manifest: its packages and their vulnerabilities.",
            tag="manifest",
            scopes=("repo:read",),
            query=(
                Param(
                    "vulnerabilities",
                    "boolean",
                    "Include vulnerabilities information (always included, as in Quay's v4).",
                ),
            ),
            enabled=api.settings.scanner.enabled,
        )
    ]
