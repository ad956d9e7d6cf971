"""Quay's answers for routes kept for old clients: the removed repository tokens (410) and
``GET /registry/capabilities`` (Quay 3.17, read by Ansible's ``quay_capabilities_info``)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from tests.integration.api.test_repositories import API, auth, create
from tests.integration.conftest import Berth

GONE = {"message": "Handling of access tokens is no longer supported"}


async def test_legacy_repository_tokens_are_gone(registry: Berth) -> None:
    alice = await auth(registry, "alice")
    assert (await create(registry, alice, "app")).status_code == 201
    base = f"{API}/repository/alice/app/tokens"
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"{base}/", None),
        ("POST", f"{base}/", {"friendlyName": "ci"}),
        ("GET", f"{base}/SOMECODE", None),
        ("PUT", f"{base}/SOMECODE", {"role": "read"}),
        ("DELETE", f"{base}/SOMECODE", None),
    ]
    for method, url, body in calls:
        r = await registry.http.request(method, url, json=body, headers=alice)
        assert (r.status_code, r.json()) == (410, GONE), f"{method} {url}"
    # Quay checks repository admin first: someone else is refused, not told it is gone.
    bob = await auth(registry, "bob")
    r = await registry.http.get(f"{base}/", headers=bob)
    assert r.status_code == 403, r.text
    # Without the slash: Quay's 308 to the collection.
    r = await registry.http.get(base, headers=alice)
    assert r.status_code == 308
    assert r.headers["location"].endswith("/tokens/")


CAPABILITIES = {
    "sparse_manifests": {
        "supported": False,
        "required_architectures": [],
        "optional_architectures_allowed": False,
    },
    "mirror_architectures": [],
}


async def test_registry_capabilities_anonymous(registry: Berth) -> None:
    r = await registry.http.get(f"{API}/registry/capabilities")
    assert (r.status_code, r.json()) == (200, CAPABILITIES)
    r = await registry.http.get(f"{API}/registry/capabilities", headers=await auth(registry, "bob"))
    assert (r.status_code, r.json()) == (200, CAPABILITIES)
    r = await registry.http.get(f"{API}/discovery")
    assert "/api/v1/registry/capabilities" in r.json()["paths"]


async def test_registry_capabilities_with_anonymous_access_off(
    configured: Callable[..., AbstractAsyncContextManager[Berth]],
) -> None:
    async with configured(FEATURE_ANONYMOUS_ACCESS=False) as reg:
        r = await reg.http.get(f"{API}/registry/capabilities")
        assert (r.status_code, r.json()) == (200, CAPABILITIES)
