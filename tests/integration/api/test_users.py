"""Users over /api/v1: sessions and CSRF, sign-up, the current user, other users,
``user/initialize``, superuser user management, app-specific tokens, the implicit grant."""

from __future__ import annotations

import re
import string

import httpx
from sqlalchemy import text

from berth.oauth.services import validate_app_password, validate_oauthtoken_password
from tests.integration.api.conftest import ALL_SCOPES, bearer, oauth_token, sign_in
from tests.integration.api.test_framework import CSRF_BODY, assert_problem
from tests.integration.conftest import BASE_URL, HOST, Berth


async def v2_login(registry: Berth, username: str, password: str) -> int:
    r = await registry.http.get(
        f"/v2/auth?service={HOST}&scope=repository:{username}/x:pull",
        auth=httpx.BasicAuth(username, password),
    )
    return r.status_code


# ------------------------------------------------------------------------------ sessions


async def test_session_login_csrf_flow(registry: Berth, session_client) -> None:  # type: ignore[no-untyped-def]
    http = session_client()
    csrf = await sign_in(http, "alice")
    r = await http.get("/api/v1/user/")
    assert r.status_code == 200
    assert r.json()["username"] == "alice"
    assert r.headers["x-next-csrf-token"] == csrf
    r = await http.post(
        "/api/v1/user/apptoken", json={"title": "t"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200, r.text
    r = await http.post("/api/v1/user/apptoken", json={"title": "t"})
    assert r.status_code == 403
    assert r.json() == CSRF_BODY
    r = await http.post(
        "/api/v1/user/apptoken", json={"title": "t"}, headers={"X-CSRF-Token": "forged"}
    )
    assert r.json() == CSRF_BODY
    r = await http.post("/api/v1/signout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    assert r.json() == {"success": True}
    assert (await http.get("/api/v1/user/")).status_code == 401


async def test_signin_needs_csrf_and_right_password(registry: Berth, session_client) -> None:  # type: ignore[no-untyped-def]
    http = session_client()
    r = await http.post("/api/v1/signin", json={"username": "alice", "password": "alice-password"})
    assert r.status_code == 403
    assert r.json() == CSRF_BODY
    csrf = (await http.get("/csrf_token")).json()["csrf_token"]
    r = await http.post(
        "/api/v1/signin",
        json={"username": "alice", "password": "wrong-password"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403
    body = r.json()
    assert body["invalidCredentials"] is True
    assert body["needsEmailVerification"] is False
    assert isinstance(body["message"], str)


async def test_signout_ends_every_session_of_the_user(registry: Berth, session_client) -> None:  # type: ignore[no-untyped-def]
    one, two = session_client(), session_client()
    csrf = await sign_in(one, "alice")
    await sign_in(two, "alice")
    token = await oauth_token(registry, "alice")
    assert (await two.get("/api/v1/user/")).status_code == 200
    assert (await one.post("/api/v1/signout", headers={"X-CSRF-Token": csrf})).status_code == 200
    assert (await two.get("/api/v1/user/")).status_code == 401
    # OAuth tokens stay valid
    assert (await registry.http.get("/api/v1/user/", headers=bearer(token))).status_code == 200


# ---------------------------------------------------------------------------- the user


async def test_current_user_shape(registry: Berth) -> None:
    r = await registry.http.get(
        "/api/v1/user/", headers=bearer(await oauth_token(registry, "alice"))
    )
    assert r.status_code == 200
    body = r.json()
    assert body["anonymous"] is False
    assert body["username"] == "alice"
    assert body["is_me"] is True
    assert body["can_create_repo"] is True
    assert body["has_password_set"] is True
    assert body["super_user"] is False
    assert body["organizations"] == []
    assert set(body["avatar"]) == {"name", "hash", "color", "kind"}
    for key in (
        "verified",
        "email",
        "logins",
        "invoice_email",
        "preferred_namespace",
        "tag_expiration_s",
        "prompts",
        "company",
        "is_free_account",
    ):
        assert key in body
    r = await registry.http.get(
        "/api/v1/user/", headers=bearer(await oauth_token(registry, "root"))
    )
    assert r.json()["super_user"] is True
    r = await registry.http.get(
        "/api/v1/user/", headers=bearer(await oauth_token(registry, "root", "user:read"))
    )
    assert r.json()["super_user"] is False  # no super:user scope


async def test_change_password_and_email(registry: Berth) -> None:
    h = bearer(await oauth_token(registry, "alice"))
    r = await registry.http.put("/api/v1/user/", headers=h, json={"email": "a@example.com"})
    assert r.status_code == 200
    assert r.json()["email"] == "a@example.com"
    r = await registry.http.put("/api/v1/user/", headers=h, json={"password": "short"})
    assert_problem(r, 400, "invalid_request", r.json()["detail"])
    r = await registry.http.put("/api/v1/user/", headers=h, json={"password": "new-password-1"})
    assert r.status_code == 200
    assert await v2_login(registry, "alice", "new-password-1") == 200
    assert await v2_login(registry, "alice", "alice-password") == 401
    r = await registry.http.put("/api/v1/user/", headers=h, json={"tag_expiration_s": 86400})
    assert r.status_code == 200
    assert r.json()["tag_expiration_s"] == 86400
    r = await registry.http.put("/api/v1/user/", headers=h, json={"tag_expiration_s": 5})
    assert_problem(r, 400, "invalid_request", "Invalid tag expiration option")


async def test_other_users(registry: Berth) -> None:
    r = await registry.http.get("/api/v1/users/bob")
    assert r.status_code == 200
    body = r.json()
    assert body["anonymous"] is False
    assert body["username"] == "bob"
    assert body["avatar"]["name"] == "bob"
    r = await registry.http.get("/api/v1/users/nobody")
    assert_problem(r, 404, "not_found", "Not Found")


async def test_sign_up(registry: Berth, session_client) -> None:  # type: ignore[no-untyped-def]
    http = session_client()
    csrf = (await http.get("/csrf_token")).json()["csrf_token"]
    r = await http.post(
        "/api/v1/user/",
        json={"username": "carol", "password": "carol-password", "email": "c@example.com"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    assert r.json()["username"] == "carol"
    assert (await http.get("/api/v1/user/")).json()["username"] == "carol"
    assert await v2_login(registry, "carol", "carol-password") == 200
    other = session_client()
    csrf = (await other.get("/csrf_token")).json()["csrf_token"]
    r = await other.post(
        "/api/v1/user/",
        json={"username": "carol", "password": "carol-password"},
        headers={"X-CSRF-Token": csrf},
    )
    assert_problem(r, 400, "invalid_request", "The username already exists")


async def test_sign_up_disabled(configured) -> None:  # type: ignore[no-untyped-def]
    async with configured(FEATURE_USER_CREATION=False) as b:
        r = await b.http.post("/api/v1/user/", json={"username": "x", "password": "y"})
        assert r.status_code == 404


# -------------------------------------------------------------------------- initialize


async def _empty(b: Berth) -> None:
    async with b.services.db.write() as s:
        await s.execute(text("DELETE FROM users"))
        await s.execute(text("DELETE FROM namespaces"))


async def test_initialize_first_user(configured) -> None:  # type: ignore[no-untyped-def]
    body = {"username": "admin2", "password": "password123", "email": "a@x", "access_token": True}
    async with configured(FEATURE_USER_INITIALIZE=True, SUPER_USERS=["root", "admin2"]) as b:
        r = await b.http.post("/api/v1/user/initialize", json=body)
        assert r.status_code == 400
        assert r.json() == {"message": "Cannot initialize user in a non-empty database"}
        await _empty(b)
        r = await b.http.post("/api/v1/user/initialize", json={**body, "password": "short"})
        assert r.status_code == 400
        assert r.json()["message"].startswith("Failed to initialize user: ")
        r = await b.http.post("/api/v1/user/initialize", json=body)
        assert r.status_code == 200, r.text
        out = r.json()
        assert set(out) == {"username", "email", "encrypted_password", "access_token"}
        assert out["username"] == "admin2"
        assert re.fullmatch(r"[A-Za-z0-9]{40}", out["access_token"])
        assert "x-next-csrf-token" in r.headers
        h = bearer(out["access_token"])
        r = await b.http.get("/api/v1/user/", headers=h)
        assert r.json()["username"] == "admin2"
        assert r.json()["super_user"] is True
        r = await b.http.post("/api/v1/superuser/users/", headers=h, json={"username": "dev"})
        assert r.status_code == 200
        grant = await b.app.state.api.oauth.validate_token(out["access_token"])
        assert grant.scopes == frozenset(ALL_SCOPES.split())
        assert grant.client_id == "admin2"
        r = await b.http.post("/api/v1/user/initialize", json=body)
        assert r.json() == {"message": "Cannot initialize user in a non-empty database"}


async def test_initialize_disabled_by_default(registry: Berth) -> None:
    r = await registry.http.post(
        "/api/v1/user/initialize", json={"username": "x", "password": "password123"}
    )
    assert r.status_code == 404


# --------------------------------------------------------------------- superuser users


async def test_superuser_user_lifecycle(registry: Berth) -> None:
    h = bearer(await oauth_token(registry, "root"))
    r = await registry.http.post(
        "/api/v1/superuser/users/", headers=h, json={"username": "dev", "email": "d@x"}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"username", "email", "password", "encrypted_password"}
    assert out["username"] == "dev"
    assert out["email"] == "d@x"
    assert len(out["password"]) == 32
    assert set(out["password"]) <= set(string.ascii_uppercase + string.digits)
    assert await v2_login(registry, "dev", out["password"]) == 200
    r = await registry.http.post("/api/v1/superuser/users/", headers=h, json={"username": "dev"})
    assert r.status_code == 400

    r = await registry.http.get("/api/v1/superuser/users/dev", headers=h)
    assert r.status_code == 200
    view = r.json()
    assert view["kind"] == "user"
    assert view["name"] == view["username"] == "dev"
    assert view["super_user"] is False
    assert view["enabled"] is True

    r = await registry.http.put("/api/v1/superuser/users/dev", headers=h, json={"enabled": False})
    assert r.status_code == 200
    assert r.json()["enabled"] is False
    assert await v2_login(registry, "dev", out["password"]) == 401
    r = await registry.http.get("/api/v1/superuser/users/?disabled=False", headers=h)
    assert "dev" not in [u["username"] for u in r.json()["users"]]
    r = await registry.http.get("/api/v1/superuser/users/", headers=h)
    names = [u["username"] for u in r.json()["users"]]
    assert {"alice", "bob", "root", "admin", "dev"} <= set(names)

    r = await registry.http.put(
        "/api/v1/superuser/users/dev", headers=h, json={"enabled": True, "password": "fresh-pass-1"}
    )
    assert r.status_code == 200
    assert "encrypted_password" in r.json()
    assert await v2_login(registry, "dev", "fresh-pass-1") == 200

    r = await registry.http.put("/api/v1/superuser/users/root", headers=h, json={"enabled": False})
    assert_problem(r, 400, "invalid_request", "Cannot update a superuser")
    r = await registry.http.delete("/api/v1/superuser/users/admin", headers=h)
    assert_problem(r, 400, "invalid_request", "Cannot delete a superuser")

    r = await registry.http.delete("/api/v1/superuser/users/dev", headers=h)
    assert r.status_code == 204
    assert (await registry.http.get("/api/v1/superuser/users/dev", headers=h)).status_code == 404
    assert await v2_login(registry, "dev", "fresh-pass-1") == 401
    async with registry.services.db.read() as s:
        jobs = (await s.execute(text("SELECT kind, payload FROM jobs"))).all()
    assert any(kind == "delete_namespace" for kind, _ in jobs)
    r = await registry.http.delete("/api/v1/superuser/users/dev", headers=h)
    assert_problem(r, 404, "not_found", "Not Found")


async def test_superuser_paging(registry: Berth) -> None:
    h = bearer(await oauth_token(registry, "root"))
    seen: list[str] = []
    url = "/api/v1/superuser/users/?limit=2"
    while True:
        r = await registry.http.get(url, headers=h)
        body = r.json()
        assert len(body["users"]) <= 2
        seen += [u["username"] for u in body["users"]]
        if "next_page" not in body:
            break
        url = f"/api/v1/superuser/users/?limit=2&next_page={body['next_page']}"
    assert sorted(seen) == ["admin", "alice", "bob", "root"]
    r = await registry.http.get("/api/v1/superuser/users/?limit=101", headers=h)
    assert r.status_code == 400


async def test_superuser_routes_refuse_others(registry: Berth) -> None:
    r = await registry.http.get("/api/v1/superuser/users/")
    assert_problem(r, 401, "invalid_token", "Requires authentication")
    r = await registry.http.get(
        "/api/v1/superuser/users/", headers=bearer(await oauth_token(registry, "alice"))
    )
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    no_super = await oauth_token(registry, "root", "user:admin org:admin")
    r = await registry.http.get("/api/v1/superuser/users/", headers=bearer(no_super))
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")


async def test_superuser_session_needs_fresh_login(registry: Berth, session_client) -> None:  # type: ignore[no-untyped-def]
    http = session_client()
    await sign_in(http, "root")
    assert (await http.get("/api/v1/superuser/users/")).status_code == 200
    codec = registry.app.state.api.codec
    cookie_name = registry.app.state.api.cookie_name
    session = codec.load(http.cookies[cookie_name])
    from dataclasses import replace

    http.cookies.set(cookie_name, codec.dump(replace(session, login_at=session.login_at - 3600)))
    r = await http.get("/api/v1/superuser/users/")
    assert_problem(r, 401, "fresh_login_required", "Requires fresh login")


# ------------------------------------------------------------------------- app tokens


async def test_app_specific_tokens(registry: Berth) -> None:
    h = bearer(await oauth_token(registry, "alice"))
    r = await registry.http.post("/api/v1/user/apptoken", headers=h, json={"title": "ci"})
    assert r.status_code == 200
    token = r.json()["token"]
    assert set(token) == {"uuid", "title", "last_accessed", "created", "expiration", "token_code"}
    assert token["title"] == "ci"
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d -0000", token["created"])
    code = token["token_code"]
    r = await registry.http.get("/api/v1/user/apptoken", headers=h)
    listed = r.json()
    assert listed["only_expiring"] is False
    assert [t["uuid"] for t in listed["tokens"]] == [token["uuid"]]
    assert "token_code" not in listed["tokens"][0]
    r = await registry.http.get(f"/api/v1/user/apptoken/{token['uuid']}", headers=h)
    assert r.json()["token"]["token_code"] == code
    api = registry.app.state.api
    grant = await validate_app_password(registry.services.db, api.oauth.fernet, "$app", code)
    assert grant is not None
    assert grant.username == "alice"
    tampered = code[:-1] + ("y" if code.endswith("x") else "x")  # always a different code
    assert (
        await validate_app_password(registry.services.db, api.oauth.fernet, "$app", tampered)
        is None
    )
    # other users cannot see it
    r = await registry.http.get(
        f"/api/v1/user/apptoken/{token['uuid']}", headers=bearer(await oauth_token(registry, "bob"))
    )
    assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.delete(f"/api/v1/user/apptoken/{token['uuid']}", headers=h)
    assert r.status_code == 204
    assert (
        await registry.http.get(f"/api/v1/user/apptoken/{token['uuid']}", headers=h)
    ).status_code == 404
    assert await validate_app_password(registry.services.db, api.oauth.fernet, "$app", code) is None


# ----------------------------------------------------------------------- OAuth grants


async def test_implicit_grant_redirects_with_token(registry: Berth, session_client) -> None:  # type: ignore[no-untyped-def]
    api = registry.app.state.api
    app = await api.oauth.create_application("alice", "cli", redirect_uri="https://example.com/cb")
    http = session_client()
    csrf = await sign_in(http, "alice")
    form = {
        "client_id": app.client_id,
        "redirect_uri": f"{BASE_URL}/oauth/localapp",
        "response_type": "token",
        "scope": "repo:read user:read",
        "_csrf_token": csrf,
    }
    r = await http.post("/oauth/authorizeapp", data=form)
    assert r.status_code == 302, r.text
    location = r.headers["location"]
    assert location.startswith(f"{BASE_URL}/oauth/localapp?scope=repo%3Aread+user%3Aread#")
    token = re.search(r"access_token=(.*?)&", location).group(1)  # the Ansible regex
    assert len(token) == 40
    assert location.endswith("&token_type=Bearer&expires_in=315576000")
    r = await registry.http.get("/api/v1/user/", headers=bearer(token))
    assert r.json()["username"] == "alice"
    grant = await validate_oauthtoken_password(registry.services.db, "$oauthtoken", token)
    assert grant is not None
    assert grant.scopes == {"repo:read", "user:read"}
    # without the CSRF token, or without a session
    r = await http.post(
        "/oauth/authorizeapp", data={k: v for k, v in form.items() if k != "_csrf_token"}
    )
    assert r.status_code == 403
    r = await registry.http.post("/oauth/authorizeapp", data=form)
    assert r.status_code == 401  # no session: authentication first, as Quay
    # bob administers nothing of alice's
    other = session_client()
    csrf = await sign_in(other, "bob")
    r = await other.post("/oauth/authorizeapp", data={**form, "_csrf_token": csrf})
    assert r.status_code == 403


async def test_implicit_grant_for_an_org_application(registry: Berth, session_client) -> None:  # type: ignore[no-untyped-def]
    await registry.services.orgs.create("lab", creator="alice")
    api = registry.app.state.api
    app = await api.oauth.create_application("lab", "gen", redirect_uri=f"{BASE_URL}/cb")
    form = {
        "client_id": app.client_id,
        "redirect_uri": f"{BASE_URL}/cb",
        "response_type": "token",
        "scope": "org:admin,repo:admin",
        "state": "s1",
    }
    alice = session_client()
    csrf = await sign_in(alice, "alice")
    r = await alice.post("/oauth/authorizeapp", data={**form, "_csrf_token": csrf})
    assert r.status_code == 302, r.text
    assert r.headers["location"].startswith(
        f"{BASE_URL}/cb?scope=org%3Aadmin%2Crepo%3Aadmin&state=s1#access_token="
    )
    bob = session_client()
    csrf = await sign_in(bob, "bob")
    r = await bob.post("/oauth/authorizeapp", data={**form, "_csrf_token": csrf})
    assert r.status_code == 403
    r = await alice.post(
        "/oauth/authorizeapp",
        data={**form, "redirect_uri": "https://evil.example/cb", "_csrf_token": csrf},
    )
    assert r.status_code in (400, 403)


async def test_actions_write_usage_logs(registry: Berth, session_client) -> None:  # type: ignore[no-untyped-def]
    await sign_in(session_client(), "alice")
    csrf = (await (http := session_client()).get("/csrf_token")).json()["csrf_token"]
    await http.post(
        "/api/v1/signin",
        json={"username": "alice", "password": "nope-nope"},
        headers={"X-CSRF-Token": csrf},
    )
    h = bearer(await oauth_token(registry, "root"))
    r = await registry.http.post("/api/v1/superuser/users/", headers=h, json={"username": "dev"})
    assert r.status_code == 200
    r = await registry.http.put("/api/v1/superuser/users/dev", headers=h, json={"enabled": False})
    assert r.status_code == 200
    r = await registry.http.post(
        "/api/v1/user/apptoken",
        headers=bearer(await oauth_token(registry, "alice")),
        json={"title": "ci"},
    )
    assert r.status_code == 200
    async with registry.services.db.read() as s:
        rows = (
            await s.execute(text("SELECT kind, namespace, performer FROM log_entries ORDER BY id"))
        ).all()
    logs = [tuple(r) for r in rows]
    assert ("login_success", "alice", "alice") in logs
    # Refused sign-ins are logged only with ACTION_LOG_AUDIT_LOGIN_FAILURES (Quay's default:
    # off; tests/integration/api/test_usage_logs.py turns it on).
    assert ("login_failure", "alice", None) not in logs
    assert ("user_create", "dev", "root") in logs
    assert ("user_disable", "dev", "root") in logs
    assert ("create_app_specific_token", "alice", "alice") in logs


async def test_current_user_lists_organizations(registry: Berth) -> None:
    await registry.services.orgs.create("lab", creator="alice")
    r = await registry.http.get(
        "/api/v1/user/", headers=bearer(await oauth_token(registry, "alice"))
    )
    orgs = r.json()["organizations"]
    assert [o["name"] for o in orgs] == ["lab"]
    assert orgs[0]["is_org_admin"] is True
    assert orgs[0]["can_create_repo"] is True
    assert orgs[0]["avatar"]["kind"] == "org"
    r = await registry.http.get("/api/v1/user/", headers=bearer(await oauth_token(registry, "bob")))
    assert r.json()["organizations"] == []


async def test_a_password_change_ends_other_sessions_and_keeps_the_callers(
    registry: Berth,
    session_client,  # type: ignore[no-untyped-def]
) -> None:
    """Quay rotates the user's uuid on a password change: every session signed in before
    ends, and the session that changed it is signed in again."""
    mine, other = session_client(), session_client()
    csrf = await sign_in(mine, "alice")
    await sign_in(other, "alice")
    xhr = {"X-Requested-With": "XMLHttpRequest"}
    r = await mine.put(
        "/api/v1/user/", json={"password": "new-password-1"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200, r.text
    assert (await mine.get("/api/v1/user/", headers=xhr)).status_code == 200
    assert (await other.get("/api/v1/user/", headers=xhr)).status_code == 401
