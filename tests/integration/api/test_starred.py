"""Stars: ``GET/POST /user/starred``, ``DELETE /user/starred/{repository}`` and how stars
show in repository lists and views."""

from __future__ import annotations

from typing import Any

from tests.integration.api.test_framework import CSRF_BODY, NOT_FOUND_BODY, assert_problem
from tests.integration.api.test_repositories import API, auth, create, listing, names, scalar
from tests.integration.conftest import Berth


async def star(registry: Berth, headers: dict[str, str], full: str) -> Any:
    namespace, _, name = full.partition("/")
    return await registry.http.post(
        f"{API}/user/starred", json={"namespace": namespace, "repository": name}, headers=headers
    )


async def starred(registry: Berth, headers: dict[str, str], **params: str) -> Any:
    r = await registry.http.get(f"{API}/user/starred", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def stars(registry: Berth) -> int:
    return int(await scalar(registry, "SELECT count(*) FROM stars"))


async def alice_repos(registry: Berth) -> None:
    h = await auth(registry, "alice")
    assert (await create(registry, h, "a", visibility="public", description="A")).status_code == 201
    assert (await create(registry, h, "b", visibility="private")).status_code == 201


async def test_star_show_and_unstar(registry: Berth) -> None:
    await alice_repos(registry)
    bob = await auth(registry, "bob")
    for _ in range(2):  # idempotent
        r = await star(registry, bob, "alice/a")
        assert (r.status_code, r.json()) == (201, {"namespace": "alice", "repository": "a"})
    assert await stars(registry) == 1
    assert await starred(registry, bob) == {
        "repositories": [{"namespace": "alice", "name": "a", "description": "A", "is_public": True}]
    }
    body = await listing(registry, bob, starred="true")
    assert names(body) == ["alice/a"]
    assert body["repositories"][0]["is_starred"] is True
    body = await listing(registry, await auth(registry, "alice"), namespace="alice")
    assert [item["is_starred"] for item in body["repositories"]] == [False, False]  # bob's star
    r = await registry.http.get(f"{API}/repository/alice/a", headers=bob)
    assert r.json()["is_starred"] is True
    r = await registry.http.delete(f"{API}/user/starred/alice/a", headers=bob)
    assert (r.status_code, r.content) == (204, b"")
    assert await starred(registry, bob) == {"repositories": []}
    assert names(await listing(registry, bob, starred="true")) == []
    r = await registry.http.delete(f"{API}/user/starred/alice%2Fa", headers=bob)
    assert r.status_code == 204  # readable, nothing left to remove
    assert await stars(registry) == 0


async def test_star_refusals_change_nothing(registry: Berth) -> None:
    await alice_repos(registry)
    bob = await auth(registry, "bob")
    r = await star(registry, bob, "alice/b")  # private: as missing for bob
    assert_problem(r, 404, "not_found", "Not Found")
    r = await star(registry, bob, "alice/nothere")
    assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.post(f"{API}/user/starred", json={"namespace": "alice"}, headers=bob)
    assert_problem(r, 400, "invalid_request", "'repository' is a required property")
    r = await star(registry, await auth(registry, "bob", "repo:read"), "alice/a")
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")  # needs user:admin
    r = await star(registry, {}, "alice/a")
    assert (r.status_code, r.json()) == (403, CSRF_BODY)
    r = await registry.http.get(f"{API}/user/starred")
    assert_problem(r, 401, "invalid_token", "Requires authentication")
    r = await registry.http.get(
        f"{API}/user/starred", headers=await auth(registry, "bob", "repo:read")
    )
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    for path in ("alice/b", "alice/nothere"):
        r = await registry.http.delete(f"{API}/user/starred/{path}", headers=bob)
        assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.delete(f"{API}/user/starred/justone", headers=bob)
    assert (r.status_code, r.json()) == (404, NOT_FOUND_BODY)
    assert await stars(registry) == 0


async def test_a_starred_repository_made_private_drops_out(registry: Berth) -> None:
    await alice_repos(registry)
    bob = await auth(registry, "bob")
    assert (await star(registry, bob, "alice/a")).status_code == 201
    r = await registry.http.post(
        f"{API}/repository/alice/a/changevisibility",
        json={"visibility": "private"},
        headers=await auth(registry, "alice"),
    )
    assert r.status_code == 200
    assert await starred(registry, bob) == {"repositories": []}
    assert names(await listing(registry, bob, starred="true")) == []
    # The star itself can still be removed.
    r = await registry.http.delete(f"{API}/user/starred/alice/a", headers=bob)
    assert r.status_code == 204
    assert await stars(registry) == 0


async def test_starred_lists_page_by_100(registry: Berth) -> None:
    svc = registry.services
    alice = await svc.auth.authenticate_basic("alice", "alice-password")
    bob_id = (await svc.auth.authenticate_basic("bob", "bob-password")).user_id
    expected = [f"alice/s{i:03d}" for i in range(101)]
    for full in expected:
        repo = svc.registry.name(full)
        await svc.repos.create(repo, creator=alice, description="", public=True)
        await svc.repos.star(bob_id, repo)
    bob = await auth(registry, "bob")
    for path, params in (("/user/starred", {}), ("/repository", {"starred": "true"})):
        first = (await registry.http.get(API + path, params=params, headers=bob)).json()
        assert len(first["repositories"]) == 100
        second = (
            await registry.http.get(
                API + path, params={**params, "next_page": first["next_page"]}, headers=bob
            )
        ).json()
        assert "next_page" not in second
        assert names(first) + names(second) == expected
