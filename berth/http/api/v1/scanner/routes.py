"""Quay's security route: ``GET /repository/{repository}/manifest/{manifestref}/security``.

``{"status": "queued"|"scanned"|"failed"|"unsupported"|"manifest_layer_too_large",
"data": null | {"Layer": {...}}}``; read permission (public repositories: anyone); 404 for an
unknown repository or a manifest not visible in it; 404 altogether with
FEATURE_SECURITY_SCANNER off. Also HTTP Basic with registry credentials (Quay's exception).
``vulnerabilities`` is accepted and, as in Quay's v4 model, does not change the answer
(features always carry their vulnerabilities).
"""

from __future__ import annotations

from starlette.responses import Response

from berth.auth.errors import AuthError
from berth.http.api.v1.errors import (
    forbidden,
    invalid_request,
    json_response,
    not_found,
    requires_auth,
)
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.http.api.v1.registry.manifests import manifest_digest
from berth.http.api.v1.registry.tags import readable_repo, registry_errors
from berth.http.api.v1.repos.access import repo_name
from berth.registry.repositories import RepoRow
from berth.scanner.errors import ScannerUnavailable
from berth.scanner.sbom import CYCLONEDX_MEDIA_TYPE, SPDX_MEDIA_TYPE
from berth.scanner.sbom import FORMATS as SBOM_FORMATS


async def _basic_reader(ctx: Ctx, header: str) -> RepoRow:
    """Quay's one exception to "Basic is ignored by /api/v1": this route takes registry
    credentials (users, robots, ``$app``/``$oauthtoken``), for the Container Security
    Operator, judged as a pull would be."""
    svc = ctx.api.svc
    repo = repo_name(ctx)
    try:
        caller = await svc.auth.caller(header, ip=ctx.actor_ip)
    except AuthError as e:
        raise requires_auth() from e
    if not await svc.auth.allowed(caller, repo, "pull"):
        raise forbidden()
    row = await svc.registry.find(repo)
    if row is None:
        raise not_found()
    return row


async def get_security(ctx: Ctx) -> Response:
    digest = manifest_digest(ctx)
    header = ctx.request.headers.get("authorization", "")
    if ctx.caller.user is None and header[:6].lower() == "basic ":
        repo = await _basic_reader(ctx, header)
    else:
        _access, repo = await readable_repo(ctx)
    with registry_errors():
        await ctx.api.svc.registry.details.get(repo, digest)
    try:
        answer = await ctx.api.svc.scanner.security(digest)
    except ScannerUnavailable:
        # Quay: an API failure of the security scanner is 520 downstream_issue.
        return json_response(
            {
                "status": 520,
                "error_message": "Security scanner endpoint returned an error",
                "title": "downstream_issue",
                "error_type": "downstream_issue",
                "detail": "Security scanner endpoint returned an error",
                "type": "/api/v1/error/downstream_issue",
            },
            status=520,
        )
    return json_response({"status": answer.status, "data": answer.data})


async def get_sbom(ctx: Ctx) -> Response:
    """Beyond Quay: the manifest's packages as an SBOM (``format=spdx|cyclonedx``, SPDX by
    default). 200 with the document once scanned; 202 ``{"status": "queued"}`` before; 409
    ``{"status": ...}`` for a manifest that has no package index (failed, unsupported,
    manifest_layer_too_large)."""
    digest = manifest_digest(ctx)
    fmt = (ctx.request.query_params.get("format") or "spdx").lower()
    if fmt not in SBOM_FORMATS:
        raise invalid_request("format must be spdx or cyclonedx")
    _access, repo = await readable_repo(ctx)
    with registry_errors():
        await ctx.api.svc.registry.details.get(repo, digest)
    status, doc = await ctx.api.svc.scanner.sbom(
        digest,
        fmt,
        repository=f"{repo.namespace}/{repo.name}",
        registry=ctx.api.svc.settings.server_hostname,
    )
    if doc is None:
        body = {"status": status}
        if status != "queued":
            body["error_message"] = f"no SBOM: the manifest's scan is {status}"
        return json_response(body, status=202 if status == "queued" else 409)
    media = SPDX_MEDIA_TYPE if fmt == "spdx" else CYCLONEDX_MEDIA_TYPE
    return json_response(doc, headers={"Content-Type": media})


async def app_capabilities(ctx: Ctx) -> Response:
    """Quay's ``/.well-known/app-capabilities``: where the Container Security Operator finds
    the security route's template."""
    base = ctx.api.base_url
    repo = base + "/api/v1/repository/{namespace}/{reponame}"
    return json_response(
        {
            "appName": "io.quay",
            "capabilities": {
                "io.quay.view-image": {"url-template": base + "/{namespace}/{reponame}:{tag}"},
                "io.quay.image-security": {
                    "rest-api-template": repo + "/image/{imageid}/security",
                    "deprecated": True,
                },
                "io.quay.manifest-security": {
                    "rest-api-template": repo + "/manifest/{digest}/security"
                },
            },
        }
    )


def routes(api: ApiApp) -> list[ApiRoute]:
    return [
        ApiRoute(
            "GET",
            "/.well-known/app-capabilities",
            app_capabilities,
            summary="Quay's application capabilities (the security route's template).",
            prefix="",
            csrf=False,
            oauth=False,
            anon_allowed=True,
        ),
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
            anon_allowed=True,
            enabled=api.settings.scanner.enabled,
        ),
        ApiRoute(
            "GET",
            "/repository/{repository}/manifest/{manifestref}/sbom",
            get_sbom,
            summary="The manifest's packages as an SPDX or CycloneDX SBOM (beyond Quay).",
            tag="manifest",
            scopes=("repo:read",),
            query=(Param("format", "string", "spdx (default) or cyclonedx."),),
            anon_allowed=True,
            enabled=api.settings.scanner.enabled,
        ),
    ]
