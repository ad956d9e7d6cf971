"""Content management: deleting manifests, tags and blobs (conformance "content management")."""

from __future__ import annotations

from tests.integration.conftest import (
    OCI_INDEX,
    OCI_MANIFEST,
    Berth,
    Client,
    assert_error,
    canonical,
    descriptor,
    digest_of,
    random_bytes,
)


async def tags_of(client: Client, repo: str) -> list[str]:
    resp = await client.get(f"/v2/{repo}/tags/list")
    assert resp.status_code == 200, resp.text
    return resp.json()["tags"]


async def deleter(client: Client, repo: str) -> Client:
    await client.login(repo, "pull", "push", "delete")
    return client


async def test_delete_manifest_by_digest(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    await alice.push_manifest("alice/app", "v1-alias", pushed.manifest, OCI_MANIFEST)
    other = await alice.push_image("alice/app", "other")
    await deleter(alice, "alice/app")
    resp = await alice.delete(f"/v2/alice/app/manifests/{pushed.digest}")
    assert resp.status_code == 202, resp.text
    for ref in (pushed.digest, "v1", "v1-alias"):
        assert_error(await alice.get(f"/v2/alice/app/manifests/{ref}"), 404, "MANIFEST_UNKNOWN")
        assert (await alice.head(f"/v2/alice/app/manifests/{ref}")).status_code == 404
    assert await tags_of(alice, "alice/app") == ["other"]
    assert (await alice.get(f"/v2/alice/app/manifests/{other.digest}")).status_code == 200
    again = await alice.delete(f"/v2/alice/app/manifests/{pushed.digest}")
    assert_error(again, 404, "MANIFEST_UNKNOWN")


async def test_delete_by_tag(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    await alice.push_manifest("alice/app", "stable", pushed.manifest, OCI_MANIFEST)
    before = await tags_of(alice, "alice/app")
    await deleter(alice, "alice/app")
    resp = await alice.delete("/v2/alice/app/manifests/v1")
    assert resp.status_code == 202, resp.text
    after = await tags_of(alice, "alice/app")
    assert after == ["stable"]
    assert len(after) < len(before)
    assert_error(await alice.get("/v2/alice/app/manifests/v1"), 404, "MANIFEST_UNKNOWN")
    # the manifest lives on through the other tag
    resp = await alice.get(f"/v2/alice/app/manifests/{pushed.digest}")
    assert resp.status_code == 200
    assert resp.content == pushed.manifest
    assert_error(await alice.delete("/v2/alice/app/manifests/v1"), 404, "MANIFEST_UNKNOWN")


async def test_delete_last_tag_hides_the_manifest(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/app", "only")
    await deleter(alice, "alice/app")
    assert (await alice.delete("/v2/alice/app/manifests/only")).status_code == 202
    assert await tags_of(alice, "alice/app") == []
    resp = await alice.get(f"/v2/alice/app/manifests/{pushed.digest}")
    assert_error(resp, 404, "MANIFEST_UNKNOWN")


async def test_push_again_after_delete(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    await deleter(alice, "alice/app")
    assert (await alice.delete(f"/v2/alice/app/manifests/{pushed.digest}")).status_code == 202
    await alice.push_manifest("alice/app", "v1", pushed.manifest, OCI_MANIFEST)
    resp = await alice.get("/v2/alice/app/manifests/v1")
    assert resp.status_code == 200
    assert resp.content == pushed.manifest
    assert await tags_of(alice, "alice/app") == ["v1"]


async def test_delete_unknown_manifest(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    await deleter(alice, "alice/app")
    resp = await alice.delete(f"/v2/alice/app/manifests/sha256:{'3' * 64}")
    assert_error(resp, 404, "MANIFEST_UNKNOWN")
    assert_error(await alice.delete("/v2/alice/app/manifests/nosuchtag"), 404, "MANIFEST_UNKNOWN")


async def test_delete_blob(registry: Berth, alice: Client) -> None:
    data = random_bytes(2000)
    digest = await alice.upload("alice/app", data)
    await deleter(alice, "alice/app")
    resp = await alice.delete(f"/v2/alice/app/blobs/{digest}")
    assert resp.status_code == 202, resp.text
    assert (await alice.head(f"/v2/alice/app/blobs/{digest}")).status_code == 404
    assert_error(await alice.get(f"/v2/alice/app/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert_error(await alice.delete(f"/v2/alice/app/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    # and it can be pushed again
    await alice.upload("alice/app", data)
    assert (await alice.get(f"/v2/alice/app/blobs/{digest}")).content == data


async def test_delete_blob_in_one_repository_only(registry: Berth, alice: Client) -> None:
    data = random_bytes(700)
    digest = await alice.upload("alice/one", data)
    await alice.upload("alice/two", data)
    await deleter(alice, "alice/one")
    assert (await alice.delete(f"/v2/alice/one/blobs/{digest}")).status_code == 202
    assert (await alice.head(f"/v2/alice/one/blobs/{digest}")).status_code == 404
    resp = await alice.get(f"/v2/alice/two/blobs/{digest}")
    assert resp.status_code == 200
    assert resp.content == data


async def test_delete_unknown_blob(registry: Berth, alice: Client) -> None:
    await alice.upload("alice/app", random_bytes(10))
    await deleter(alice, "alice/app")
    resp = await alice.delete(f"/v2/alice/app/blobs/{digest_of(b'never')}")
    assert_error(resp, 404, "BLOB_UNKNOWN")


async def test_delete_scope_spellings(registry: Berth, alice: Client) -> None:
    """``delete`` (distribution) and ``*`` (Quay) both grant deletes; pull,push does not."""
    first = await alice.push_image("alice/app", "a")
    second = await alice.push_image("alice/app", "b")
    pull_push = await alice.login("alice/app", "pull", "push")
    resp = await registry.http.delete(
        f"/v2/alice/app/manifests/{first.digest}",
        headers={"Authorization": f"Bearer {pull_push}"},
    )
    assert_error(resp, 401, "UNAUTHORIZED")
    for actions, pushed in ((("delete",), first), (("*",), second)):
        token = await alice.login("alice/app", *actions)
        resp = await registry.http.delete(
            f"/v2/alice/app/manifests/{pushed.digest}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert resp.status_code == 202, f"{actions}: {resp.text}"


async def test_only_owners_delete(
    registry: Berth, alice: Client, bob: Client, anon: Client
) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    await registry.set_public("alice/app")
    for client in (bob, anon):
        resp = await client.delete(f"/v2/alice/app/manifests/{pushed.digest}")
        assert_error(resp, 401, "UNAUTHORIZED")
        resp = await client.delete(f"/v2/alice/app/blobs/{digest_of(pushed.config)}")
        assert_error(resp, 401, "UNAUTHORIZED")
    basic = registry.client("bob", basic=True)
    resp = await basic.delete("/v2/alice/app/manifests/v1")
    assert_error(resp, 403, "DENIED")
    assert (await alice.get("/v2/alice/app/manifests/v1")).status_code == 200


async def test_superuser_deletes_anywhere(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    root = registry.client("root", basic=True)
    assert (await root.delete(f"/v2/alice/app/manifests/{pushed.digest}")).status_code == 202
    assert await tags_of(alice, "alice/app") == []


async def test_delete_over_basic(registry: Berth, alice: Client) -> None:
    pushed = await alice.push_image("alice/app", "v1")
    basic = registry.client("alice", basic=True)
    assert (await basic.delete("/v2/alice/app/manifests/v1")).status_code == 202
    digest = digest_of(pushed.layers[0])
    assert (await basic.delete(f"/v2/alice/app/blobs/{digest}")).status_code == 202


async def test_deleting_a_manifest_served_through_its_index(registry: Berth, alice: Client) -> None:
    """A child served through its tagged index can't be deleted on its own: the refusal
    names the index (never a 404 for a manifest GET serves), and nothing changes."""
    child = await alice.push_image("alice/multi", None)
    index = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [descriptor(OCI_MANIFEST, child.manifest)],
        }
    )
    await alice.push_manifest("alice/multi", "v1", index, OCI_INDEX)
    assert (await alice.get(f"/v2/alice/multi/manifests/{child.digest}")).status_code == 200
    basic = registry.client("alice", basic=True)
    resp = await basic.delete(f"/v2/alice/multi/manifests/{child.digest}")
    assert_error(resp, 403, "DENIED")
    assert digest_of(index) in resp.text
    assert (await alice.get(f"/v2/alice/multi/manifests/{child.digest}")).status_code == 200
    # once the index is gone, so is the child
    assert (await basic.delete("/v2/alice/multi/manifests/v1")).status_code == 202
    resp = await alice.get(f"/v2/alice/multi/manifests/{child.digest}")
    assert_error(resp, 404, "MANIFEST_UNKNOWN")


async def test_moving_a_tag_retires_the_old_manifest(registry: Berth, alice: Client) -> None:
    """Berth (like Quay) serves a manifest by digest only while a live tag (or a tagged
    index) reaches it; pushing it again by digest brings it back."""
    old = await alice.push_image("alice/app", "latest")
    new = await alice.push_image("alice/app", "latest")
    assert_error(await alice.get(f"/v2/alice/app/manifests/{old.digest}"), 404, "MANIFEST_UNKNOWN")
    assert (await alice.get(f"/v2/alice/app/manifests/{new.digest}")).status_code == 200
    await alice.push_manifest("alice/app", old.digest, old.manifest, OCI_MANIFEST)
    resp = await alice.get(f"/v2/alice/app/manifests/{old.digest}")
    assert resp.status_code == 200
    assert resp.content == old.manifest
    assert await tags_of(alice, "alice/app") == ["latest"]
