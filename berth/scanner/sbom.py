"""A scanned manifest's packages as an SBOM: SPDX 2.3 JSON or CycloneDX 1.5 JSON.

Built from the stored inventory (what the security route reports), not from the
vulnerability data: the image as a root package/component (``pkg:oci`` purl with the
digest), each package with its name, version and purl, the operating system as a
CycloneDX ``operating-system`` component, and each package's layer as a property
(CycloneDX) or comment (SPDX). Deterministic for a given inventory and time.
"""

from __future__ import annotations

import hashlib
import uuid
from importlib import metadata
from typing import Any
from urllib.parse import quote

from packageurl import PackageURL

from berth.scanner.indexer import Inventory
from berth.scanner.packages import Distribution, Package

FORMATS = ("spdx", "cyclonedx")


def _berth_version() -> str:
    try:
        return metadata.version("berth")
    except metadata.PackageNotFoundError:  # a source checkout without the package installed
        return "0+unknown"


__version__ = _berth_version()
SPDX_MEDIA_TYPE = "application/spdx+json"
CYCLONEDX_MEDIA_TYPE = "application/vnd.cyclonedx+json"
_PURL_TYPE = {
    "deb": "deb",
    "apk": "apk",
    "rpm": "rpm",
    "pypi": "pypi",
    "npm": "npm",
    "go": "golang",
}


def purl(pkg: Package, dist: Distribution | None) -> str:
    """The package URL of one package (purl-spec's types; OS packages carry the distro)."""
    qualifiers: dict[str, str] = {}
    namespace: str | None = None
    name, version = pkg.name, pkg.version
    if pkg.kind in ("deb", "apk", "rpm"):
        namespace = dist.did if dist else None
        if pkg.arch:
            qualifiers["arch"] = pkg.arch
        if dist and dist.version_id:
            qualifiers["distro"] = f"{dist.did}-{dist.version_id}"
        if pkg.kind in ("deb", "rpm") and ":" in version:
            epoch, _, version = version.partition(":")
            qualifiers["epoch"] = epoch
        if pkg.source_name and pkg.source_name != pkg.name and pkg.kind != "apk":
            qualifiers["upstream"] = pkg.source_name
    elif pkg.kind == "npm" and name.startswith("@") and "/" in name:
        namespace, _, name = name.partition("/")
    elif pkg.kind == "go" and "/" in name:
        namespace, _, name = name.rpartition("/")
    elif pkg.kind == "maven" and ":" in name:
        namespace, _, name = name.partition(":")
    elif pkg.kind == "pypi":
        name = name.lower().replace("_", "-")
    ptype = _PURL_TYPE.get(pkg.kind, pkg.kind)
    return PackageURL(
        type=ptype, namespace=namespace, name=name, version=version, qualifiers=qualifiers or None
    ).to_string()


def image_purl(repository: str, digest: str, registry: str) -> str:
    name = repository.rsplit("/", 1)[-1]
    return PackageURL(
        type="oci",
        name=name,
        version=digest,
        qualifiers={"repository_url": f"{registry}/{repository}"},
    ).to_string()


def _ref(i: int, pkg: Package) -> str:
    h = hashlib.sha256(f"{pkg.kind}|{pkg.name}|{pkg.version}|{pkg.package_db}".encode())
    return f"{i}-{h.hexdigest()[:12]}"


def spdx(
    inv: Inventory, *, repository: str, digest: str, registry: str, created: str
) -> dict[str, Any]:
    """SPDX 2.3 JSON. ``created``: an ISO 8601 UTC time (``2026-12-07T07:00:00Z``)."""
    root = "SPDXRef-Image"
    packages: list[dict[str, Any]] = [
        {
            "SPDXID": root,
            "name": f"{registry}/{repository}",
            "versionInfo": digest,
            "primaryPackagePurpose": "CONTAINER",
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "checksums": [{"algorithm": "SHA256", "checksumValue": digest.split(":", 1)[-1]}],
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": image_purl(repository, digest, registry),
                }
            ],
        }
    ]
    relationships = [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": root,
        }
    ]
    for i, found in enumerate(inv.packages):
        p = found.package
        sid = f"SPDXRef-Package-{_ref(i, p)}"
        packages.append(
            {
                "SPDXID": sid,
                "name": p.name,
                "versionInfo": p.version,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": False,
                "sourceInfo": f"{p.kind} package found in {p.package_db}"
                if p.package_db
                else f"{p.kind} package",
                "comment": f"layer {found.introduced_in}",
                "externalRefs": [
                    {
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": purl(p, inv.distribution),
                    }
                ],
            }
        )
        relationships.append(
            {"spdxElementId": root, "relationshipType": "CONTAINS", "relatedSpdxElement": sid}
        )
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{repository}@{digest}",
        "documentNamespace": (
            f"https://{registry}/spdx/{quote(repository)}/{digest}/"
            f"{uuid.uuid5(uuid.NAMESPACE_URL, repository + '@' + digest + '@' + created)}"
        ),
        "creationInfo": {"created": created, "creators": [f"Tool: berth-{__version__}"]},
        "packages": packages,
        "relationships": relationships,
    }


def cyclonedx(
    inv: Inventory, *, repository: str, digest: str, registry: str, created: str
) -> dict[str, Any]:
    """CycloneDX 1.5 JSON."""
    image_ref = image_purl(repository, digest, registry)
    components: list[dict[str, Any]] = []
    dist = inv.distribution
    if dist is not None:
        components.append(
            {
                "type": "operating-system",
                "bom-ref": f"os:{dist.did}-{dist.version_id}",
                "name": dist.did,
                "version": dist.version_id,
                "description": dist.pretty_name,
            }
        )
    for i, found in enumerate(inv.packages):
        p = found.package
        components.append(
            {
                "type": "library",
                "bom-ref": _ref(i, p),
                "name": p.name,
                "version": p.version,
                "purl": purl(p, dist),
                "properties": [
                    {"name": "berth:package:type", "value": p.kind},
                    {"name": "berth:layer", "value": found.introduced_in},
                    *(
                        [{"name": "berth:package:db", "value": p.package_db}]
                        if p.package_db
                        else []
                    ),
                ],
            }
        )
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:"
        + str(uuid.uuid5(uuid.NAMESPACE_URL, repository + "@" + digest + "@" + created)),
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {
                "components": [{"type": "application", "name": "berth", "version": __version__}]
            },
            "component": {
                "type": "container",
                "bom-ref": image_ref,
                "name": f"{registry}/{repository}",
                "version": digest,
                "purl": image_ref,
            },
        },
        "components": components,
        "dependencies": [
            {"ref": image_ref, "dependsOn": [c["bom-ref"] for c in components]},
        ],
    }
