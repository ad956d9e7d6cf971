"""Merge a manifest's layers into an inventory: the distribution and the installed packages,
each with the layer that introduced it.

The merged view holds only the kept files (see ``layers``); each layer first applies its
whiteouts and opaque directories to what lies below, then adds its own files. After each
layer the packages are read from the view; a package's ``introduced_in`` is the lowest layer
from which it is present without a gap up to the top, so a package removed by a later layer
is not reported and one upgraded later is reported at its new version and layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from berth.scanner import packages as P
from berth.scanner.layers import LayerFiles


@dataclass(frozen=True, slots=True)
class Found:
    package: P.Package
    introduced_in: str


@dataclass(slots=True)
class Inventory:
    distribution: P.Distribution | None = None
    packages: list[Found] = field(default_factory=list)


def _apply(view: dict[str, bytes], layer: LayerFiles) -> None:
    for d in layer.opaque:
        prefix = d + "/" if d else ""
        for p in [p for p in view if p.startswith(prefix)]:
            del view[p]
    for w in layer.whiteouts:
        for p in [p for p in view if p == w or p.startswith(w + "/")]:
            del view[p]
    view.update(layer.files)


def _distribution(view: dict[str, bytes]) -> P.Distribution | None:
    for path in ("etc/os-release", "usr/lib/os-release"):
        if path in view:
            return P.parse_os_release(view[path])
    return None


def _packages(view: dict[str, bytes]) -> list[P.Package]:
    out: list[P.Package] = []
    for path in sorted(view):
        data = view[path]
        if path == "var/lib/dpkg/status":
            out.extend(P.parse_dpkg_status(data, path))
        elif path.startswith("var/lib/dpkg/status.d/"):
            if not path.endswith((".md5sums", ".md5")):
                out.extend(P.parse_dpkg_status_d(data, path))
        elif path == "lib/apk/db/installed":
            out.extend(P.parse_apk_installed(data, path))
        elif path.endswith("/" + P.GO_MARKER):
            out.extend(P.parse_go_buildinfo(data, path[: -len(P.GO_MARKER) - 1]))
        elif path.endswith("/rpmdb.sqlite"):
            out.extend(P.parse_rpmdb_sqlite(data, path))
        elif path == "var/lib/rpm/Packages":
            out.extend(P.parse_rpmdb_bdb(data, path))
        elif path.endswith("/" + P.JAVA_MARKER):
            out.extend(P.parse_java_info(data, path[: -len(P.JAVA_MARKER) - 1]))
        elif path.endswith(("/METADATA", "/PKG-INFO")):
            pkg = P.parse_python_metadata(data, path)
            if pkg is not None:
                out.append(pkg)
        elif path.endswith("/package.json"):
            npm = P.parse_npm_package(data, path)
            if npm is not None:
                out.append(npm)
    return out


def coalesce(layers: Sequence[tuple[str, LayerFiles]]) -> Inventory:
    """``layers`` bottom to top as ``(digest, files)``."""
    view: dict[str, bytes] = {}
    since: dict[P.Package, str] = {}
    for digest, layer in layers:
        _apply(view, layer)
        present = set(_packages(view))
        since = {p: since.get(p, digest) for p in present}
    inv = Inventory(distribution=_distribution(view))
    inv.packages = [
        Found(p, since[p])
        for p in sorted(since, key=lambda p: (p.kind, p.name, p.version, p.package_db))
    ]
    return inv


def inventory_to_json(inv: Inventory) -> dict[str, Any]:
    return {
        "distribution": asdict(inv.distribution) if inv.distribution else None,
        "packages": [{**asdict(f.package), "introduced_in": f.introduced_in} for f in inv.packages],
    }


def inventory_from_json(doc: dict[str, Any]) -> Inventory:
    dist = doc.get("distribution")
    packages = []
    for p in doc.get("packages", []):
        fields = dict(p)
        layer = fields.pop("introduced_in")
        packages.append(Found(P.Package(**fields), layer))
    return Inventory(P.Distribution(**dist) if dist else None, packages)
