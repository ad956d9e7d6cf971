"""Failing tests for Berth bugs found by this suite, reported to the lead (not yet fixed).

Each test says what a client does, what the spec or a real client expects, and what Berth
answers instead. Move a test next to its siblings once the bug is fixed.
"""

from __future__ import annotations

from tests.integration.conftest import Berth, Client


async def test_token_endpoint_accepts_registry_catalog_scope(
    registry: Berth, alice: Client
) -> None:
    """crane catalog / go-containerregistry ask for scope=registry:catalog:* (Docker token
    spec resource type "registry"); a well-formed scope Berth does not grant must be dropped,
    not refused, and the token still identifies the caller for /v2/_catalog."""
    await alice.push_image("alice/app", "v1")
    resp = await alice.token("registry:catalog:*")
    assert resp.status_code == 200, resp.text
    token = resp.json()["token"]
    listing = await registry.http.get("/v2/_catalog", headers={"Authorization": f"Bearer {token}"})
    assert listing.status_code == 200
    assert listing.json() == {"repositories": ["alice/app"]}


async def test_catalog_is_in_lexical_order_of_full_names(
    registry: Berth, alice: Client, root: Client
) -> None:
    """The catalog (like distribution's, and like tags/list) is sorted by the full name, and
    ``last`` continues after that name in the same order. Berth sorts by (namespace, name),
    so namespace ``alice-x`` ('-' < '/') lands after ``alice/...`` instead of before it."""
    await alice.push_image("alice/a1", "v1")
    await root.push_image("alice-x/tool", "v1")
    await root.push_image("alice.dev/x", "v1")
    su = registry.client("root", basic=True)
    names = (await su.get("/v2/_catalog")).json()["repositories"]
    assert names == sorted(names)
    after = (await su.get("/v2/_catalog", params={"last": "alice-x/tool"})).json()
    assert after["repositories"] == [n for n in sorted(names) if n > "alice-x/tool"]
