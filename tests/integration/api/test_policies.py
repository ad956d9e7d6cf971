"""Auto-prune and tag immutability policies over /api/v1: CRUD at every level, Quay's status
codes and error bodies, permissions, feature gates and usage logs. Every refused write is
checked to have changed nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from berth.audit.services import list_logs
from berth.registry.repositories import RepoName
from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.api.test_framework import NOT_FOUND_BODY, assert_problem
from tests.integration.conftest import BASE_URL, Berth

FEATURES = {
    "FEATURE_AUTO_PRUNE": True,
    "FEATURE_IMMUTABLE_TAGS": True,
    "BERTH_RUN_WORKERS_IN_PROCESS": False,
}
API = "/api/v1"
DUPLICATE = (
    "Existing policy with same values for this {level}, duplicate policies are not permitted"
)


@pytest.fixture
async def berth(configured) -> AsyncIterator[Berth]:  # type: ignore[no-untyped-def]
    async with configured(**FEATURES) as b:
        yield b


async def headers(b: Berth, user: str, scope: str | None = None) -> dict[str, str]:
    return bearer(await oauth_token(b, user, scope) if scope else await oauth_token(b, user))


async def logs(
    b: Berth, namespace: str, repository: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    async with b.services.db.read() as s:
        rows = await list_logs(s, namespace=namespace, repository=repository)
    return [(r.kind, r.metadata) for r in rows][::-1]


async def push(b: Berth, repo: str, tag: str = "latest") -> None:
    await b.client(repo.split("/")[0]).push_image(repo, tag)


# ------------------------------------------------------------------------------ feature gates


async def test_routes_absent_without_the_features(registry: Berth) -> None:
    h = await headers(registry, "alice")
    await push(registry, "alice/app")
    for path in (
        "/user/autoprunepolicy/",
        "/organization/alice/autoprunepolicy/",
        "/repository/alice/app/autoprunepolicy/",
        "/organization/alice/immutabilitypolicy/",
        "/repository/alice/app/immutabilitypolicy/",
    ):
        r = await registry.http.get(API + path, headers=h)
        assert r.status_code == 404, path
        assert r.json() == NOT_FOUND_BODY
        r = await registry.http.post(
            API + path, json={"method": "number_of_tags", "value": 3}, headers=h
        )
        assert r.status_code == 404, path


# --------------------------------------------------------------------------- auto-prune CRUD


async def test_user_autoprune_policy_lifecycle(berth: Berth) -> None:
    h = await headers(berth, "alice")
    base = f"{API}/user/autoprunepolicy/"
    assert (await berth.http.get(base, headers=h)).json() == {"policies": []}

    r = await berth.http.post(base, json={"method": "number_of_tags", "value": 10}, headers=h)
    assert r.status_code == 201, r.text
    uuid = r.json()["uuid"]
    assert set(r.json()) == {"uuid"}
    expected = {
        "uuid": uuid,
        "method": "number_of_tags",
        "value": 10,
        "tagPattern": None,
        "tagPatternMatches": True,
    }
    assert (await berth.http.get(base, headers=h)).json() == {"policies": [expected]}
    assert (await berth.http.get(base + uuid, headers=h)).json() == expected
    # The same policy through the organization path with the user's own name.
    r = await berth.http.get(f"{API}/organization/alice/autoprunepolicy/{uuid}", headers=h)
    assert r.json() == expected

    change = {
        "method": "creation_date",
        "value": "2w",
        "tagPattern": "^dev-",
        "tagPatternMatches": False,
    }
    r = await berth.http.put(base + uuid, json=change, headers=h)
    assert r.status_code == 204
    assert r.content == b""
    assert (await berth.http.get(base + uuid, headers=h)).json() == {
        "uuid": uuid,
        "method": "creation_date",
        "value": "2w",
        "tagPattern": "^dev-",
        "tagPatternMatches": False,
    }

    r = await berth.http.delete(base + uuid, headers=h)
    assert r.status_code == 200
    assert r.json() == {"uuid": uuid}
    assert_problem(await berth.http.get(base + uuid, headers=h), 404, "not_found", "Not Found")
    assert (await berth.http.get(base, headers=h)).json() == {"policies": []}

    kinds = [(k, m) for k, m in await logs(berth, "alice") if "autoprune" in k]
    assert [k for k, _ in kinds] == [
        "create_namespace_autoprune_policy",
        "update_namespace_autoprune_policy",
        "delete_namespace_autoprune_policy",
    ]
    assert kinds[0][1]["method"] == "number_of_tags"
    assert kinds[0][1]["value"] == 10
    assert kinds[0][1]["namespace"] == "alice"
    assert kinds[1][1]["tag_pattern"] == "^dev-"
    assert kinds[2][1]["policy_uuid"] == uuid


async def test_org_autoprune_policies_need_an_org_admin(berth: Berth, configured) -> None:  # type: ignore[no-untyped-def]
    await berth.services.orgs.create("acme", creator="alice")
    base = f"{API}/organization/acme/autoprunepolicy/"
    body = {"method": "creation_date", "value": "7d", "tagPattern": "nightly"}
    alice = await headers(berth, "alice")
    r = await berth.http.post(base, json=body, headers=alice)
    assert r.status_code == 201, r.text
    uuid = r.json()["uuid"]

    bob = await headers(berth, "bob")
    no_org_scope = await headers(berth, "alice", "repo:admin user:admin")
    for h, status, error in (
        (bob, 403, "insufficient_scope"),
        (no_org_scope, 403, "insufficient_scope"),
        ({}, 401, "invalid_token"),
    ):
        detail = "Unauthorized" if status == 403 else "Requires authentication"
        assert_problem(await berth.http.get(base, headers=h), status, error, detail)
        if h:  # anonymous writes stop at CSRF (Quay's 403 {"error"})
            r = await berth.http.post(
                base, json={"method": "number_of_tags", "value": 1}, headers=h
            )
            assert_problem(r, status, error, detail)
            r = await berth.http.put(
                base + uuid, json={"method": "number_of_tags", "value": 1}, headers=h
            )
            assert_problem(r, status, error, detail)
            assert_problem(await berth.http.delete(base + uuid, headers=h), status, error, detail)
    r = await berth.http.get(base, headers=alice)
    assert [p["value"] for p in r.json()["policies"]] == ["7d"]

    # A superuser administers any namespace only with FEATURE_SUPERUSERS_FULL_ACCESS; an
    # unknown namespace is 404 for it, 403 for everyone else.
    root = await headers(berth, "root")
    assert_problem(
        await berth.http.get(base, headers=root), 403, "insufficient_scope", "Unauthorized"
    )
    r = await berth.http.get(f"{API}/organization/nosuchorg/autoprunepolicy/", headers=alice)
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    async with configured(**FEATURES, FEATURE_SUPERUSERS_FULL_ACCESS=True) as full:
        root = await headers(full, "root")
        assert (await full.http.get(base, headers=root)).json()["policies"][0]["uuid"] == uuid
        r = await full.http.get(f"{API}/organization/nosuchorg/autoprunepolicy/", headers=root)
        assert_problem(r, 404, "not_found", "Not Found")

    r = await berth.http.get(f"{API}/organization/acme/autoprunepolicy", headers=alice)
    assert r.status_code == 308
    assert r.headers["location"] == f"{BASE_URL}{API}/organization/acme/autoprunepolicy/"


BAD_AUTOPRUNE = [
    ({"method": "keep_some", "value": 3}, "Invalid method provided"),
    ({"method": "number_of_tags", "value": 0}, "Invalid value given for method type"),
    ({"method": "number_of_tags", "value": -2}, "Invalid value given for method type"),
    ({"method": "number_of_tags", "value": "10"}, "Invalid value given for method type"),
    ({"method": "creation_date", "value": "7x"}, "Invalid value given for method type"),
    ({"method": "creation_date", "value": 7}, "Invalid value given for method type"),
    ({"method": "creation_date", "value": "0d"}, "Invalid value given for method type"),
    ({"method": "number_of_tags", "value": 3, "tagPattern": "  "}, "tag_pattern cannot be empty"),
    (
        {"method": "number_of_tags", "value": 3, "tagPattern": "v[1"},
        "Invalid regex pattern: unterminated character set at position 1",
    ),
    ({"method": "number_of_tags", "value": [3]}, "[3] is not of type 'integer', 'string'"),
    ({"method": "number_of_tags"}, "'value' is a required property"),
    (
        {"method": "number_of_tags", "value": 3, "tagPatternMatches": "no"},
        "'no' is not of type 'boolean'",
    ),
]


async def test_autoprune_bad_input_is_400_and_changes_nothing(berth: Berth) -> None:
    h = await headers(berth, "alice")
    base = f"{API}/user/autoprunepolicy/"
    first = {"method": "number_of_tags", "value": 5, "tagPattern": "^v"}
    uuid = (await berth.http.post(base, json=first, headers=h)).json()["uuid"]
    before = (await berth.http.get(base, headers=h)).json()

    for body, detail in BAD_AUTOPRUNE:
        assert_problem(
            await berth.http.post(base, json=body, headers=h), 400, "invalid_request", detail
        )
        r = await berth.http.put(base + uuid, json=body, headers=h)
        assert_problem(r, 400, "invalid_request", detail)

    duplicate = DUPLICATE.format(level="namespace")
    r = await berth.http.post(base, json={**first, "tagPatternMatches": True}, headers=h)
    assert_problem(r, 400, "invalid_request", duplicate)
    # Same method and value, another pattern: a different policy.
    r = await berth.http.post(base, json={"method": "number_of_tags", "value": 5}, headers=h)
    assert r.status_code == 201
    second = r.json()["uuid"]
    r = await berth.http.put(base + second, json=first, headers=h)  # would duplicate the first
    assert_problem(r, 400, "invalid_request", duplicate)
    r = await berth.http.put(base + uuid, json=first, headers=h)  # unchanged: not a duplicate
    assert r.status_code == 204

    after = (await berth.http.get(base, headers=h)).json()["policies"]
    assert after[0] == before["policies"][0]
    assert [p["uuid"] for p in after] == [uuid, second]

    missing = "0b4d3f1e-0000-4000-8000-000000000000"
    for method in ("GET", "PUT", "DELETE"):
        r = await berth.http.request(method, base + missing, json=first, headers=h)
        assert_problem(r, 404, "not_found", "Not Found")
    # Someone else's policy uuid is unknown in this namespace.
    bob = await headers(berth, "bob")
    assert_problem(
        await berth.http.get(f"{API}/user/autoprunepolicy/{uuid}", headers=bob),
        404,
        "not_found",
        "Not Found",
    )
    assert_problem(
        await berth.http.delete(f"{API}/user/autoprunepolicy/{uuid}", headers=bob),
        404,
        "not_found",
        "Not Found",
    )
    assert len((await berth.http.get(base, headers=h)).json()["policies"]) == 2


async def test_repository_autoprune_policies(berth: Berth) -> None:
    await push(berth, "alice/app")
    alice = await headers(berth, "alice")
    bob = await headers(berth, "bob")
    base = f"{API}/repository/alice/app/autoprunepolicy/"
    body = {"method": "number_of_tags", "value": 2, "tagPattern": "^pr-"}

    assert_problem(
        await berth.http.post(base, json=body, headers=bob),
        403,
        "insufficient_scope",
        "Unauthorized",
    )
    await berth.services.permissions.set_user_permission(RepoName("alice", "app"), "bob", "write")
    assert_problem(
        await berth.http.get(base, headers=bob), 403, "insufficient_scope", "Unauthorized"
    )
    await berth.services.permissions.set_user_permission(RepoName("alice", "app"), "bob", "admin")
    r = await berth.http.post(base, json=body, headers=bob)
    assert r.status_code == 201, r.text
    uuid = r.json()["uuid"]

    # %2F in the repository segment (Terraform's generated client).
    r = await berth.http.get(f"{API}/repository/alice%2Fapp/autoprunepolicy/{uuid}", headers=alice)
    assert r.json() == {
        "uuid": uuid,
        "method": "number_of_tags",
        "value": 2,
        "tagPattern": "^pr-",
        "tagPatternMatches": True,
    }
    # Repository policies are apart from the namespace's.
    assert (await berth.http.get(f"{API}/user/autoprunepolicy/", headers=alice)).json() == {
        "policies": []
    }
    assert_problem(
        await berth.http.get(f"{API}/user/autoprunepolicy/{uuid}", headers=alice),
        404,
        "not_found",
        "Not Found",
    )
    r = await berth.http.post(base, json=body, headers=alice)
    assert_problem(
        r,
        400,
        "invalid_request",
        DUPLICATE.format(level="repository"),
    )

    r = await berth.http.get(f"{API}/repository/alice/nothing/autoprunepolicy/", headers=alice)
    assert_problem(r, 404, "not_found", "Not Found")
    r = await berth.http.get(f"{API}/repository/alice/nothing/autoprunepolicy/", headers=bob)
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")

    r = await berth.http.put(
        base + uuid, json={"method": "creation_date", "value": "12h"}, headers=alice
    )
    assert r.status_code == 204
    r = await berth.http.delete(base + uuid, headers=alice)
    assert r.json() == {"uuid": uuid}
    kinds = [(k, m) for k, m in await logs(berth, "alice", "app") if "autoprune" in k]
    assert [k for k, _ in kinds] == [
        "create_repository_autoprune_policy",
        "update_repository_autoprune_policy",
        "delete_repository_autoprune_policy",
    ]
    assert all(m["repo"] == "app" and m["namespace"] == "alice" for _, m in kinds)


# ------------------------------------------------------------------------ immutability CRUD


async def test_immutability_policies_org_and_repository(berth: Berth) -> None:
    await berth.services.orgs.create("acme", creator="alice")
    await push(berth, "alice/app")
    alice = await headers(berth, "alice")
    for base, level in (
        (f"{API}/organization/acme/immutabilitypolicy/", "namespace"),
        (f"{API}/repository/alice/app/immutabilitypolicy/", "repository"),
    ):
        r = await berth.http.post(base, json={"tagPattern": "  ^v[0-9]+  "}, headers=alice)
        assert r.status_code == 201, (level, r.text)
        uuid = r.json()["uuid"]
        view = {"uuid": uuid, "tagPattern": "^v[0-9]+", "tagPatternMatches": True}
        assert (await berth.http.get(base, headers=alice)).json() == {"policies": [view]}
        assert (await berth.http.get(base + uuid, headers=alice)).json() == view

        for body, detail in (
            ({"tagPattern": ""}, "tag_pattern is required and must be a non-empty string"),
            ({"tagPattern": "x" * 257}, "tag_pattern must be 256 characters or less"),
            (
                {"tagPattern": "(v1"},
                "Invalid regex pattern: missing ), unterminated subpattern at position 0",
            ),
            ({"tagPatternMatches": True}, "'tagPattern' is a required property"),
            ({"tagPattern": "^v", "tagPatternMatches": 1}, "1 is not of type 'boolean'"),
            (
                {"tagPattern": "^v[0-9]+"},
                "A policy with the same tag_pattern and tag_pattern_matches already exists",
            ),
        ):
            r = await berth.http.post(base, json=body, headers=alice)
            assert_problem(r, 400, "invalid_request", detail)
        assert (await berth.http.get(base, headers=alice)).json() == {"policies": [view]}

        r = await berth.http.put(
            base + uuid, json={"tagPattern": "^release-", "tagPatternMatches": False}, headers=alice
        )
        assert r.status_code == 204
        assert r.content == b""
        r = await berth.http.get(base + uuid, headers=alice)
        assert r.json() == {"uuid": uuid, "tagPattern": "^release-", "tagPatternMatches": False}

        bob = await headers(berth, "bob")
        assert_problem(
            await berth.http.get(base, headers=bob), 403, "insufficient_scope", "Unauthorized"
        )
        assert_problem(
            await berth.http.delete(base + uuid, headers=bob),
            403,
            "insufficient_scope",
            "Unauthorized",
        )
        missing = "0b4d3f1e-0000-4000-8000-000000000000"
        assert_problem(
            await berth.http.delete(base + missing, headers=alice), 404, "not_found", "Not Found"
        )
        r = await berth.http.put(base + missing, json={"tagPattern": "x"}, headers=alice)
        assert_problem(r, 404, "not_found", "Not Found")

        r = await berth.http.delete(base + uuid, headers=alice)
        assert r.status_code == 200
        assert r.json() == {"uuid": uuid}
        assert (await berth.http.get(base, headers=alice)).json() == {"policies": []}

    acme = [k for k, _ in await logs(berth, "acme") if "immutability" in k]
    assert acme == [
        "create_immutability_policy",
        "update_immutability_policy",
        "delete_immutability_policy",
    ]
    repo_logs = [m for k, m in await logs(berth, "alice") if k == "create_immutability_policy"]
    assert repo_logs[0]["repo"] == "app"
    assert repo_logs[0]["tag_pattern"] == "^v[0-9]+"
    # No user-level immutability routes in Quay.
    assert (
        await berth.http.get(f"{API}/user/immutabilitypolicy/", headers=alice)
    ).status_code == 404
