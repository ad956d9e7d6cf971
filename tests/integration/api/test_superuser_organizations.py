"""The superuser's organizations: ``GET /superuser/organizations/`` (paged) and
``DELETE /superuser/organizations/{name}``."""

from __future__ import annotations

from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import Berth


async def test_superuser_lists_and_deletes_organizations(registry: Berth) -> None:
    root = bearer(await oauth_token(registry, "root"))
    alice = bearer(await oauth_token(registry, "alice"))
    for name in ("lab", "ops"):
        r = await registry.http.post(
            "/api/v1/organization/", json={"name": name, "email": f"{name}@x.org"}, headers=alice
        )
        assert r.status_code == 201, r.text
    r = await registry.http.get("/api/v1/superuser/organizations/", headers=root)
    assert r.status_code == 200, r.text
    assert [o["name"] for o in r.json()["organizations"]] == ["lab", "ops"]
    page = await registry.http.get("/api/v1/superuser/organizations/?limit=1", headers=root)
    assert [o["name"] for o in page.json()["organizations"]] == ["lab"]
    token = page.json()["next_page"]
    page = await registry.http.get(
        f"/api/v1/superuser/organizations/?limit=1&next_page={token}", headers=root
    )
    assert [o["name"] for o in page.json()["organizations"]] == ["ops"]
    assert (
        await registry.http.get("/api/v1/superuser/organizations/", headers=alice)
    ).status_code == 403
    r = await registry.http.delete("/api/v1/superuser/organizations/lab", headers=root)
    assert r.status_code == 204, r.text
    assert (await registry.http.get("/api/v1/organization/lab", headers=root)).status_code == 404
    r = await registry.http.delete("/api/v1/superuser/organizations/lab", headers=root)
    assert r.status_code == 404
