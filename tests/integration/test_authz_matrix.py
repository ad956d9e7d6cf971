"""Who may do what on /v2: ONE table of callers x operations, on both deployments.

Each row is a caller; each column an operation on the private repository ``acme/app``
(see identity_scenario), plus creating ``acme/new`` by push, the catalog and a pull of the
public ``acme/pub``. Every cell is checked; a failing test lists every wrong cell.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import (
    OCI_MANIFEST,
    Berth,
    Client,
    digest_of,
    random_bytes,
    token_access,
)
from tests.integration.identity_scenario import APP, PUB, Scenario, build

OPS = (
    "token",  # actions /v2/auth grants for repository:acme/app:pull,push,*
    "pull",  # GET manifest v1
    "push_blob",  # monolithic blob upload
    "push_manifest",  # PUT manifest under a new tag
    "delete",  # DELETE manifest by digest
    "catalog",  # acme/app listed in /v2/_catalog
    "create",  # push creates acme/new
    "pull_public",  # GET manifest of the public acme/pub
)
ALL = {"pull", "push", "*"}
RW = {"pull", "push"}
Y, N = True, False

# caller: (token, pull, push_blob, push_manifest, delete, catalog, create, pull_public)
MATRIX: dict[str, tuple[Any, ...]] = {
    "anonymous": (set(), N, N, N, N, N, N, Y),
    "bob": (set(), N, N, N, N, N, N, Y),  # unrelated user
    "reader": ({"pull"}, Y, N, N, N, Y, N, Y),
    "writer": (RW, Y, Y, Y, N, Y, N, Y),
    "repoadmin": (ALL, Y, Y, Y, Y, Y, N, Y),
    "member": (RW, Y, Y, Y, N, Y, N, Y),  # team devs (member) has write on acme/app
    "creator": (set(), N, N, N, N, N, Y, Y),  # team builders (creator): no repo access
    "orgadmin": (ALL, Y, Y, Y, Y, Y, Y, Y),  # team owners (admin)
    "acme+reader": ({"pull"}, Y, N, N, N, Y, N, Y),
    "acme+writer": (RW, Y, Y, Y, N, Y, N, Y),
    "root": (ALL, Y, Y, Y, Y, Y, Y, Y),  # superuser (SUPER_USERS)
}


def _client(registry: Berth, sc: Scenario, who: str) -> Client:
    if who == "anonymous":
        return registry.client(None)
    if who in ("bob", "root"):
        return registry.client(who)
    return registry.client(who, password=sc.password(who))


async def _observe(registry: Berth, sc: Scenario, who: str) -> dict[str, Any]:
    assert sc.app is not None
    assert sc.pub is not None
    c = _client(registry, sc, who)
    seen: dict[str, Any] = {}
    resp = await c.token(f"repository:{APP.full}:pull,push,*")
    if who == "anonymous":
        assert resp.status_code == 200, resp.text
    seen["token"] = token_access(resp.json()["token"]).get(APP.full, set())
    accept = {"Accept": OCI_MANIFEST}
    resp = await c.get(f"/v2/{APP.full}/manifests/v1", headers=accept)
    assert resp.status_code in (200, 401), resp.text
    seen["pull"] = resp.status_code == 200
    if seen["pull"]:
        assert resp.content == sc.app.manifest
    blob = random_bytes(512)
    resp = await c.post(
        f"/v2/{APP.full}/blobs/uploads/",
        params={"digest": digest_of(blob)},
        content=blob,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert resp.status_code in (201, 401), resp.text
    seen["push_blob"] = resp.status_code == 201
    resp = await c.put_manifest(APP.full, "other", sc.app.manifest, OCI_MANIFEST)
    assert resp.status_code in (201, 401), resp.text
    seen["push_manifest"] = resp.status_code == 201
    resp = await c.delete(f"/v2/{APP.full}/manifests/{sc.app.digest}")
    assert resp.status_code in (202, 401), resp.text
    seen["delete"] = resp.status_code == 202
    if who == "anonymous":
        resp = await registry.http.get("/v2/_catalog")
    else:
        login = await c.token()
        assert login.status_code == 200, login.text
        bearer = {"Authorization": f"Bearer {login.json()['token']}"}
        resp = await registry.http.get("/v2/_catalog", headers=bearer)
    assert resp.status_code == 200, resp.text
    seen["catalog"] = APP.full in resp.json()["repositories"]
    resp = await c.token("repository:acme/new:pull,push")
    seen["create"] = "push" in token_access(resp.json()["token"]).get("acme/new", set())
    exists = await registry.services.registry.find(registry.services.registry.name("acme/new"))
    assert (exists is not None) == seen["create"]
    resp = await c.get(f"/v2/{PUB.full}/manifests/v1", headers=accept)
    seen["pull_public"] = resp.status_code == 200
    return seen


@pytest.mark.parametrize("who", list(MATRIX))
async def test_matrix(registry: Berth, who: str) -> None:
    sc = await build(registry)
    expected = dict(zip(OPS, MATRIX[who], strict=True))
    seen = await _observe(registry, sc, who)
    wrong = {op: (seen[op], expected[op]) for op in OPS if seen[op] != expected[op]}
    assert not wrong, f"{who}: (seen, expected) {wrong}"


def test_matrix_is_complete() -> None:
    assert all(len(row) == len(OPS) for row in MATRIX.values())
