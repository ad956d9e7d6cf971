"""FEATURE_ASSIGN_OAUTH_TOKEN: an organization admin assigns a token of the organization's
application to a user (``POST /oauth/authorize/assignuser``, Ansible's ``quay_api_token``
with ``for_user``); the user sees it and authorizes it, and the token is the user's."""

from __future__ import annotations

import urllib.parse

from tests.integration.api.conftest import bearer, oauth_token, sign_in
from tests.integration.conftest import BASE_URL, Berth

LOCAL = f"{BASE_URL}/oauth/localapp"


async def test_assigned_token_is_authorized_by_its_user(registry: Berth, session_client) -> None:  # type: ignore[no-untyped-def]
    alice_h = bearer(await oauth_token(registry, "alice"))
    r = await registry.http.post(
        "/api/v1/organization/", json={"name": "lab", "email": "lab@x.org"}, headers=alice_h
    )
    assert r.status_code == 201, r.text
    r = await registry.http.post(
        "/api/v1/organization/lab/applications", json={"name": "ci"}, headers=alice_h
    )
    assert r.status_code == 200, r.text
    client_id = r.json()["client_id"]

    alice = session_client()
    csrf = await sign_in(alice, "alice")
    query = {
        "client_id": client_id, "redirect_uri": LOCAL, "scope": "repo:read user:read",
        "username": "bob", "response_type": "token", "format": "json",
    }  # fmt: skip
    r = await alice.post(
        "/oauth/authorize/assignuser?" + urllib.parse.urlencode(query),
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "Token assigned successfully"}
    # unknown user, and a non-admin assigning: refused
    r = await alice.post(
        "/oauth/authorize/assignuser?" + urllib.parse.urlencode({**query, "username": "nobody"}),
        headers={"X-CSRF-Token": r.headers.get("x-next-csrf-token", csrf)},
    )
    assert r.status_code == 404
    bob = session_client()
    bob_csrf = await sign_in(bob, "bob")
    r = await bob.post(
        "/oauth/authorize/assignuser?" + urllib.parse.urlencode({**query, "username": "alice"}),
        headers={"X-CSRF-Token": bob_csrf},
    )
    assert r.status_code == 403

    bob_h = bearer(await oauth_token(registry, "bob"))
    r = await registry.http.get("/api/v1/user/assignedauthorization", headers=bob_h)
    assert r.status_code == 200, r.text
    (assigned,) = r.json()["authorizations"]
    assert assigned["application"]["clientId"] == client_id
    assert assigned["application"]["organization"]["name"] == "lab"
    assert {s["scope"] for s in assigned["scopes"]} == {"repo:read", "user:read"}
    assert assigned["responseType"] == "token"

    csrf = (await bob.get("/csrf_token")).json()["csrf_token"]
    r = await bob.post(
        "/oauth/authorizeapp",
        data={
            "client_id": client_id, "redirect_uri": LOCAL, "scope": "super:user",
            "response_type": "token", "assignment_uuid": assigned["uuid"], "_csrf_token": csrf,
        },
    )  # fmt: skip
    assert r.status_code == 302, r.text
    fragment = dict(urllib.parse.parse_qsl(r.headers["location"].split("#", 1)[1]))
    me = await registry.http.get("/api/v1/user/", headers=bearer(fragment["access_token"]))
    assert me.json()["username"] == "bob"
    # the assignment's scopes, not the ones the form asked for
    r = await registry.http.get(
        "/api/v1/superuser/users/", headers=bearer(fragment["access_token"])
    )
    assert r.status_code in (401, 403)
    r = await registry.http.get("/api/v1/user/assignedauthorization", headers=bob_h)
    assert r.json() == {"authorizations": []}
    r = await registry.http.delete(
        f"/api/v1/user/assignedauthorization/{assigned['uuid']}", headers=bob_h
    )
    assert r.status_code == 404
