"""/v2/ base endpoint, the token endpoint, bearer token checks, HTTP Basic and who may do what."""

from __future__ import annotations

import base64
import json
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.conftest import (
    BASE_URL,
    HOST,
    Berth,
    Client,
    assert_error,
    digest_of,
    parse_challenge,
    token_access,
    unverified_claims,
)

API_VERSION = ("docker-distribution-api-version", "registry/2.0")


def assert_challenge(resp, *, scope: str | None = None) -> dict[str, str]:
    scheme, params = parse_challenge(resp.headers["www-authenticate"])
    assert scheme == "bearer"
    assert params["realm"] == f"{BASE_URL}/v2/auth"
    assert params["service"] == HOST
    if scope is not None:
        assert params.get("scope") == scope
    return params


# ----------------------------------------------------------------------------------- /v2/


async def test_base_anonymous_gets_challenge(registry: Berth) -> None:
    for method in ("GET", "HEAD"):
        resp = await registry.http.request(method, "/v2/")
        assert_error(resp, 401, "UNAUTHORIZED")
        assert resp.headers.get(API_VERSION[0]) == API_VERSION[1]
        params = assert_challenge(resp)
        assert "scope" not in params


async def test_base_with_basic_credentials(registry: Berth) -> None:
    resp = await registry.client("alice", basic=True).get("/v2/")
    assert resp.status_code == 200
    assert resp.headers.get(API_VERSION[0]) == API_VERSION[1]
    assert resp.json() == {}


async def test_base_with_bearer_token_from_challenge(registry: Berth, alice: Client) -> None:
    resp = await alice.get("/v2/")
    assert resp.status_code == 200, resp.text
    assert resp.headers.get(API_VERSION[0]) == API_VERSION[1]
    assert alice.token_requests == 1


async def test_base_with_wrong_password(registry: Berth) -> None:
    resp = await registry.client("alice", basic=True, password="wrong-password").get("/v2/")
    assert_error(resp, 401, "UNAUTHORIZED")
    assert_challenge(resp)


# ---------------------------------------------------------------------------- /v2/auth


async def test_token_for_own_repository(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    resp = await alice.token("repository:alice/app:pull,push")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    token = resp.json()["token"]
    claims = unverified_claims(token)
    assert claims["sub"] == "alice"
    assert claims["aud"] == HOST
    assert claims["exp"] > time.time()
    assert token_access(token) == {"alice/app": {"pull", "push"}}


async def test_token_without_scope_is_a_login(registry: Berth, alice: Client) -> None:
    resp = await alice.token()
    assert resp.status_code == 200
    assert token_access(resp.json()["token"]) == {}


async def test_token_drops_scopes_it_cannot_grant(
    registry: Berth, alice: Client, bob: Client
) -> None:
    await bob.push_image("bob/secret", "v1")
    await alice.push_image("alice/app", "v1")
    resp = await alice.token(
        "repository:bob/secret:pull,push", "repository:alice/app:pull", "repository:bob/nope:pull"
    )
    assert resp.status_code == 200, resp.text
    access = token_access(resp.json()["token"])
    assert access.get("alice/app") == {"pull"}
    assert not access.get("bob/secret")
    assert not access.get("bob/nope")


MALFORMED_SCOPES = [
    "garbage",
    "repository:alice/app",
    "repository:alice/app:fly",
    "repository:Alice/App:pull",
    "repository::pull",
]


async def test_token_malformed_scope_is_400(registry: Berth, alice: Client) -> None:
    for scope in MALFORMED_SCOPES:
        resp = await alice.token(scope)
        assert resp.status_code == 400, f"{scope}: {resp.status_code} {resp.text}"
        assert_error(resp, 400, resp.json()["errors"][0]["code"])


async def test_token_unknown_action_is_400(registry: Berth, alice: Client) -> None:
    for scope in ("repository:alice/app:pull,fly", "repository:alice/app:admin"):
        resp = await alice.token(scope)
        assert_error(resp, 400, "INVALID_REQUEST")
        assert "Unable to decode repository and actions" in resp.json()["errors"][0]["message"]


async def test_token_scope_with_server_hostname_is_echoed(registry: Berth, alice: Client) -> None:
    """``repository:<SERVER_HOSTNAME>/alice/app:...``: granted, the name echoed as requested,
    and the token works on ``/v2/alice/app``."""
    resp = await alice.token(f"repository:{HOST}/alice/app:push,pull")
    assert resp.status_code == 200, resp.text
    token = resp.json()["token"]
    assert token_access(token) == {f"{HOST}/alice/app": {"push", "pull"}}
    start = await alice.http.post(
        "/v2/alice/app/blobs/uploads/", headers={"Authorization": f"Bearer {token}"}
    )
    assert start.status_code == 202, start.text


async def test_token_wrong_password(registry: Berth) -> None:
    client = registry.client("alice", password="not-the-password")
    resp = await client.token("repository:alice/app:pull")
    assert_error(resp, 401, "UNAUTHORIZED")
    assert "token" not in resp.text


async def test_token_unknown_user(registry: Berth) -> None:
    resp = await registry.client("mallory", password="whatever-pw").token()
    assert_error(resp, 401, "UNAUTHORIZED")


async def test_token_anonymous_with_scope(registry: Berth, anon: Client) -> None:
    resp = await anon.token("repository:alice/app:pull")
    assert resp.status_code == 200, resp.text
    token = resp.json()["token"]
    assert not token_access(token).get("alice/app")


async def test_token_anonymous_without_scope_is_401(registry: Berth, anon: Client) -> None:
    resp = await anon.token()
    assert_error(resp, 401, "UNAUTHORIZED")


# ------------------------------------------------------------------------ bearer checks


async def test_token_for_another_repository_is_refused(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    await alice.push_image("alice/other", "v1")
    token = await alice.login("alice/app", "pull")
    resp = await registry.http.get(
        "/v2/alice/other/tags/list", headers={"Authorization": f"Bearer {token}"}
    )
    assert_error(resp, 401, "UNAUTHORIZED")
    params = assert_challenge(resp, scope="repository:alice/other:pull")
    assert params.get("error") == "insufficient_scope"
    ok = await registry.http.get(
        "/v2/alice/app/tags/list", headers={"Authorization": f"Bearer {token}"}
    )
    assert ok.status_code == 200


async def test_pull_token_cannot_push(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    token = await alice.login("alice/app", "pull")
    resp = await registry.http.post(
        "/v2/alice/app/blobs/uploads/", headers={"Authorization": f"Bearer {token}"}
    )
    assert_error(resp, 401, "UNAUTHORIZED")
    assert_challenge(resp, scope="repository:alice/app:pull,push")


def _kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


async def _valid_token(alice: Client) -> str:
    await alice.push_image("alice/app", "v1")
    return await alice.login("alice/app", "pull")


async def _status_with(registry: Berth, token: str) -> int:
    resp = await registry.http.get(
        "/v2/alice/app/tags/list", headers={"Authorization": f"Bearer {token}"}
    )
    if resp.status_code == 401:
        assert_error(resp, 401, "UNAUTHORIZED")
        assert_challenge(resp)
    return resp.status_code


async def test_token_signed_by_another_key_is_401(registry: Berth, alice: Client) -> None:
    real = await _valid_token(alice)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    claims = unverified_claims(real)
    forged = jwt.encode(claims, pem, algorithm="RS256", headers={"kid": _kid(real)})
    assert await _status_with(registry, forged) == 401
    unknown_kid = jwt.encode(claims, pem, algorithm="RS256", headers={"kid": "x"})
    assert await _status_with(registry, unknown_kid) == 401
    assert await _status_with(registry, real) == 200


async def test_tampered_token_is_401(registry: Berth, alice: Client) -> None:
    real = await _valid_token(alice)
    header, _, signature = real.split(".")
    claims = unverified_claims(real)
    claims["sub"] = "root"
    claims["access"].append({"type": "repository", "name": "alice/app", "actions": ["*"]})
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert await _status_with(registry, f"{header}.{forged_payload}.{signature}") == 401


async def test_unsigned_token_is_401(registry: Berth, alice: Client) -> None:
    real = await _valid_token(alice)
    none = jwt.encode(unverified_claims(real), None, algorithm="none", headers={"kid": _kid(real)})
    assert await _status_with(registry, none) == 401


async def test_garbage_token_is_401(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    for garbage in ("", "abc", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA"):
        assert await _status_with(registry, garbage) == 401, garbage


async def test_expired_token_is_401(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    access = [{"type": "repository", "name": "alice/app", "actions": ["pull"]}]
    fresh = registry.issue_token("alice", access, ttl_s=300)
    assert await _status_with(registry, fresh) == 200
    expired = registry.issue_token("alice", access, ttl_s=-600)
    assert await _status_with(registry, expired) == 401


async def test_token_for_another_audience_is_401(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    access = [{"type": "repository", "name": "alice/app", "actions": ["pull"]}]
    token = registry.issue_token("alice", access, audience="other.example:5000")
    assert await _status_with(registry, token) == 401


async def test_token_with_too_long_lifetime_is_401(registry: Berth, alice: Client) -> None:
    """Berth rule: a token living more than ~an hour is not one Berth would issue."""
    await alice.push_image("alice/app", "v1")
    access = [{"type": "repository", "name": "alice/app", "actions": ["pull"]}]
    token = registry.issue_token("alice", access, ttl_s=24 * 3600)
    assert await _status_with(registry, token) == 401


async def test_unsupported_authorization_scheme_is_401(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    resp = await registry.http.get(
        "/v2/alice/app/tags/list", headers={"Authorization": "Digest username=alice"}
    )
    assert_error(resp, 401, "UNAUTHORIZED")


# ---------------------------------------------------------------------------- HTTP Basic


async def test_basic_push_and_pull(registry: Berth) -> None:
    alice = registry.client("alice", basic=True)
    pushed = await alice.push_image("alice/basic", "v1")
    resp = await alice.get("/v2/alice/basic/manifests/v1")
    assert resp.status_code == 200
    assert resp.content == pushed.manifest
    assert alice.token_requests == 0


async def test_basic_wrong_password_on_repository_endpoint(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    client = registry.client("alice", basic=True, password="wrong-password")
    resp = await client.get("/v2/alice/app/tags/list")
    assert_error(resp, 401, "UNAUTHORIZED")
    assert_challenge(resp)


async def test_basic_other_user_is_denied(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    bob = registry.client("bob", basic=True)
    assert_error(await bob.get("/v2/alice/app/tags/list"), 403, "DENIED")
    assert_error(await bob.get("/v2/alice/app/manifests/v1"), 403, "DENIED")
    assert_error(await bob.post("/v2/alice/app/blobs/uploads/"), 403, "DENIED")


# --------------------------------------------------------------------------- who may do what


async def test_private_repository_invisible_to_others(
    registry: Berth, alice: Client, bob: Client, anon: Client
) -> None:
    pushed = await alice.push_image("alice/private", "v1")
    for client in (bob, anon):
        resp = await client.get("/v2/alice/private/manifests/v1")
        assert_error(resp, 401, "UNAUTHORIZED")
        resp = await client.get(f"/v2/alice/private/blobs/{digest_of(pushed.config)}")
        assert resp.status_code == 401


async def test_public_repository_pull_by_anyone_push_by_owner(
    registry: Berth, alice: Client, bob: Client, anon: Client
) -> None:
    pushed = await alice.push_image("alice/public", "v1")
    await registry.set_public("alice/public")
    for client in (anon, bob):
        resp = await client.get("/v2/alice/public/manifests/v1")
        assert resp.status_code == 200, resp.text
        assert resp.content == pushed.manifest
        blob = await client.get(f"/v2/alice/public/blobs/{digest_of(pushed.layers[0])}")
        assert blob.status_code == 200
        assert blob.content == pushed.layers[0]
        resp = await client.post("/v2/alice/public/blobs/uploads/")
        assert_error(resp, 401, "UNAUTHORIZED")
        resp = await client.delete(f"/v2/alice/public/manifests/{pushed.digest}")
        assert_error(resp, 401, "UNAUTHORIZED")
    assert (await alice.get("/v2/alice/public/manifests/v1")).status_code == 200


async def test_user_cannot_push_to_another_namespace(registry: Berth, alice: Client) -> None:
    resp = await alice.post("/v2/bob/app/blobs/uploads/")
    assert_error(resp, 401, "UNAUTHORIZED")
    resp = await alice.post("/v2/neworg/app/blobs/uploads/")
    assert_error(resp, 401, "UNAUTHORIZED")


async def test_superusers_everywhere(registry: Berth, alice: Client) -> None:
    """root is a superuser through SUPER_USERS, admin through its account flag."""
    pushed = await alice.push_image("alice/app", "v1")
    for superuser in ("root", "admin"):
        su = registry.client(superuser)
        resp = await su.get("/v2/alice/app/manifests/v1")
        assert resp.status_code == 200, superuser
        assert resp.content == pushed.manifest
        again = await su.push_image("alice/app", f"from-{superuser}")
        resp = await alice.get(f"/v2/alice/app/manifests/from-{superuser}")
        assert resp.content == again.manifest
        org = await su.push_image(f"org{superuser}/tool", "v1")
        assert (await su.get(f"/v2/org{superuser}/tool/manifests/v1")).content == org.manifest


async def test_token_for_a_new_repository_grants_pull_and_push(
    registry: Berth, alice: Client
) -> None:
    """docker push asks for pull,push on a repository that doesn't exist yet, then HEADs."""
    resp = await alice.token("repository:alice/fresh:pull,push")
    assert resp.status_code == 200
    token = resp.json()["token"]
    assert token_access(token) == {"alice/fresh": {"pull", "push"}}
    head = await registry.http.head(
        f"/v2/alice/fresh/blobs/{digest_of(b'layer')}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert head.status_code == 404


async def test_one_token_per_repository(registry: Berth, alice: Client) -> None:
    """The token dance: one token for a push and the pulls after it, then bearer only."""
    await alice.push_image("alice/app", "v1")
    assert alice.token_requests == 1
    for _ in range(3):
        assert (await alice.get("/v2/alice/app/manifests/v1")).status_code == 200
    assert alice.token_requests == 1


async def test_docker_login_style_token_request(registry: Berth) -> None:
    """docker login sends account, client_id and offline_token; scopes may be space-joined."""
    creds = base64.b64encode(b"alice:alice-password").decode()
    resp = await registry.http.get(
        "/v2/auth",
        params={
            "account": "alice",
            "client_id": "docker",
            "offline_token": "true",
            "service": HOST,
            "scope": "repository:alice/a:pull repository:alice/b:pull",
        },
        headers={"Authorization": f"Basic {creds}"},
    )
    assert resp.status_code == 200, resp.text
    assert unverified_claims(resp.json()["token"])["sub"] == "alice"


async def test_oauth_post_to_token_endpoint_lets_containerd_fall_back(registry: Berth) -> None:
    """containerd POSTs (OAuth2 password grant) first and falls back to GET on 404/405."""
    resp = await registry.http.post(
        "/v2/auth",
        data={
            "grant_type": "password",
            "username": "alice",
            "password": "alice-password",
            "service": HOST,
            "scope": "repository:alice/app:pull",
            "client_id": "containerd",
        },
    )
    if resp.status_code == 200:
        assert resp.json().get("access_token") or resp.json().get("token")
    else:
        assert resp.status_code in (404, 405), resp.text


async def test_anonymous_pull_of_public_repository_without_token(
    registry: Berth, alice: Client
) -> None:
    pushed = await alice.push_image("alice/public", "v1")
    await registry.set_public("alice/public")
    resp = await registry.http.get("/v2/alice/public/manifests/v1")
    if resp.status_code == 401:  # a challenge is fine too: the token dance then succeeds
        resp = await registry.client(None).get("/v2/alice/public/manifests/v1")
    assert resp.status_code == 200
    assert resp.content == pushed.manifest


async def test_registry_catalog_scope_is_refused_as_quay_does(
    registry: Berth, alice: Client
) -> None:
    """Quay cannot issue ``registry:catalog:*`` (400 "Unable to decode repository and
    actions"); catalog calls work with a scope-less login token instead."""
    await alice.push_image("alice/app", "v1")
    resp = await alice.token("registry:catalog:*")
    assert_error(resp, 400, "INVALID_REQUEST")
    login = await alice.token()
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    listing = await registry.http.get("/v2/_catalog", headers={"Authorization": f"Bearer {token}"})
    assert listing.status_code == 200
    assert listing.json() == {"repositories": ["alice/app"]}


async def test_catalog_scope_accepted_when_configured(registry_config: dict, tmp_path) -> None:
    """BERTH_ALLOW_CATALOG_SCOPE: crane's ``registry:catalog:*`` gets a token (nothing granted
    by it) and the catalog answers by identity."""
    import httpx

    from berth.config import load_settings
    from berth.http.app import create_app
    from tests.conftest import write_config
    from tests.integration.conftest import BASE_URL

    settings = load_settings(
        write_config(tmp_path, {**registry_config, "BERTH_ALLOW_CATALOG_SCOPE": True}), env={}
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http,
    ):
        alice = Client(http, "alice")
        await alice.push_image("alice/app", "v1")
        resp = await alice.token("registry:catalog:*")
        assert resp.status_code == 200, resp.text
        token = resp.json()["token"]
        listing = await http.get("/v2/_catalog", headers={"Authorization": f"Bearer {token}"})
        assert listing.json() == {"repositories": ["alice/app"]}


async def test_parallel_tokens_for_a_new_repository_all_succeed(registry: Berth) -> None:
    """podman asks for several push tokens at once for a repository that doesn't exist
    yet: every request gets its token and exactly one repository is created."""
    import asyncio

    clients = [registry.client("alice") for _ in range(8)]
    responses = await asyncio.gather(
        *(c.token("repository:alice/raced:pull,push") for c in clients)
    )
    assert [r.status_code for r in responses] == [200] * 8
    for r in responses:
        assert token_access(r.json()["token"]) == {"alice/raced": {"pull", "push"}}
