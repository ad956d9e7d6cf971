"""OpenID Connect sign-in against a real provider (oidc-provider on nodejs): the
authorization-code flow with PKCE through Berth's browser routes, account creation, JWKS
rotation, refusals (state, nonce, issuer, audience, signature), app tokens for registry
logins, and the SSO JWT bearer on /api/v1."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text

from berth.auth.oidc import OidcError, PendingLogin
from tests.integration.api.conftest import oauth_token
from tests.integration.conftest import BASE_URL, Berth
from tests.support.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider, drive_login

pytestmark = pytest.mark.slow

Configured = Callable[..., contextlib.AbstractAsyncContextManager[Berth]]
CALLBACK = f"{BASE_URL}/oauth2/testidp/callback"


@contextlib.asynccontextmanager
async def oidc_berth(
    configured: Configured, provider: OidcProvider, **extra: Any
) -> AsyncIterator[Berth]:
    async with configured(
        TESTIDP_LOGIN_CONFIG=provider.login_config(),
        SSRF_ALLOWED_HOSTS=["127.0.0.1"],
        # refused sign-ins are logged when Quay's ACTION_LOG_AUDIT_LOGIN_FAILURES asks
        ACTION_LOG_AUDIT_LOGIN_FAILURES=True,
        **extra,
    ) as berth:
        yield berth


_OPEN: list[httpx.AsyncClient] = []


@pytest.fixture(autouse=True)
async def _close_browsers() -> AsyncIterator[None]:
    yield
    while _OPEN:
        await _OPEN.pop().aclose()


def browser(berth: Berth, *, follow: bool = True) -> httpx.AsyncClient:
    """A client that reaches Berth in-process and the provider over the network (closed
    after the test)."""
    client = httpx.AsyncClient(
        mounts={BASE_URL: httpx.ASGITransport(app=berth.app)},
        base_url=BASE_URL,
        follow_redirects=follow,
        timeout=30,
    )
    _OPEN.append(client)
    return client


async def sign_in_through_provider(berth: Berth, login: str) -> httpx.AsyncClient:
    http = browser(berth)
    last = await drive_login(http, f"{BASE_URL}/oauth2/testidp/login?redirect=/repository/", login)
    hops = [str(r.url).split("?")[0] for r in last.history]
    assert CALLBACK in hops, (hops, last.text[:300])
    assert str(last.url) == f"{BASE_URL}/repository/"
    return http


async def provider_code(berth: Berth, pending: PendingLogin, login: str) -> str:
    """Drive the provider for ``pending`` and return the code it sends to the callback."""
    service = berth.services.oidc.get("testidp")
    url = await service.authorization_url(pending)
    async with httpx.AsyncClient(follow_redirects=False, timeout=30) as http:
        r = await drive_login(http, url, login)
        for _ in range(10):
            location = r.headers.get("location", "")
            if location.startswith(CALLBACK):
                query = dict(httpx.URL(location).params)
                assert query["state"] == pending.state
                return query["code"]
            assert r.is_redirect, r.text[:300]
            r = await http.get(httpx.URL(str(r.url)).join(location))
            if r.status_code == 200:
                r = await drive_login(http, str(r.url), login)
    raise AssertionError("the provider never redirected to the callback")


async def id_token_for(berth: Berth, provider: OidcProvider, login: str) -> str:
    pending = PendingLogin.new("testidp")
    code = await provider_code(berth, pending, login)
    async with httpx.AsyncClient() as http:
        r = await http.post(
            f"{provider.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": CALLBACK,
                "code_verifier": pending.verifier,
            },
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
    assert r.status_code == 200, r.text
    return str(r.json()["id_token"])


async def logs(berth: Berth) -> list[tuple[Any, ...]]:
    async with berth.services.db.read() as s:
        rows = await s.execute(
            text("SELECT kind, namespace, metadata FROM log_entries ORDER BY id")
        )
    return [
        (kind, ns, json.loads(meta) if isinstance(meta, str) else meta)
        for kind, ns, meta in rows.all()
    ]


async def test_sign_in_through_the_provider_creates_the_account(  # type: ignore[no-untyped-def]
    configured, oidc_provider: OidcProvider
) -> None:
    async with oidc_berth(configured, oidc_provider) as berth:
        http = await sign_in_through_provider(berth, "carla")
        me = await http.get("/api/v1/user/")
        assert me.status_code == 200, me.text
        assert me.json()["username"] == "carla"
        assert me.json()["email"] == "carla@example.org"
        # again: the same account
        http = await sign_in_through_provider(berth, "carla")
        assert (await http.get("/api/v1/user/")).json()["username"] == "carla"
        kinds = [(k, ns) for k, ns, _ in await logs(berth)]
        assert kinds.count(("user_create", "carla")) == 1
        assert kinds.count(("login_success", "carla")) == 2


async def test_a_provider_never_takes_over_an_existing_name(  # type: ignore[no-untyped-def]
    configured, oidc_provider: OidcProvider
) -> None:
    """``alice`` exists in Berth (a Database user); the provider's ``dave`` claims the
    preferred_username of... his own; a provider user named like an existing one gets a
    name of its own."""
    async with oidc_berth(configured, oidc_provider) as berth:
        await berth.services.accounts.create_user("dave", "dave-password-1")
        http = await sign_in_through_provider(berth, "dave")
        me = (await http.get("/api/v1/user/")).json()
        assert me["username"] == "dave1"


async def test_key_rotation_is_followed(configured, oidc_provider: OidcProvider) -> None:  # type: ignore[no-untyped-def]
    async with oidc_berth(configured, oidc_provider) as berth:
        await sign_in_through_provider(berth, "carla")
        oidc_provider.rotate_keys()  # new kid: Berth fetches the JWKS again
        http = await sign_in_through_provider(berth, "carla")
        assert (await http.get("/api/v1/user/")).json()["username"] == "carla"


async def test_wrong_state_is_refused_and_logged(configured, oidc_provider: OidcProvider) -> None:  # type: ignore[no-untyped-def]
    async with oidc_berth(configured, oidc_provider) as berth:
        http = browser(berth, follow=False)
        r = await http.get("/oauth2/testidp/login")
        assert r.status_code == 302
        assert r.headers["location"].startswith(f"{oidc_provider.issuer}/auth?")
        params = dict(httpx.URL(r.headers["location"]).params)
        assert params["code_challenge_method"] == "S256"
        assert params["redirect_uri"] == CALLBACK
        r = await http.get("/oauth2/testidp/callback", params={"state": "forged", "code": "x"})
        assert r.status_code == 403
        assert "state does not match" in r.json()["error"]
        # no pending sign-in at all (another browser)
        r = await browser(berth).get(
            "/oauth2/testidp/callback", params={"state": params["state"], "code": "x"}
        )
        assert r.status_code == 403
        assert (await http.get("/api/v1/user/")).status_code == 401
        failures = [meta for kind, _, meta in await logs(berth) if kind == "login_failure"]
        assert len(failures) == 2
        assert all(m["service"] == "testidp" for m in failures)
        assert not [k for k, _, _ in await logs(berth) if k == "user_create"]


async def test_id_token_checks(configured, oidc_provider: OidcProvider) -> None:  # type: ignore[no-untyped-def]
    async with oidc_berth(configured, oidc_provider) as berth:
        service = berth.services.oidc.get("testidp")
        # a nonce other than the one sent: refused
        pending = PendingLogin.new("testidp")
        code = await provider_code(berth, pending, "carla")
        with pytest.raises(OidcError, match="nonce"):
            await service.exchange(code, dataclasses.replace(pending, nonce="another"))
        token = await id_token_for(berth, oidc_provider, "carla")
        claims = await service.verify(token, audience=CLIENT_ID)
        assert claims["sub"] == "carla"
        with pytest.raises(OidcError, match="another audience"):
            await service.verify(token, audience="someone-else")
        other = dataclasses.replace(
            service, settings=dataclasses.replace(service.settings, issuer="http://evil.test")
        )
        with pytest.raises(OidcError, match="another issuer"):
            await other.verify(token, audience=CLIENT_ID)
        head, body, sig = token.split(".")
        forged = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        forged["sub"] = "dave"
        forged_body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
        with pytest.raises(OidcError, match="signature"):
            await service.verify(f"{head}.{forged_body}.{sig}", audience=CLIENT_ID)
        # signed by a key the provider does not publish
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        alien = jwt.encode(
            {**claims, "sub": "dave"}, key, algorithm="RS256", headers={"kid": "key-1"}
        )
        with pytest.raises(OidcError, match="signature"):
            await service.verify(alien, audience=CLIENT_ID)
        expired = jwt.encode({**claims, "exp": 1000, "iat": 900}, key, algorithm="RS256")
        with pytest.raises(OidcError):
            await service.verify(expired, audience=CLIENT_ID)


async def test_sso_jwt_bearer_and_app_token_registry_login(  # type: ignore[no-untyped-def]
    configured, oidc_provider: OidcProvider
) -> None:
    async with oidc_berth(configured, oidc_provider) as berth:
        token = await id_token_for(berth, oidc_provider, "carla")
        auth = {"Authorization": f"Bearer {token}"}
        r = await berth.http.get("/api/v1/user/", headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["username"] == "carla"  # created on first use, as at sign-in
        # no CSRF token needed with it; an app token for registry logins
        r = await berth.http.post("/api/v1/user/apptoken", json={"title": "ci"}, headers=auth)
        assert r.status_code == 200, r.text
        app_token = r.json()["token"]["token_code"]
        basic = base64.b64encode(f"$app:{app_token}".encode()).decode()
        r = await berth.http.get(
            "/v2/auth",
            params={"service": "localhost:5000", "scope": "repository:carla/app:pull,push"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert r.status_code == 200, r.text
        # an access token for another audience, and a tampered token: 401 at once
        ci = oidc_provider.client_credentials()
        r = await berth.http.get("/api/v1/user/", headers={"Authorization": f"Bearer {ci}"})
        assert r.status_code == 401, r.text
        r = await berth.http.get(
            "/api/v1/user/", headers={"Authorization": f"Bearer {token[:-4]}AAAA"}
        )
        assert r.status_code == 401, r.text


async def test_team_follows_the_group_claim(configured, oidc_provider: OidcProvider) -> None:  # type: ignore[no-untyped-def]
    """FEATURE_TEAM_SYNCING with OpenID Connect: a team bound to ``group_name`` gains and
    loses members as they sign in with or without that group in their claim."""
    login = oidc_provider.login_config(
        LOGIN_SCOPES=["openid", "email", "profile", "groups"],
        PREFERRED_GROUP_CLAIM_NAME="groups",
    )
    async with configured(
        TESTIDP_LOGIN_CONFIG=login, SSRF_ALLOWED_HOSTS=["127.0.0.1"], FEATURE_TEAM_SYNCING=True
    ) as berth:
        root = {"Authorization": f"Bearer {await oauth_token(berth, 'root')}"}
        r = await berth.http.post(
            "/api/v1/organization/", json={"name": "lab", "email": "lab@example.org"}, headers=root
        )
        assert r.status_code == 201, r.text
        r = await berth.http.put(
            "/api/v1/organization/lab/team/devs", json={"role": "member"}, headers=root
        )
        assert r.status_code == 200, r.text
        r = await berth.http.post(
            "/api/v1/organization/lab/team/devs/syncing", json={"group_dn": "x"}, headers=root
        )
        assert r.status_code == 400
        assert r.json()["error_message"] == "Could not sync to group: Missing group_name"
        r = await berth.http.post(
            "/api/v1/organization/lab/team/devs/syncing",
            json={"group_name": "devs"},
            headers=root,
        )
        assert r.status_code == 200, r.text
        await sign_in_through_provider(berth, "carla")  # groups: devs
        await sign_in_through_provider(berth, "dave")  # groups: ops
        r = await berth.http.get("/api/v1/organization/lab/team/devs/members", headers=root)
        view = r.json()
        assert {m["name"] for m in view["members"]} == {"carla"}
        assert view["synced"]["service"] == "oidc"
        assert view["synced"]["config"] == {"group_name": "devs"}
        r = await berth.http.put("/api/v1/organization/lab/team/devs/members/dave", headers=root)
        assert r.status_code == 400
        assert r.json()["error_message"] == "Cannot call this method on an auth-synced team"
