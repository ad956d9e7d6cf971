"""A manifest's page (``/repository/{ns}/{repo}/manifest/{digest}``): platform, layers with
their sizes and the config's history step for each, labels (add and remove the API's),
annotations, and the referrers (signatures, SBOMs, attestations) pointing at it.

The same services and checks as ``GET /api/v1/repository/{r}/manifest/{digest}`` (read),
its ``/labels`` routes (write to change) and the registry's referrers API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response

from berth.http.api.v1.errors import ApiProblem, not_found
from berth.http.api.v1.registry.tags import (
    existing,
    readable_repo,
    registry_errors,
    writable_repo,
)
from berth.http.web.framework import Page, WebApp, WebRoute
from berth.http.web.pages import security
from berth.http.web.pages.repository import repo_from_path
from berth.oci.imageconfig import parse_image_config
from berth.registry.labels import read_small_blob
from berth.registry.repositories import RepoRow

DIGEST = re.compile(r"^[A-Za-z0-9_+.-]+:[A-Fa-f0-9]{32,256}$")
MAX_LABEL_KEY = 255
MAX_LABEL_VALUE = 4096
LABEL_TYPES = ("text/plain", "application/json")

# What a referrer is, from its artifactType (or its config's media type): the kinds cosign,
# notation, syft and the in-toto tools push.
REFERRER_KINDS = (
    ("application/vnd.dev.cosign.artifact.sig", "Signature (cosign)"),
    ("application/vnd.dev.cosign.simplesigning", "Signature (cosign)"),
    ("application/vnd.dev.sigstore.bundle", "Signature (sigstore bundle)"),
    ("application/vnd.cncf.notary.signature", "Signature (notation)"),
    ("application/spdx", "SBOM (SPDX)"),
    ("text/spdx", "SBOM (SPDX)"),
    ("application/vnd.cyclonedx", "SBOM (CycloneDX)"),
    ("application/vnd.syft", "SBOM (syft)"),
    ("application/vnd.in-toto", "Attestation (in-toto)"),
    ("application/vnd.dsse", "Attestation (DSSE)"),
    ("application/vnd.dev.cosign.attestation", "Attestation (cosign)"),
)


def referrer_kind(artifact_type: str) -> str:
    low = artifact_type.lower()
    for prefix, kind in REFERRER_KINDS:
        if low.startswith(prefix):
            return kind
    if "sbom" in low or "spdx" in low or "cyclonedx" in low:
        return "SBOM"
    if "sig" in low:
        return "Signature"
    if "attest" in low or "intoto" in low or "in-toto" in low:
        return "Attestation"
    return "Artifact"


@dataclass(frozen=True)
class Referrer:
    digest: str
    media_type: str
    artifact_type: str
    kind: str
    size: int | None
    annotations: dict[str, str]


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _digest(page: Page) -> str:
    digest = page.params["digest"]
    if not DIGEST.match(digest):
        raise not_found()
    return digest


async def _config(page: Page, doc: dict[str, Any]) -> dict[str, Any]:
    """Platform and creation of an image config (small configs only, as the API reads them)."""
    config = doc.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
        return {}
    raw = await read_small_blob(page.web.api.svc.storage, config["digest"])
    if raw is None:
        return {}
    try:
        parsed = orjson.loads(raw)
        parse_image_config(raw)
    except (orjson.JSONDecodeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _platform(config: dict[str, Any]) -> str | None:
    parts = (config.get("os"), config.get("architecture"), config.get("variant"))
    text = "/".join(str(p) for p in parts if isinstance(p, str) and p)
    return text or None


async def _referrers(page: Page, row: RepoRow, digest: str) -> list[Referrer]:
    items = await page.web.api.svc.registry.manifests.referrers(row, digest, artifact_type=None)
    out = []
    for d in items:
        art = str(d.get("artifactType") or "")
        notes = d.get("annotations") if isinstance(d.get("annotations"), dict) else {}
        out.append(
            Referrer(
                digest=str(d.get("digest", "")),
                media_type=str(d.get("mediaType", "")),
                artifact_type=art or str(d.get("mediaType", "")),
                kind=referrer_kind(art or ""),
                size=d.get("size") if isinstance(d.get("size"), int) else None,
                annotations={str(k): str(v) for k, v in (notes or {}).items()},
            )
        )
    return out


async def manifest_data(page: Page, row: RepoRow, digest: str) -> dict[str, Any]:
    svc = page.web.api.svc.registry
    with registry_errors():
        details = await svc.details.get(row, digest)
        labels = await svc.labels.list(row, digest, prefix=None)
    try:
        doc = orjson.loads(details.content)
    except orjson.JSONDecodeError:
        doc = {}
    doc = doc if isinstance(doc, dict) else {}
    config = {} if details.is_manifest_list else await _config(page, doc)
    children = []
    if details.is_manifest_list:
        for entry in doc.get("manifests") or []:
            if isinstance(entry, dict):
                plat = entry.get("platform") if isinstance(entry.get("platform"), dict) else {}
                children.append(
                    {
                        "digest": str(entry.get("digest", "")),
                        "platform": _platform(plat or {}) or "unknown",
                        "size": entry.get("size"),
                        "media_type": str(entry.get("mediaType", "")),
                    }
                )
    annotations = doc.get("annotations") if isinstance(doc.get("annotations"), dict) else {}
    subject = doc.get("subject") if isinstance(doc.get("subject"), dict) else None
    return {
        "details": details,
        "digest": digest,
        "platform": _platform(config),
        "created": _str_or_none(config.get("created")),
        "artifact_type": doc.get("artifactType")
        if isinstance(doc.get("artifactType"), str)
        else None,
        "subject": str(subject.get("digest", "")) if subject else None,
        "children": children,
        "layers": details.layers or (),
        "labels": labels,
        "annotations": {str(k): str(v) for k, v in (annotations or {}).items()},
        "referrers": await _referrers(page, row, digest),
        "label_types": LABEL_TYPES,
    }


# The manifest page's tabs; Quay's old UI used the same ``?tab=`` names for its security
# scan and package views.
TABS = {"overview": "Overview", "vulnerabilities": "Security report", "packages": "Packages"}


async def manifest_page(page: Page) -> Response:
    repo_from_path(page)
    digest = _digest(page)
    access, row = await readable_repo(page.ctx)
    data = await manifest_data(page, row, digest)
    scanning = security.enabled(page)
    tab = page.query("tab", "overview")
    tab = tab if tab in TABS and (scanning or tab == "overview") else "overview"
    data["tabs"] = TABS if scanning else {}
    data["tab"] = tab
    if tab != "overview":
        data.update(
            await security.manifest_security(
                page,
                digest,
                [layer.digest for layer in data["layers"]],
                fixable_only=page.query("fixable") in ("1", "true", "on"),
            )
        )
        template = "security/report.html"
        if page.is_htmx and page.request.headers.get("hx-target") == "security-report":
            template = "security/_vulnerabilities.html"
        return page.render(
            template,
            **data,
            full_name=f"{row.namespace}/{row.name}",
            base=f"/repository/{row.namespace}/{row.name}",
            can_write=access.can_write,
        )
    return page.render(
        "manifest/manifest.html",
        **data,
        full_name=f"{row.namespace}/{row.name}",
        base=f"/repository/{row.namespace}/{row.name}",
        can_write=access.can_write,
        errors={},
        values={},
    )


async def label_post(page: Page) -> Response:
    """Add a label (``POST .../labels``) or delete one (``delete`` = its id)."""
    repo_from_path(page)
    digest = _digest(page)
    access, found = await writable_repo(page.ctx)
    row = existing(found)
    form = await page.form()
    labels = page.web.api.svc.registry.labels
    performer = page.ctx.performer()
    values = {k: form.get(k, "") for k in ("key", "value", "media_type")}
    errors: dict[str, str] = {}
    if form.get("delete"):
        with registry_errors():
            await labels.delete(row, digest, form["delete"][:64], performer=performer)
        message = "Label deleted."
    else:
        key, value = values["key"].strip(), values["value"]
        media_type = values["media_type"] or "text/plain"
        if not key:
            errors["key"] = "Enter a key."
        elif len(key) > MAX_LABEL_KEY:
            errors["key"] = f"At most {MAX_LABEL_KEY} characters."
        if len(value) > MAX_LABEL_VALUE:
            errors["value"] = f"At most {MAX_LABEL_VALUE} characters."
        if media_type not in LABEL_TYPES:
            errors["media_type"] = "Choose text/plain or application/json."
        if not errors:
            try:
                with registry_errors():
                    labels.check_key(key)
                    await labels.add(row, digest, key, value, media_type, performer=performer)
            except ApiProblem as e:
                if e.status != 400:
                    raise
                errors["key"] = str(e) or "Invalid label"
        message = f"Label {key} added."
    if errors:
        data = await manifest_data(page, row, digest)
        response = page.render(
            "manifest/manifest.html",
            status=400,
            **data,
            tabs=TABS if security.enabled(page) else {},
            tab="overview",
            full_name=f"{row.namespace}/{row.name}",
            base=f"/repository/{row.namespace}/{row.name}",
            can_write=access.can_write,
            errors=errors,
            values=values,
        )
        return response
    page.flash(message)
    return page.redirect(f"/repository/{row.namespace}/{row.name}/manifest/{digest}")


def routes(web: WebApp) -> list[WebRoute]:
    base = "/repository/{repository:repository}/manifest/{digest}"
    return [
        WebRoute(base, manifest_page, signed_in=False),
        WebRoute(base + "/labels", label_post, methods=("POST",)),
    ]
