"""Content discovery: tags list, catalog, referrers API (conformance "content discovery")."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.integration.conftest import (
    EMPTY_DIGEST,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    Berth,
    Client,
    Pushed,
    assert_error,
    canonical,
    descriptor,
    digest_of,
    random_bytes,
)

_LINK = re.compile(r'^<(?P<url>[^>]+)>;\s*rel="next"$')


def next_link(resp: httpx.Response) -> str | None:
    link = resp.headers.get("link")
    if link is None:
        return None
    m = _LINK.match(link.strip())
    assert m, f"malformed Link header: {link!r}"
    return m.group("url")


async def walk(client: Client, url: str, key: str) -> tuple[list[str], int]:
    """Follow Link headers from ``url``; return every item and the number of pages."""
    items: list[str] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        resp = await client.get(next_url)
        assert resp.status_code == 200, resp.text
        items += resp.json()[key]
        pages += 1
        assert pages < 50, "pagination does not end"
        next_url = next_link(resp)
    return items, pages


# ------------------------------------------------------------------------------- tags


async def tagged(client: Client, repo: str, tags: list[str]) -> Pushed:
    first = await client.push_image(repo, tags[0])
    for tag in tags[1:]:
        await client.push_manifest(repo, tag, first.manifest, first.media_type)
    return first


async def test_tags_list_is_sorted_and_complete(registry: Berth, alice: Client) -> None:
    names = ["v2", "latest", "v10", "1.0", "A-upper", "_x", "v1"]
    pushed = await tagged(alice, "alice/app", names)
    await alice.push_image("alice/app", None)  # by digest: not a tag
    resp = await alice.get("/v2/alice/app/tags/list")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body == {"name": "alice/app", "tags": sorted(names)}
    assert pushed.digest not in body["tags"]
    assert next_link(resp) is None


async def test_tags_list_pagination(registry: Berth, alice: Client) -> None:
    names = sorted(f"t{i:02d}" for i in range(7))
    await tagged(alice, "alice/app", names)

    first = await alice.get("/v2/alice/app/tags/list", params={"n": 3})
    assert first.status_code == 200
    assert first.json()["tags"] == names[:3]
    link = next_link(first)
    assert link is not None
    assert link.startswith("/v2/alice/app/tags/list?")
    assert "last=t02" in link
    assert "n=3" in link

    everything, pages = await walk(alice, "/v2/alice/app/tags/list?n=3", "tags")
    assert everything == names
    assert pages == 3

    after = await alice.get("/v2/alice/app/tags/list", params={"n": 2, "last": "t03"})
    assert after.json()["tags"] == ["t04", "t05"]
    rest = await alice.get("/v2/alice/app/tags/list", params={"last": "t03"})
    assert rest.json()["tags"] == names[4:]
    assert next_link(rest) is None
    beyond = await alice.get("/v2/alice/app/tags/list", params={"last": "zzz"})
    assert beyond.json()["tags"] == []
    exact = await alice.get("/v2/alice/app/tags/list", params={"n": 7})
    assert exact.json()["tags"] == names
    assert next_link(exact) is None
    more = await alice.get("/v2/alice/app/tags/list", params={"n": 100})
    assert more.json()["tags"] == names
    assert next_link(more) is None


async def test_tags_list_bad_n(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    for n in ("-1", "abc"):
        resp = await alice.get("/v2/alice/app/tags/list", params={"n": n})
        assert resp.status_code == 400, f"n={n}: {resp.status_code}"
        assert_error(resp, 400, resp.json()["errors"][0]["code"])


async def test_tags_list_of_repository_without_tags(registry: Berth, alice: Client) -> None:
    await alice.upload("alice/empty", random_bytes(10))
    resp = await alice.get("/v2/alice/empty/tags/list")
    assert resp.status_code == 200
    assert resp.json() == {"name": "alice/empty", "tags": []}


async def test_tags_list_needs_pull(registry: Berth, alice: Client, bob: Client) -> None:
    await alice.push_image("alice/app", "v1")
    assert_error(await bob.get("/v2/alice/app/tags/list"), 401, "UNAUTHORIZED")


async def test_unknown_repository_for_its_owner_is_name_unknown(
    registry: Berth, alice: Client, bob: Client
) -> None:
    """The owner learns the repository doesn't exist; others learn nothing about it."""
    await alice.push_image("alice/app", "v1")
    basic = registry.client("alice", basic=True)
    for client in (alice, basic):
        assert_error(await client.get("/v2/alice/nothing/tags/list"), 404, "NAME_UNKNOWN")
        resp = await client.get("/v2/alice/nothing/manifests/latest")
        assert_error(resp, 404, "NAME_UNKNOWN")
        resp = await client.get(f"/v2/alice/nothing/blobs/{digest_of(b'x')}")
        assert resp.status_code == 404
    assert_error(await bob.get("/v2/alice/nothing/tags/list"), 401, "UNAUTHORIZED")
    bob_basic = registry.client("bob", basic=True)
    assert_error(await bob_basic.get("/v2/alice/nothing/tags/list"), 403, "DENIED")


# ----------------------------------------------------------------------------- catalog


async def _populate_catalog(root: Client, alice: Client, bob: Client) -> dict[str, list[str]]:
    repos = {
        "alice": ["alice/a1", "alice/a2", "alice/team/a3"],
        "bob": ["bob/b1", "bob/b2"],
        "root": ["root/r1", "zorg/z1"],
    }
    clients = {"alice": alice, "bob": bob, "root": root}
    for owner, names in repos.items():
        for name in names:  # a repository exists from its first blob on
            await clients[owner].upload(name, random_bytes(8), single=True)
    return repos


async def test_catalog_visibility(
    registry: Berth, root: Client, alice: Client, bob: Client, anon: Client
) -> None:
    repos = await _populate_catalog(root, alice, bob)
    everything = sorted(n for names in repos.values() for n in names)
    login = await alice.token()  # a token without scope still says who the caller is
    token = login.json()["token"]
    resp = await registry.http.get("/v2/_catalog", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"repositories": sorted(repos["alice"])}
    resp = await registry.client("alice", basic=True).get("/v2/_catalog")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"repositories": sorted(repos["alice"])}
    resp = await registry.client("bob", basic=True).get("/v2/_catalog")
    assert resp.json() == {"repositories": sorted(repos["bob"])}
    for su in ("root", "admin"):
        resp = await registry.client(su, basic=True).get("/v2/_catalog")
        assert resp.json() == {"repositories": everything}
    resp = await anon.get("/v2/_catalog")
    if resp.status_code == 200:
        assert resp.json()["repositories"] == []
    else:
        assert_error(resp, 401, "UNAUTHORIZED")


async def test_catalog_shows_public_repositories_only_to_their_owner(
    registry: Berth, alice: Client, bob: Client
) -> None:
    """FEATURE_PUBLIC_CATALOG is off by default: public repositories stay out of others'."""
    await alice.push_image("alice/pub", "v1")
    await registry.set_public("alice/pub")
    resp = await registry.client("bob", basic=True).get("/v2/_catalog")
    assert "alice/pub" not in resp.json()["repositories"]


async def test_catalog_pagination(
    registry: Berth, root: Client, alice: Client, bob: Client
) -> None:
    repos = await _populate_catalog(root, alice, bob)
    everything = sorted(n for names in repos.values() for n in names)
    su = registry.client("root", basic=True)
    first = await su.get("/v2/_catalog", params={"n": 2})
    assert first.json()["repositories"] == everything[:2]
    link = next_link(first)
    assert link is not None
    assert link.startswith("/v2/_catalog?")
    items, pages = await walk(su, "/v2/_catalog?n=2", "repositories")
    assert items == everything
    assert pages == 4
    after = await su.get("/v2/_catalog", params={"last": "alice/team/a3"})
    assert after.json()["repositories"] == everything[3:]
    assert next_link(after) is None
    mine, _ = await walk(registry.client("alice", basic=True), "/v2/_catalog?n=1", "repositories")
    assert mine == sorted(repos["alice"])


# --------------------------------------------------------------------------- referrers


def artifact(
    subject: Pushed | None,
    *,
    artifact_type: str | None,
    blob: bytes,
    config_type: str = OCI_EMPTY,
    annotations: dict[str, str] | None = None,
    subject_digest: str | None = None,
    subject_size: int = 0,
) -> bytes:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config_type, "digest": EMPTY_DIGEST, "size": 2}
        if config_type == OCI_EMPTY
        else descriptor(config_type, blob),
        "layers": [descriptor("application/vnd.example.payload", blob)],
    }
    if artifact_type:
        doc["artifactType"] = artifact_type
    if subject is not None:
        doc["subject"] = descriptor(subject.media_type, subject.manifest)
    elif subject_digest is not None:
        doc["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": subject_size}
    if annotations:
        doc["annotations"] = annotations
    return canonical(doc)


async def referrers(client: Client, repo: str, digest: str, **params: str) -> httpx.Response:
    resp = await client.get(f"/v2/{repo}/referrers/{digest}", params=params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == OCI_INDEX
    body = resp.json()
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == OCI_INDEX
    assert isinstance(body["manifests"], list)
    return resp


async def push_referrer(client: Client, repo: str, body: bytes, media_type: str) -> str:
    digest = digest_of(body)
    resp = await client.push_manifest(repo, digest, body, media_type)
    return resp.headers.get("oci-subject", "")


async def test_referrers_api(registry: Berth, alice: Client) -> None:
    repo = "alice/app"
    subject = await alice.push_image(repo, "v1")
    blob_a, blob_b = random_bytes(100), random_bytes(200)
    for blob in (blob_a, blob_b):
        await alice.upload(repo, blob)

    sig = artifact(
        subject,
        artifact_type="application/vnd.example.signature",
        blob=blob_a,
        annotations={"org.example.key": "sig"},
    )
    sbom = artifact(  # no artifactType: the config media type stands in for it
        subject,
        artifact_type=None,
        blob=blob_b,
        config_type="application/vnd.example.sbom.config",
        annotations={"org.example.key": "sbom"},
    )
    member = await alice.push_image(repo, None)
    index = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "artifactType": "application/vnd.example.bundle",
            "manifests": [descriptor(OCI_MANIFEST, member.manifest)],
            "subject": descriptor(OCI_MANIFEST, subject.manifest),
            "annotations": {"org.example.key": "bundle"},
        }
    )
    assert await push_referrer(alice, repo, sig, OCI_MANIFEST) == subject.digest
    await alice.upload(repo, blob_b)
    assert await push_referrer(alice, repo, sbom, OCI_MANIFEST) == subject.digest
    assert await push_referrer(alice, repo, index, OCI_INDEX) == subject.digest

    resp = await referrers(alice, repo, subject.digest)
    assert "oci-filters-applied" not in resp.headers
    found = {d["digest"]: d for d in resp.json()["manifests"]}
    assert set(found) == {digest_of(sig), digest_of(sbom), digest_of(index)}
    expected = {
        digest_of(sig): (OCI_MANIFEST, sig, "application/vnd.example.signature", "sig"),
        digest_of(sbom): (OCI_MANIFEST, sbom, "application/vnd.example.sbom.config", "sbom"),
        digest_of(index): (OCI_INDEX, index, "application/vnd.example.bundle", "bundle"),
    }
    for digest, (media_type, body, art, note) in expected.items():
        desc = found[digest]
        assert desc["mediaType"] == media_type
        assert desc["size"] == len(body)
        assert desc["artifactType"] == art
        assert desc["annotations"] == {"org.example.key": note}

    filtered = await referrers(
        alice, repo, subject.digest, artifactType="application/vnd.example.signature"
    )
    assert filtered.headers.get("oci-filters-applied") == "artifactType"
    assert [d["digest"] for d in filtered.json()["manifests"]] == [digest_of(sig)]
    none = await referrers(alice, repo, subject.digest, artifactType="application/vnd.nothing")
    assert none.headers.get("oci-filters-applied") == "artifactType"
    assert none.json()["manifests"] == []

    # the referrers are ordinary manifests as well
    got = await alice.get(f"/v2/{repo}/manifests/{digest_of(sig)}")
    assert got.content == sig


async def test_referrers_of_unknown_subject_is_empty(registry: Berth, alice: Client) -> None:
    await alice.push_image("alice/app", "v1")
    resp = await referrers(alice, "alice/app", "sha256:" + "1" * 64)
    assert resp.json()["manifests"] == []


async def test_referrer_to_missing_subject(registry: Berth, alice: Client) -> None:
    """A referrer may be pushed before (or without) its subject."""
    await alice.push_image("alice/app", "v1")
    blob = random_bytes(50)
    await alice.upload("alice/app", blob)
    ghost = "sha256:" + "2" * 64
    body = artifact(
        None, artifact_type="application/vnd.example.x", blob=blob, subject_digest=ghost
    )
    assert await push_referrer(alice, "alice/app", body, OCI_MANIFEST) == ghost
    resp = await referrers(alice, "alice/app", ghost)
    assert [d["digest"] for d in resp.json()["manifests"]] == [digest_of(body)]


async def test_deleted_referrer_disappears(registry: Berth, alice: Client) -> None:
    subject = await alice.push_image("alice/app", "v1")
    blob = random_bytes(50)
    await alice.upload("alice/app", blob)
    keep = artifact(subject, artifact_type="application/vnd.example.keep", blob=blob)
    drop = artifact(subject, artifact_type="application/vnd.example.drop", blob=blob)
    for body in (keep, drop):
        await push_referrer(alice, "alice/app", body, OCI_MANIFEST)
    await alice.login("alice/app", "pull", "push", "delete")
    resp = await alice.delete(f"/v2/alice/app/manifests/{digest_of(drop)}")
    assert resp.status_code == 202, resp.text
    listed = await referrers(alice, "alice/app", subject.digest)
    assert [d["digest"] for d in listed.json()["manifests"]] == [digest_of(keep)]


async def test_referrers_tag_schema_fallback_is_merged(registry: Berth, alice: Client) -> None:
    """Clients without the API push a ``sha256-<hex>`` index; its entries are listed too."""
    repo = "alice/app"
    subject = await alice.push_image(repo, "v1")
    blob = random_bytes(60)
    await alice.upload(repo, blob)
    via_api = artifact(subject, artifact_type="application/vnd.example.api", blob=blob)
    await push_referrer(alice, repo, via_api, OCI_MANIFEST)
    legacy = artifact(None, artifact_type="application/vnd.example.legacy", blob=blob)
    await alice.push_manifest(repo, digest_of(legacy), legacy, OCI_MANIFEST)
    fallback = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                descriptor(OCI_MANIFEST, legacy, artifactType="application/vnd.example.legacy"),
                descriptor(OCI_MANIFEST, via_api, artifactType="application/vnd.example.api"),
            ],
        }
    )
    tag = "sha256-" + subject.digest.split(":", 1)[1]
    await alice.push_manifest(repo, tag, fallback, OCI_INDEX)

    listed = await referrers(alice, repo, subject.digest)
    digests = [d["digest"] for d in listed.json()["manifests"]]
    assert sorted(digests) == sorted([digest_of(via_api), digest_of(legacy)])
    assert len(digests) == 2, "an entry present in both places is listed once"
    only = await referrers(
        alice, repo, subject.digest, artifactType="application/vnd.example.legacy"
    )
    assert [d["digest"] for d in only.json()["manifests"]] == [digest_of(legacy)]


async def test_referrers_need_pull(registry: Berth, alice: Client, bob: Client) -> None:
    subject = await alice.push_image("alice/app", "v1")
    resp = await bob.get(f"/v2/alice/app/referrers/{subject.digest}")
    assert_error(resp, 401, "UNAUTHORIZED")


async def test_referrer_listed_inside_an_index_stays_a_referrer(
    registry: Berth, alice: Client
) -> None:
    """A referrer that an index (pushed later) lists as a child must stay in the referrers
    list: GET by digest still serves it, so the referrers API must list it too."""
    repo = "alice/app"
    subject = await alice.push_image(repo, "v1")
    blob = random_bytes(64)
    await alice.upload(repo, blob)
    sig = artifact(subject, artifact_type="application/vnd.example.sig", blob=blob)
    await push_referrer(alice, repo, sig, OCI_MANIFEST)
    bundle = canonical(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor(OCI_MANIFEST, sig)]}
    )
    await alice.push_manifest(repo, "bundle", bundle, OCI_INDEX)
    assert (await alice.get(f"/v2/{repo}/manifests/{digest_of(sig)}")).status_code == 200
    listed = await referrers(alice, repo, subject.digest)
    assert [d["digest"] for d in listed.json()["manifests"]] == [digest_of(sig)]


async def test_referrers_are_per_repository(registry: Berth, alice: Client) -> None:
    subject = await alice.push_image("alice/one", "v1")
    blob = random_bytes(40)
    await alice.upload("alice/two", blob)
    other = artifact(subject, artifact_type="application/vnd.example.elsewhere", blob=blob)
    assert await push_referrer(alice, "alice/two", other, OCI_MANIFEST) == subject.digest
    assert (await referrers(alice, "alice/one", subject.digest)).json()["manifests"] == []
    listed = await referrers(alice, "alice/two", subject.digest)
    assert [d["digest"] for d in listed.json()["manifests"]] == [digest_of(other)]


async def test_catalog_is_in_lexical_order_of_full_names(
    registry: Berth, alice: Client, root: Client
) -> None:
    """The catalog (like distribution's, and like tags/list) is sorted by the full name, and
    ``last`` continues after that name in the same order: namespace ``alice-x`` ('-' < '/')
    comes before ``alice/...``."""
    await alice.push_image("alice/a1", "v1")
    await root.push_image("alice-x/tool", "v1")
    await root.push_image("alice.dev/x", "v1")
    su = registry.client("root", basic=True)
    names = (await su.get("/v2/_catalog")).json()["repositories"]
    assert names == sorted(names)
    after = (await su.get("/v2/_catalog", params={"last": "alice-x/tool"})).json()
    assert after["repositories"] == [n for n in sorted(names) if n > "alice-x/tool"]
