"""``GET /api/v1/registry/capabilities`` (Quay 3.17; Ansible's ``quay_capabilities_info``).

Anonymous callers may read it. Berth does not implement sparse manifest lists
(``FEATURE_SPARSE_INDEX``) nor repository mirroring, so both are reported as absent.
"""

from __future__ import annotations

from starlette.responses import Response

from berth.http.api.v1.errors import json_response
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx

CAPABILITIES = {
    "sparse_manifests": {
        "supported": False,
        "required_architectures": [],
        "optional_architectures_allowed": False,
    },
    "mirror_architectures": [],
}


async def capabilities(_ctx: Ctx) -> Response:
    return json_response(CAPABILITIES)


def routes(api: ApiApp) -> list[ApiRoute]:
    return [
        ApiRoute(
            "GET",
            "/registry/capabilities",
            capabilities,
            "Get the registry's capabilities (sparse manifests, mirror architectures).",
            tag="capabilities",
            anon_allowed=True,
        )
    ]
