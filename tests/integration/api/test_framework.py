"""The /api/v1 framework: routing, error shapes, bodies, CSRF, anonymous and read-only."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.responses import Response

from berth.http.api.v1.app import api_v1_routes
from berth.http.api.v1.errors import json_response
from berth.http.api.v1.framework import ApiRoute, Ctx
from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import BASE_URL, Berth

CSRF_BODY = {"error": "CSRF token was invalid or missing."}
NOT_FOUND_BODY = {
    "message": "The requested URL was not found on the server. If you entered the URL "
    "manually please check your spelling and try again."
}


def assert_problem(r: httpx.Response, status: int, error_type: str, detail: str) -> dict[str, Any]:
    """Shape A (Quay's ApiException)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["status"] == status
    assert body["error_type"] == error_type
    assert body["title"] == error_type
    assert body["detail"] == detail
    assert body["error_message"] == detail
    assert body["type"] == f"{BASE_URL}/api/v1/error/{error_type}"
    return body


async def test_slashless_collection_redirects_308(registry: Berth) -> None:
    r = await registry.http.get("/api/v1/user")
    assert r.status_code == 308
    assert r.headers["location"] == f"{BASE_URL}/api/v1/user/"
    r = await registry.http.get("/api/v1/superuser/users?limit=5")
    assert r.status_code == 308
    assert r.headers["location"] == f"{BASE_URL}/api/v1/superuser/users/?limit=5"
    token = await oauth_token(registry, "alice")
    r = await registry.http.get("/api/v1/user", headers=bearer(token), follow_redirects=True)
    assert r.status_code == 200
    assert r.json()["username"] == "alice"


async def test_unknown_paths_and_methods(registry: Berth) -> None:
    r = await registry.http.get("/api/v1/nothing/here")
    assert r.status_code == 404
    assert r.json() == NOT_FOUND_BODY
    r = await registry.http.get("/api/v1/discovery/")  # extra slash on a slash-less route
    assert r.status_code == 404
    r = await registry.http.patch("/api/v1/user/")
    assert r.status_code == 405
    assert r.json() == {"message": "The method is not allowed for the requested URL."}
    assert r.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, POST, PUT"
    r = await registry.http.options("/api/v1/user/")
    assert r.status_code == 200
    assert "PUT" in r.headers["allow"]
    r = await registry.http.head("/api/v1/users/alice")
    assert r.status_code == 200


async def test_anonymous_user_is_401_with_session_required(registry: Berth) -> None:
    r = await registry.http.get("/api/v1/user/")
    body = assert_problem(r, 401, "invalid_token", "Requires authentication")
    assert body["session_required"] is False


async def test_unknown_bearer_is_anonymous_and_writes_get_csrf_403(registry: Berth) -> None:
    unknown = bearer("A" * 40)
    r = await registry.http.get("/api/v1/user/", headers=unknown)
    assert_problem(r, 401, "invalid_token", "Requires authentication")
    r = await registry.http.post("/api/v1/user/apptoken", json={"title": "x"}, headers=unknown)
    assert r.status_code == 403
    assert r.json() == CSRF_BODY
    # Basic auth is ignored by /api/v1: a write with it is a CSRF failure too.
    basic = httpx.BasicAuth("alice", "alice-password")
    r = await registry.http.post("/api/v1/user/apptoken", json={"title": "x"}, auth=basic)
    assert r.status_code == 403
    assert r.json() == CSRF_BODY
    r = await registry.http.get("/api/v1/user/", auth=basic)
    assert r.status_code == 401


async def test_scopes_cap_what_a_token_reads(registry: Berth) -> None:
    token = await oauth_token(registry, "alice", "repo:read")
    r = await registry.http.get("/api/v1/user/", headers=bearer(token))
    assert_problem(r, 401, "invalid_token", "Requires authentication")
    token = await oauth_token(registry, "alice", "user:read")
    r = await registry.http.get("/api/v1/user/", headers=bearer(token))
    assert r.status_code == 200
    r = await registry.http.get("/api/v1/user/apptoken", headers=bearer(token))
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")


async def test_json_body_errors(registry: Berth) -> None:
    h = bearer(await oauth_token(registry, "alice"))
    r = await registry.http.post("/api/v1/user/apptoken", headers=h)
    assert r.status_code == 415
    assert r.json() == {
        "message": "Did not attempt to load JSON data because the request Content-Type "
        "was not 'application/json'."
    }
    json_h = {**h, "Content-Type": "application/json"}
    for raw in (b"", b"{not json"):
        r = await registry.http.post("/api/v1/user/apptoken", headers=json_h, content=raw)
        assert r.status_code == 400
        assert r.json() == {
            "message": "The browser (or proxy) sent a request that this server could not "
            "understand."
        }
    r = await registry.http.post("/api/v1/user/apptoken", headers=json_h, content=b"null")
    assert_problem(r, 400, "invalid_request", "Missing JSON body")
    r = await registry.http.post("/api/v1/user/apptoken", headers=h, json={})
    assert_problem(r, 400, "invalid_request", "'title' is a required property")
    r = await registry.http.post("/api/v1/user/apptoken", headers=h, json={"title": 5})
    assert_problem(r, 400, "invalid_request", "5 is not of type 'string'")
    # extra properties are allowed, as in Quay
    r = await registry.http.post(
        "/api/v1/user/apptoken", headers=h, json={"title": "ok", "extra": True}
    )
    assert r.status_code == 200


async def test_truthy_bool_query_parameters(registry: Berth) -> None:
    h = bearer(await oauth_token(registry, "alice"))
    for value, expected in [
        ("False", False),
        ("True", True),
        ("false", False),
        ("0", False),
        ("null", False),
        ("", False),
        ("yes", True),
        ("FALSE", False),
    ]:
        r = await registry.http.get(f"/api/v1/user/apptoken?expiring={value}", headers=h)
        assert r.status_code == 200
        assert r.json()["only_expiring"] is expected, value


async def test_error_descriptions(registry: Berth) -> None:
    r = await registry.http.get("/api/v1/error/invalid_token")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"type", "title", "description"}
    assert body["type"] == body["title"] == "invalid_token"
    r = await registry.http.get("/api/v1/error/no_such_error")
    assert_problem(r, 404, "not_found", "Not Found")


async def test_discovery_lists_every_registered_route(registry: Berth) -> None:
    r = await registry.http.get("/api/v1/discovery")
    assert r.status_code == 200
    doc = r.json()
    assert doc["swagger"] == "2.0"
    assert {"host", "basePath", "schemes", "info", "paths", "definitions", "tags"} <= set(doc)
    assert doc["securityDefinitions"]["oauth2_implicit"]["flow"] == "implicit"
    assert "super:user" in doc["securityDefinitions"]["oauth2_implicit"]["scopes"]
    api = registry.app.state.api
    public = {
        (rt.method.lower(), rt.full_path)
        for rt in api.routes
        if rt.prefix == "/api/v1" and rt.csrf and rt.enabled and not rt.internal
    }
    listed = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert listed == public
    assert ("get", "/api/v1/superuser/users/") in listed
    assert ("post", "/api/v1/signin") not in listed  # internal
    params = doc["paths"]["/api/v1/users/{username}"]["get"]["parameters"]
    assert params[0] == {
        "name": "username",
        "in": "path",
        "type": "string",
        "required": True,
        "description": "The username of the user",
    }
    # Every path parameter of every route is described (not just named).
    r = await registry.http.get("/api/v1/discovery?internal=True")
    undescribed = {
        (path, p["name"])
        for path, ops in r.json()["paths"].items()
        for op in ops.values()
        for p in op.get("parameters", [])
        if p["in"] == "path" and p["description"] == p["name"]
    }
    assert undescribed == set()
    assert ("post", "/api/v1/signin") in {
        (m, p) for p, ops in r.json()["paths"].items() for m in ops
    }
    r = await registry.http.get("/api/v1/discovery?internal=False")
    assert "/api/v1/signin" not in r.json()["paths"]


async def test_repository_parameter_accepts_percent_encoded_slash(registry: Berth) -> None:
    """Generated clients send ``org%2Frepo``; a repository route sees ``org/repo``."""

    async def echo(ctx: Ctx) -> Response:
        return json_response({"repository": ctx.params["repository"]})

    def module(_api: Any) -> list[ApiRoute]:
        return [
            ApiRoute("GET", "/echo/{repository}/tag/", echo, anon_allowed=True),
            ApiRoute("GET", "/echo/{repository}", echo, anon_allowed=True),
        ]

    app = Starlette(routes=api_v1_routes(registry.services, extra=(module,)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as h:
        for path in ("/api/v1/echo/org%2Frepo/tag/", "/api/v1/echo/org/repo/tag/"):
            r = await h.get(path)
            assert r.status_code == 200, path
            assert r.json() == {"repository": "org/repo"}
        r = await h.get("/api/v1/echo/org%2Fsub%2Frepo")
        assert r.json() == {"repository": "org/sub/repo"}
        r = await h.get("/api/v1/echo/org/repo/tag?onlyActiveTags=True")
        assert r.status_code == 308
        assert r.headers["location"].endswith("/api/v1/echo/org/repo/tag/?onlyActiveTags=True")
        r = await h.get("/api/v1/echo/justone")
        assert r.status_code == 404


async def test_browser_gets_need_xhr_header(registry: Berth) -> None:
    ua = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"}
    r = await registry.http.get("/api/v1/users/alice", headers=ua)
    assert r.status_code == 400
    assert r.json() == {
        "error": "API calls must be invoked with an X-Requested-With header if called from a "
        "browser"
    }
    r = await registry.http.get(
        "/api/v1/users/alice", headers={**ua, "X-Requested-With": "XMLHttpRequest"}
    )
    assert r.status_code == 200


async def test_anonymous_access_disabled(configured) -> None:  # type: ignore[no-untyped-def]
    async with configured(FEATURE_ANONYMOUS_ACCESS=False) as b:
        r = await b.http.get("/api/v1/users/alice")
        assert r.status_code == 401
        assert r.json() == {"error": "Anonymous access is not allowed"}
        assert (await b.http.get("/api/v1/discovery")).status_code == 200
        r = await b.http.get("/api/v1/user/")
        assert r.status_code == 401
        assert r.json()["session_required"] is False
        token = await oauth_token(b, "alice")
        r = await b.http.get("/api/v1/users/alice", headers=bearer(token))
        assert r.status_code == 200


async def test_read_only_mode(configured) -> None:  # type: ignore[no-untyped-def]
    async with configured(REGISTRY_STATE="readonly") as b:
        h = bearer(await oauth_token(b, "alice"))
        r = await b.http.post("/api/v1/user/apptoken", headers=h, json={"title": "x"})
        assert r.status_code == 503
        assert r.json() == {
            "message": "System is currently read-only. Pulls will succeed but all write "
            "operations are currently suspended.",
            "is_readonly": True,
        }
        assert (await b.http.get("/api/v1/user/", headers=h)).status_code == 200
