"""AUTHENTICATION_TYPE: LDAP against a real OpenLDAP (tests/support/ldap.py): sign-in,
Quay's filters, refusals with their usage-log entries, registry logins, entity linking."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.integration.conftest import Berth, unverified_claims
from tests.support.devservers import running
from tests.support.ldap import Slapd, password_of

pytestmark = pytest.mark.slow

Configured = Callable[..., contextlib.AbstractAsyncContextManager[Berth]]


async def _csrf(http: httpx.AsyncClient) -> str:
    r = await http.get("/csrf_token")
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


async def signin(berth: Berth, username: str, password: str) -> httpx.Response:
    """POST /api/v1/signin on a fresh cookie jar (the response keeps the client's cookies)."""
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=berth.app), base_url="http://localhost:5000"
    )
    csrf = await _csrf(http)
    r = await http.post(
        "/api/v1/signin",
        json={"username": username, "password": password},
        headers={"X-CSRF-Token": csrf},
    )
    r.extensions["client"] = http
    return r


async def me(r: httpx.Response) -> dict[str, Any]:
    http: httpx.AsyncClient = r.extensions["client"]
    got = await http.get("/api/v1/user/")
    assert got.status_code == 200, got.text
    return dict(got.json())


async def logs(berth: Berth) -> list[tuple[Any, ...]]:
    async with berth.services.db.read() as s:
        rows = await s.execute(
            text("SELECT kind, namespace, performer, metadata FROM log_entries ORDER BY id")
        )
    return [
        (kind, ns, who, json.loads(meta) if isinstance(meta, str) else meta)
        for kind, ns, who, meta in rows.all()
    ]


async def user_exists(berth: Berth, name: str) -> bool:
    return await berth.services.accounts.get_user(name) is not None


@pytest.fixture
def ldap_berth(configured: Configured, slapd: Slapd) -> Callable[..., Any]:
    def build(**extra: Any) -> contextlib.AbstractAsyncContextManager[Berth]:
        # Refused sign-ins are logged when Quay's ACTION_LOG_AUDIT_LOGIN_FAILURES asks.
        return configured(ACTION_LOG_AUDIT_LOGIN_FAILURES=True, **slapd.config(**extra))

    return build


def refused(r: httpx.Response, message: str = "Invalid Username or Password") -> None:
    assert r.status_code == 403, r.text
    assert r.json() == {
        "needsEmailVerification": False,
        "invalidCredentials": True,
        "message": message,
    }


async def test_directory_user_signs_in_and_is_created_with_its_email(ldap_berth) -> None:  # type: ignore[no-untyped-def]
    async with ldap_berth() as berth:
        assert not await user_exists(berth, "lara")
        r = await signin(berth, "lara", password_of("lara"))
        assert r.status_code == 200, r.text
        assert r.json() == {"success": True}
        view = await me(r)
        assert view["username"] == "lara"
        assert view["email"] == "lara@example.org"
        assert view["super_user"] is False
        # the second sign-in finds the same account; the e-mail address works as a name
        r = await signin(berth, "lara@example.org", password_of("lara"))
        assert r.status_code == 200, r.text
        assert (await me(r))["username"] == "lara"
        kinds = [(k, ns, who) for k, ns, who, _ in await logs(berth)]
        assert kinds.count(("user_create", "lara", "lara")) == 1
        assert kinds.count(("login_success", "lara", "lara")) == 2


async def test_refusals_create_nothing_and_are_logged(ldap_berth) -> None:  # type: ignore[no-untyped-def]
    async with ldap_berth() as berth:
        refused(await signin(berth, "lara", "wrong-password"))
        refused(await signin(berth, "lara", ""))  # never an anonymous bind
        # nina is in the directory but outside LDAP_USER_FILTER
        refused(await signin(berth, "nina", password_of("nina")))
        # filter injection: the name is searched for literally
        refused(await signin(berth, "*)(uid=*", password_of("lara")))
        refused(await signin(berth, "*", password_of("lara")))
        refused(await signin(berth, "lara)(|(uid=*", password_of("lara")))
        for name in ("lara", "nina"):
            assert not await user_exists(berth, name)
        failures = [
            (ns, meta["username"], meta["message"])
            for kind, ns, _, meta in await logs(berth)
            if kind == "login_failure"
        ]
        assert (None, "lara", "Invalid Username or Password") in failures
        assert (None, "nina", "Invalid Username or Password") in failures
        assert (None, "*)(uid=*", "Invalid Username or Password") in failures
        assert len(failures) == 6
        assert not [row for row in await logs(berth) if row[0] in ("user_create", "login_success")]


async def test_unreachable_directory_is_a_clear_refusal(configured: Configured, tmp_path) -> None:  # type: ignore[no-untyped-def]
    down = Slapd(tmp_path / "down")
    with running(down):
        config = down.config()
    # the directory is stopped now: nothing listens on its port
    async with configured(ACTION_LOG_AUDIT_LOGIN_FAILURES=True, **config) as berth:
        r = await signin(berth, "lara", password_of("lara"))
        refused(r, "The LDAP directory could not be reached; please try again later")
        assert not await user_exists(berth, "lara")
        assert [row[0] for row in await logs(berth)] == ["login_failure"]
        # a registry login says the same
        basic = base64.b64encode(f"lara:{password_of('lara')}".encode()).decode()
        r = await berth.http.get(
            "/v2/auth",
            params={"service": "localhost:5000", "scope": "repository:lara/app:pull,push"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert r.status_code == 401, r.text
        assert "could not be reached" in r.text


async def test_superuser_filter_and_restricted_filter(ldap_berth) -> None:  # type: ignore[no-untyped-def]
    async with ldap_berth(FEATURE_SUPERUSERS_FULL_ACCESS=False) as berth:
        r = await signin(berth, "olga", password_of("olga"))
        assert r.status_code == 200, r.text
        assert (await me(r))["super_user"] is True
        http: httpx.AsyncClient = r.extensions["client"]
        listed = await http.get("/api/v1/superuser/users/")
        assert listed.status_code == 200, listed.text
        r = await signin(berth, "lara", password_of("lara"))
        assert (await me(r))["super_user"] is False
        http = r.extensions["client"]
        assert (await http.get("/api/v1/superuser/users/")).status_code == 403


async def test_signup_and_password_changes_belong_to_the_directory(ldap_berth) -> None:  # type: ignore[no-untyped-def]
    async with ldap_berth() as berth:
        http = berth.http
        csrf = await _csrf(http)
        r = await http.post(
            "/api/v1/user/",
            json={"username": "newbie", "password": "newbie-password"},
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 404, r.text


async def test_registry_login_with_directory_password(ldap_berth) -> None:  # type: ignore[no-untyped-def]
    async with ldap_berth() as berth:
        basic = base64.b64encode(f"mike:{password_of('mike')}".encode()).decode()
        r = await berth.http.get(
            "/v2/auth",
            params={"service": "localhost:5000", "scope": "repository:mike/app:pull,push"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["token"]
        assert await user_exists(berth, "mike")
        bad = base64.b64encode(b"mike:not-his-password").decode()
        r = await berth.http.get(
            "/v2/auth",
            params={"service": "localhost:5000"},
            headers={"Authorization": f"Basic {bad}"},
        )
        assert r.status_code == 401


async def test_entity_search_offers_directory_users_and_link_creates_them(ldap_berth) -> None:  # type: ignore[no-untyped-def]
    async with ldap_berth() as berth:
        r = await signin(berth, "lara", password_of("lara"))
        http: httpx.AsyncClient = r.extensions["client"]
        found = await http.get("/api/v1/entities/mik", params={"includeOrgs": "false"})
        assert found.status_code == 200, found.text
        (mike,) = [e for e in found.json()["results"] if e["name"] == "mike"]
        assert mike["kind"] == "external"
        assert not await user_exists(berth, "mike")
        csrf = await _csrf(http)
        linked = await http.post(
            "/api/v1/entities/link/mike", json={}, headers={"X-CSRF-Token": csrf}
        )
        assert linked.status_code == 200, linked.text
        entity = linked.json()["entity"]
        assert (entity["name"], entity["kind"], entity["is_robot"]) == ("mike", "user", False)
        assert await user_exists(berth, "mike")
        found = await http.get("/api/v1/entities/mike")
        (mike,) = [e for e in found.json()["results"] if e["name"] == "mike"]
        assert mike["kind"] == "user"
        # a user outside the filter, or nobody at all, is not found
        for name in ("nina", "nobody"):
            r = await http.post(
                f"/api/v1/entities/link/{name}", json={}, headers={"X-CSRF-Token": csrf}
            )
            assert r.status_code == 404, r.text
        assert not await user_exists(berth, "nina")


async def test_entities_link_is_404_with_database_auth(configured: Configured) -> None:
    async with configured() as berth:
        http = berth.http
        r = await signin(berth, "alice", "alice-password")
        http = r.extensions["client"]
        csrf = await _csrf(http)
        r = await http.post("/api/v1/entities/link/alice", json={}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 404


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
async def test_tls_to_the_directory_trusts_the_extra_ca(  # type: ignore[no-untyped-def]
    ldap_berth, slapd: Slapd, tmp_path, mode: str
) -> None:
    extra = {"LDAP_URI": slapd.ldaps_uri} if mode == "ldaps" else {"BERTH_LDAP_STARTTLS": True}
    # without the directory's CA the certificate is refused: no sign-in
    async with ldap_berth(**extra) as berth:
        r = await signin(berth, "lara", password_of("lara"))
        refused(r, "The LDAP directory could not be reached; please try again later")
        assert not await user_exists(berth, "lara")
    # Quay's extra_ca_certs beside config.yaml
    ca_dir = tmp_path / "configured" / "extra_ca_certs"
    ca_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(slapd.ca_path, ca_dir / "ldap-ca.crt")
    async with ldap_berth(**extra) as berth:
        r = await signin(berth, "lara", password_of("lara"))
        assert r.status_code == 200, r.text


async def test_restricted_filter_restricts_registry_logins(ldap_berth) -> None:  # type: ignore[no-untyped-def]
    """LDAP_RESTRICTED_USER_FILTER: pete may not create repositories in his namespace."""
    async with ldap_berth() as berth:
        for name, pushes in (("pete", False), ("mike", True)):
            basic = base64.b64encode(f"{name}:{password_of(name)}".encode()).decode()
            r = await berth.http.get(
                "/v2/auth",
                params={"service": "localhost:5000", "scope": f"repository:{name}/app:pull,push"},
                headers={"Authorization": f"Basic {basic}"},
            )
            assert r.status_code == 200, r.text
            access = unverified_claims(r.json()["token"])["access"]
            granted = access[0]["actions"] if access else []
            assert ("push" in granted) is pushes, (name, access)


async def test_global_readonly_superuser_filter(ldap_berth) -> None:  # type: ignore[no-untyped-def]
    """LDAP_GLOBAL_READONLY_SUPERUSER_FILTER: a matching directory user is a global read-only
    superuser (the verdict stored at each sign-in): it reads another user's private
    repository and the superuser panel, and changes nothing."""
    async with ldap_berth(LDAP_GLOBAL_READONLY_SUPERUSER_FILTER="(uid=mike)") as berth:
        lara = berth.client("lara", password=password_of("lara"), basic=True)
        await lara.push_image("lara/app", "v1")  # private: lara's own namespace
        r = await signin(berth, "mike", password_of("mike"))
        assert r.status_code == 200, r.text
        mine = await me(r)
        assert mine["super_user"] is False
        assert mine["global_readonly_super_user"] is True
        http: httpx.AsyncClient = r.extensions["client"]
        assert (await http.get("/api/v1/repository/lara/app")).status_code == 200
        assert (await http.get("/api/v1/superuser/users/")).status_code == 200
        csrf = await _csrf(http)
        r = await http.post(
            "/api/v1/repository/lara/app/changevisibility",
            json={"visibility": "public"},
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 403, r.text
        mike = berth.client("mike", password=password_of("mike"), basic=True)
        assert (await mike.get("/v2/lara/app/manifests/v1")).status_code == 200
        record = await berth.services.accounts.get_user("mike")
        assert record is not None
        assert record.readonly_superuser_flag is True
        r = await signin(berth, "lara", password_of("lara"))
        assert (await me(r))["global_readonly_super_user"] is False

    # the directory no longer says so: the next sign-in clears the stored flag
    async with ldap_berth(LDAP_GLOBAL_READONLY_SUPERUSER_FILTER="(uid=nobody)") as berth:
        r = await signin(berth, "mike", password_of("mike"))
        assert r.status_code == 200, r.text
        assert (await me(r))["global_readonly_super_user"] is False
        http = r.extensions["client"]
        assert (await http.get("/api/v1/repository/lara/app")).status_code == 403
