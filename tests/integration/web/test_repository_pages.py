"""The repository's tag actions, tag history, settings and the manifest page over ASGI: each
action changes what the API then answers, and is refused (403/404, no controls shown) to
callers the API refuses; forms without their CSRF token, over-long input and markup in
labels are handled as the UI promises."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.integration.api.conftest import configured  # noqa: F401 - the fixture
from tests.integration.conftest import (
    OCI_INDEX,
    OCI_MANIFEST,
    Berth,
    Client,
    Pushed,
    canonical,
    digest_of,
    image_manifest,
    index_manifest,
    random_bytes,
)
from tests.integration.test_discovery import artifact, push_referrer
from tests.integration.web.conftest import Browser, csrf_of
from tests.integration.web.test_pages import parsed

HTMX = {"HX-Request": "true"}
PAGE = "/repository/alice/app"


XHR = {"X-Requested-With": "XMLHttpRequest"}


async def live_tags(browser: Browser, repo: str = "alice/app") -> dict[str, dict[str, Any]]:
    """The tags API's answer to the same session, by name."""
    r = await browser.get(
        f"/api/v1/repository/{repo}/tag/?onlyActiveTags=true&limit=100", headers=XHR
    )
    assert r.status_code == 200, r.text
    return {t["name"]: t for t in r.json()["tags"]}


async def setup_repo(registry: Berth, browser: Browser) -> tuple[str, str]:
    alice = registry.client("alice")
    one = await alice.push_image("alice/app", "v1")
    two = await alice.push_image("alice/app", "v2")
    await browser.sign_in("alice")
    return one.digest, two.digest


async def post(browser: Browser, action: str, data: dict[str, str], **kw: Any) -> Any:
    return await browser.submit(f"{PAGE}?tab=tags", action, data, **kw)


async def test_fetch_tag_shows_pull_commands_by_tag_and_digest(
    registry: Berth, browser: Browser
) -> None:
    one, _ = await setup_repo(registry, browser)
    r = await browser.get(f"{PAGE}?tab=tags&action=fetch&tag=v1")
    assert r.status_code == 200
    assert "podman pull localhost:5000/alice/app:v1" in r.text
    assert f"podman pull localhost:5000/alice/app@{one}" in r.text
    assert f"docker pull localhost:5000/alice/app@{one}" in r.text
    assert "skopeo copy docker://localhost:5000/alice/app:v1 oci:app:v1" in r.text
    frag = await browser.get(f"{PAGE}?tab=tags&action=fetch&tag=v1", headers=HTMX)
    assert frag.text.lstrip().startswith('<div id="tag-action"')
    assert "<html" not in frag.text
    assert (await browser.get(f"{PAGE}?tab=tags&action=fetch&tag=nope")).status_code == 404


async def test_add_move_expire_and_delete_a_tag(registry: Berth, browser: Browser) -> None:
    one, two = await setup_repo(registry, browser)
    page = await browser.get(f"{PAGE}?tab=tags")
    assert 'aria-label="Actions for tag v1"' in page.text
    assert "action=delete&amp;tag=v1" in page.text

    r = await post(browser, f"{PAGE}/tag/v1/add", {"new_tag": "stable", "manifest_digest": one})
    assert r.status_code == 303
    assert r.headers["location"] == f"{PAGE}?tab=tags"
    assert (await live_tags(browser))["stable"]["manifest_digest"] == one
    follow = await browser.get(r.headers["location"])
    assert "Tag stable added." in follow.text

    # Move by naming another tag (or a digest); htmx gets the refreshed tab back.
    token = csrf_of((await browser.get(f"{PAGE}?tab=tags")).text)
    r = await browser.http.post(
        f"{PAGE}/tag/stable/move",
        data={"_csrf_token": token, "target": "v2"},
        headers=HTMX,
    )
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="tags-tab">')
    assert "Tag stable moved to" in r.text
    assert (await live_tags(browser))["stable"]["manifest_digest"] == two

    # Expiration from the date-time picker (read as UTC), then cleared.
    when = (datetime.now(UTC) + timedelta(days=7)).replace(second=0, microsecond=0)
    r = await post(
        browser, f"{PAGE}/tag/stable/expire", {"expires_at": when.strftime("%Y-%m-%dT%H:%M")}
    )
    assert r.status_code == 303
    assert (await live_tags(browser))["stable"]["end_ts"] == int(when.timestamp())
    page = await browser.get(f"{PAGE}?tab=tags")
    assert when.strftime("%Y-%m-%d %H:%M UTC") in page.text
    r = await post(browser, f"{PAGE}/tag/stable/expire", {"clear": "true"})
    assert r.status_code == 303
    assert "expiration" not in (await live_tags(browser))["stable"]

    # Delete asks first (the panel), then deletes.
    confirm = await browser.get(f"{PAGE}?tab=tags&action=delete&tag=stable")
    assert "Delete tag stable?" in confirm.text
    r = await post(browser, f"{PAGE}/tag/stable/delete", {})
    assert r.status_code == 303
    assert "stable" not in await live_tags(browser)


async def test_refused_and_bad_tag_input(
    registry: Berth, browser: Browser, other_browser: Browser
) -> None:
    one, _ = await setup_repo(registry, browser)
    # Over-long and invalid names: refused with a message, nothing written.
    r = await post(browser, f"{PAGE}/tag/v1/add", {"new_tag": "x" * 300, "manifest_digest": one})
    assert r.status_code == 400
    assert "At most 128 characters." in r.text
    r = await post(browser, f"{PAGE}/tag/v1/add", {"new_tag": "-bad", "manifest_digest": one})
    assert r.status_code == 400
    assert "Invalid tag" in r.text
    r = await post(browser, f"{PAGE}/tag/v1/expire", {"expires_at": "2001-01-01T00:00"})
    assert r.status_code == 400
    assert "Expiration must be in the future" in r.text
    r = await post(browser, f"{PAGE}/tag/v1/immutable", {"immutable": "true"})
    assert r.status_code == 400
    assert "Tag immutability is not enabled (FEATURE_IMMUTABLE_TAGS)" in r.text
    assert "Make immutable" not in (await browser.get(f"{PAGE}?tab=tags")).text
    r = await post(browser, f"{PAGE}/tag/v1/move", {"target": "nosuchtag"})
    assert r.status_code == 400
    assert "No tag nosuchtag in this repository." in r.text
    # htmx: the error comes back in the action panel.
    token = csrf_of((await browser.get(f"{PAGE}?tab=tags")).text)
    r = await browser.http.post(
        f"{PAGE}/tag/v1/add",
        data={"_csrf_token": token, "new_tag": "x" * 300, "manifest_digest": one},
        headers=HTMX,
    )
    assert r.headers["hx-retarget"] == "#tag-action"
    assert "At most 128 characters." in r.text
    assert set(await live_tags(browser)) == {"v1", "v2"}

    # Without the CSRF token: 403.
    r = await browser.http.post(f"{PAGE}/tag/v1/delete", data={})
    assert r.status_code == 403
    assert "v1" in await live_tags(browser)

    # bob has no rights: the API's 403, and nothing changes.
    await other_browser.sign_in("bob")
    r = await other_browser.submit("/repository/", f"{PAGE}/tag/v1/delete", {})
    assert r.status_code == 403
    r = await other_browser.get(f"{PAGE}?tab=tags&action=delete&tag=v1")
    assert r.status_code == 403
    # A reader of a public repository sees the fetch commands but no write actions.
    await registry.set_public("alice/app")
    page = await other_browser.get(f"{PAGE}?tab=tags")
    assert page.status_code == 200
    assert "action=fetch&amp;tag=v1" in page.text
    assert "action=delete" not in page.text
    assert "Add new tag" not in page.text
    assert (await other_browser.get(f"{PAGE}?tab=tags&action=add&tag=v1")).status_code == 403
    r = await other_browser.submit(f"{PAGE}?tab=tags", f"{PAGE}/tag/v1/delete", {})
    assert r.status_code == 403
    r = await other_browser.submit(
        f"{PAGE}?tab=tags", f"{PAGE}/tag/v1/add", {"new_tag": "mine", "manifest_digest": one}
    )
    assert r.status_code == 403
    assert set(await live_tags(browser)) == {"v1", "v2"}
    assert (await other_browser.get(f"{PAGE}?tab=settings")).status_code == 403


async def test_history_marks_movements_and_restores_a_deleted_tag(
    registry: Berth, browser: Browser, other_browser: Browser
) -> None:
    one, two = await setup_repo(registry, browser)
    await post(browser, f"{PAGE}/tag/v1/move", {"target": two})
    await post(browser, f"{PAGE}/tag/v2/delete", {})
    page = await browser.get(f"{PAGE}?tab=history")
    assert page.status_code == 200
    statuses = re.findall(r'data-history-tag="([^"]+)" data-status="([^"]+)"', page.text)
    assert ("v2", "deleted") in statuses
    assert ("v1", "moved") in statuses
    assert ("v1", "live") in statuses
    assert "Deleted or expired" in page.text
    assert f'aria-label="Restore v2 to {two}"' in page.text
    assert f'aria-label="Restore v1 to {one}"' in page.text  # revert the move

    r = await browser.submit(
        f"{PAGE}?tab=history", f"{PAGE}/tag/v2/restore", {"manifest_digest": two}
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"{PAGE}?tab=history"
    assert (await live_tags(browser))["v2"]["manifest_digest"] == two
    page = await browser.get(f"{PAGE}?tab=history")
    assert "Restored" in page.text

    # A reader sees the history but no restore button, and may not restore.
    await registry.set_public("alice/app")
    await other_browser.sign_in("bob")
    page = await other_browser.get(f"{PAGE}?tab=history")
    assert page.status_code == 200
    assert "Restore v1" not in page.text
    r = await other_browser.submit(
        f"{PAGE}?tab=history", f"{PAGE}/tag/v1/restore", {"manifest_digest": one}
    )
    assert r.status_code == 403


async def test_settings_permissions_visibility_and_deletion(
    registry: Berth, browser: Browser, other_browser: Browser
) -> None:
    await setup_repo(registry, browser)
    settings = f"{PAGE}?tab=settings"
    page = await browser.get(settings)
    assert page.status_code == 200
    assert "Repository permissions" in page.text
    assert 'href="?tab=settings"' in page.text

    # Type-ahead over entities (the API's entity search), then grant bob read.
    r = await browser.get(f"{PAGE}/settings/entities?name=bo", headers=HTMX)
    assert r.status_code == 200
    assert '<option value="bob"' in r.text
    r = await browser.submit(
        settings, f"{PAGE}/settings/permission", {"kind": "user", "name": "bob", "role": "read"}
    )
    assert r.status_code == 303
    api = await browser.get("/api/v1/repository/alice/app/permissions/user/", headers=XHR)
    assert api.json()["permissions"]["bob"]["role"] == "read"
    await other_browser.sign_in("bob")
    bob_page = await other_browser.get(f"{PAGE}?tab=tags")
    assert bob_page.status_code == 200
    assert "action=delete" not in bob_page.text
    assert 'href="?tab=settings"' not in bob_page.text
    r = await other_browser.submit(
        f"{PAGE}?tab=tags",
        f"{PAGE}/settings/permission",
        {"kind": "user", "name": "bob", "role": "admin"},
    )
    assert r.status_code == 403  # bob may not raise himself

    # An unknown user: the API's message, nothing written.
    r = await browser.submit(
        settings, f"{PAGE}/settings/permission", {"kind": "user", "name": "nobody", "role": "read"}
    )
    assert r.status_code == 400
    r = await browser.submit(
        settings, f"{PAGE}/settings/permission", {"kind": "user", "name": "n" * 300, "role": "read"}
    )
    assert r.status_code == 400
    assert "At most 255 characters." in r.text

    # Write, then revoke.
    await browser.submit(
        settings, f"{PAGE}/settings/permission", {"kind": "user", "name": "bob", "role": "write"}
    )
    bob_page = await other_browser.get(f"{PAGE}?tab=tags")
    assert "action=delete" in bob_page.text
    await browser.submit(
        settings, f"{PAGE}/settings/permission", {"kind": "user", "name": "bob", "role": "none"}
    )
    assert (await other_browser.get(f"{PAGE}?tab=tags")).status_code == 403

    # Visibility.
    r = await browser.submit(settings, f"{PAGE}/settings/visibility", {"visibility": "public"})
    assert r.status_code == 303
    assert (await other_browser.get(f"{PAGE}?tab=tags")).status_code == 200

    # Description: writers edit it; markup is sanitised; too long is refused.
    r = await browser.submit(
        f"{PAGE}?edit=description",
        f"{PAGE}/description",
        {"description": "# Hello\n<script>alert(1)</script>"},
    )
    assert r.status_code == 303
    info = await browser.get(PAGE)
    assert "<h1>Hello</h1>" in info.text
    assert "<script>alert(1)" not in info.text
    r = await browser.submit(
        f"{PAGE}?edit=description", f"{PAGE}/description", {"description": "x" * 70000}
    )
    assert r.status_code == 400
    assert "too long" in r.text

    # Deletion asks for the name.
    r = await browser.submit(settings, f"{PAGE}/settings/delete", {"confirm": "app"})
    assert r.status_code == 400
    assert "Type alice/app to confirm the deletion." in r.text
    r = await other_browser.submit(
        f"{PAGE}?tab=tags", f"{PAGE}/settings/delete", {"confirm": "alice/app"}
    )
    assert r.status_code == 403
    r = await browser.submit(settings, f"{PAGE}/settings/delete", {"confirm": "alice/app"})
    assert r.status_code == 303
    assert (await browser.get(PAGE)).status_code == 404


async def test_manifest_page_layers_labels_and_referrers(
    registry: Berth, browser: Browser, other_browser: Browser
) -> None:
    alice: Client = registry.client("alice")
    layer = random_bytes(3000)
    config = canonical(
        {
            "architecture": "arm64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [digest_of(layer)]},
            "history": [
                {"created_by": "/bin/sh -c #(nop) ENV A=1", "empty_layer": True},
                {"created_by": "RUN make <all>", "created": "2026-01-02T03:04:05Z"},
            ],
        }
    )
    for b in (config, layer):
        await alice.upload("alice/app", b)
    body = image_manifest(config, [layer])
    await alice.push_manifest("alice/app", "v1", body, OCI_MANIFEST)
    image = Pushed("alice/app", "v1", body, OCI_MANIFEST, config, [layer])
    await alice.upload("alice/app", b"{}")
    blob = random_bytes(64)
    await alice.upload("alice/app", blob)
    sig = artifact(
        image,
        artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json",
        blob=blob,
        annotations={"org.example.note": "<b>signed</b>"},
    )
    await push_referrer(alice, "alice/app", sig, "application/vnd.oci.image.manifest.v1+json")
    await browser.sign_in("alice")
    url = f"{PAGE}/manifest/{image.digest}"
    page = await browser.get(url)
    assert page.status_code == 200
    assert 'id="manifest-platform">linux/arm64<' in page.text
    assert "Signature (cosign)" in page.text
    assert "application/vnd.dev.cosign.artifact.sig.v1+json" in page.text
    assert '<td role="cell" data-label="Size">2.9 KiB</td>' in page.text
    assert "RUN make &lt;all&gt;" in page.text  # the history step that made the layer
    assert "ENV A=1" not in page.text  # an empty layer's step describes no layer
    ref_page = await browser.get(
        f"{PAGE}/manifest/" + re.findall(r'data-referrer="([^"]+)"', page.text)[0]
    )
    assert "&lt;b&gt;signed&lt;/b&gt;" in ref_page.text  # annotations as text

    # Labels: add (a value with markup renders inert), too long refused, delete.
    r = await browser.submit(
        url, f"{url}/labels", {"key": "note", "value": "<script>alert(1)</script>"}
    )
    assert r.status_code == 303
    page = await browser.get(url)
    assert "note = &lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text
    r = await browser.submit(url, f"{url}/labels", {"key": "big", "value": "x" * 5000})
    assert r.status_code == 400
    assert "At most 4096 characters." in r.text
    api = await browser.get(
        f"/api/v1/repository/alice/app/manifest/{image.digest}/labels", headers=XHR
    )
    labels = api.json()["labels"]
    assert [label["key"] for label in labels] == ["note"]
    r = await browser.submit(url, f"{url}/labels", {"delete": labels[0]["id"]})
    assert r.status_code == 303
    api = await browser.get(
        f"/api/v1/repository/alice/app/manifest/{image.digest}/labels", headers=XHR
    )
    assert api.json()["labels"] == []

    # No rights: the API's 403; a reader sees no label form and may not add.
    await other_browser.sign_in("bob")
    assert (await other_browser.get(url)).status_code == 403
    await registry.set_public("alice/app")
    page = await other_browser.get(url)
    assert page.status_code == 200
    assert "Add label" not in page.text
    r = await other_browser.submit(url, f"{url}/labels", {"key": "x", "value": "y"})
    assert r.status_code == 403
    assert (await other_browser.get(f"{PAGE}/manifest/sha256:{'0' * 64}")).status_code == 404
    assert (await other_browser.get(f"{PAGE}/manifest/latest")).status_code == 404


async def test_new_pages_have_no_inline_script_or_style(registry: Berth, browser: Browser) -> None:
    one, _ = await setup_repo(registry, browser)
    urls = [
        f"{PAGE}?tab=tags&action={a}&tag=v1" for a in ("fetch", "add", "move", "expire", "delete")
    ] + [f"{PAGE}?tab=history", f"{PAGE}?tab=settings", f"{PAGE}?edit=description"]
    urls.append(f"{PAGE}/manifest/{one}")
    for url in urls:
        r = await browser.get(url)
        assert r.status_code == 200, url
        assert "content-security-policy" in r.headers
        for tag, attrs in parsed(r.text):
            assert tag != "script" or attrs.get("src"), (url, "inline script")
            assert tag != "style", url
            assert "style" not in attrs, (url, tag)
            assert not any(name.startswith("on") for name in attrs), (url, tag)
            assert not any(name.startswith("hx-on") for name in attrs), (url, tag)
            if tag in ("input", "select", "textarea") and attrs.get("type") != "hidden":
                # every input has a label (for=) or an aria-label
                assert attrs.get("id") or attrs.get("aria-label"), (url, attrs)
    closed = await browser.get(f"{PAGE}?tab=tags&action=close", headers=HTMX)
    assert closed.text.strip() == '<div id="tag-action"></div>'


async def test_policies_and_state_in_the_settings(configured: Any) -> None:  # noqa: F811
    """Immutability and auto-prune policies, and the repository state, when their features
    are on: the same services and answers as the policy and changestate routes."""
    async with configured(
        FEATURE_IMMUTABLE_TAGS=True, FEATURE_AUTO_PRUNE=True, FEATURE_REPO_MIRROR=True
    ) as berth:
        await berth.client("alice").push_image("alice/app", "v1")
        transport = httpx.ASGITransport(app=berth.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:5000") as h:
            b = Browser(h)
            await b.sign_in("alice")
            settings = f"{PAGE}?tab=settings"
            # A tag made immutable from its actions, then mutable again (an administrator).
            tags = await b.get(f"{PAGE}?tab=tags")
            assert "Make immutable" in tags.text
            panel = await b.get(f"{PAGE}?tab=tags&action=immutable&tag=v1")
            assert "Make v1 immutable" in panel.text
            r = await b.submit(
                f"{PAGE}?tab=tags", f"{PAGE}/tag/v1/immutable", {"immutable": "true"}
            )
            assert r.status_code == 303
            assert (await live_tags(b))["v1"]["immutable"] is True
            assert "Make mutable" in (await b.get(f"{PAGE}?tab=tags")).text
            r = await b.submit(f"{PAGE}?tab=tags", f"{PAGE}/tag/v1/delete", {})
            assert r.status_code == 400
            r = await b.submit(
                f"{PAGE}?tab=tags", f"{PAGE}/tag/v1/immutable", {"immutable": "false"}
            )
            assert r.status_code == 303
            assert (await live_tags(b))["v1"]["immutable"] is False

            page = await b.get(settings)
            assert "Tag immutability policies" in page.text
            assert "Auto-prune policies" in page.text
            policy = f"{PAGE}/settings/policy"
            r = await b.submit(
                settings,
                f"{policy}/immutability",
                {"tagPattern": "^v", "tagPatternMatches": "true"},
            )
            assert r.status_code == 303
            api = await b.get("/api/v1/repository/alice/app/immutabilitypolicy/", headers=XHR)
            (stored,) = api.json()["policies"]
            assert stored["tagPattern"] == "^v"
            tags = await b.get(f"{PAGE}?tab=tags")
            assert "Immutable" in tags.text
            r = await b.submit(f"{PAGE}?tab=tags", f"{PAGE}/tag/v1/delete", {})
            assert r.status_code == 400  # the API's tag_immutable answer, as a message
            assert "v1" in await live_tags(b)
            r = await b.submit(settings, f"{policy}/immutability", {"delete": stored["uuid"]})
            assert r.status_code == 303
            api = await b.get("/api/v1/repository/alice/app/immutabilitypolicy/", headers=XHR)
            assert api.json()["policies"] == []

            r = await b.submit(
                settings, f"{policy}/autoprune", {"method": "number_of_tags", "value": "abc"}
            )
            assert r.status_code == 400
            assert "Invalid value given for method type" in r.text
            r = await b.submit(
                settings, f"{policy}/autoprune", {"method": "number_of_tags", "value": "5"}
            )
            assert r.status_code == 303
            api = await b.get("/api/v1/repository/alice/app/autoprunepolicy/", headers=XHR)
            assert [(p["method"], p["value"]) for p in api.json()["policies"]] == [
                ("number_of_tags", 5)
            ]
            assert "Keep the newest 5 tags" in (await b.get(settings)).text

            r = await b.submit(settings, f"{PAGE}/settings/state", {"state": "READ_ONLY"})
            assert r.status_code == 303
            tags = await b.get(f"{PAGE}?tab=tags")
            assert "action=delete" not in tags.text  # no write controls in a read-only state
            r = await b.submit(f"{PAGE}?tab=tags", f"{PAGE}/tag/v1/delete", {})
            assert r.status_code == 503


async def test_team_and_robot_permissions_in_an_organization(
    registry: Berth, browser: Browser
) -> None:
    svc = registry.services
    await svc.orgs.create("acme", creator="alice")
    await svc.teams.create_or_update("acme", "builders", role="member", performer="alice")
    await svc.robots.create("acme", "ci", performer="alice")
    await browser.sign_in("alice")
    r = await browser.submit("/new", "/new", {"namespace": "acme", "name": "web"})
    assert r.status_code == 303
    url = "/repository/acme/web"
    settings = f"{url}?tab=settings"
    page = await browser.get(settings)
    assert '<option value="team">Team</option>' in page.text
    options = await browser.get(f"{url}/settings/entities?name=b", headers=HTMX)
    assert '<option value="builders" label="builders (team)">' in options.text
    options = await browser.get(f"{url}/settings/entities?name=c", headers=HTMX)
    assert '<option value="acme+ci" label="acme+ci (robot)">' in options.text
    r = await browser.submit(
        settings,
        f"{url}/settings/permission",
        {"kind": "team", "name": "builders", "role": "write"},
    )
    assert r.status_code == 303
    r = await browser.submit(
        settings, f"{url}/settings/permission", {"kind": "user", "name": "acme+ci", "role": "read"}
    )
    assert r.status_code == 303
    api = await browser.get("/api/v1/repository/acme/web/permissions/team/", headers=XHR)
    assert api.json()["permissions"]["builders"]["role"] == "write"
    api = await browser.get("/api/v1/repository/acme/web/permissions/user/", headers=XHR)
    assert api.json()["permissions"]["acme+ci"]["role"] == "read"
    page = await browser.get(settings)
    assert 'data-permission="builders"' in page.text
    assert "Robot" in page.text
    r = await browser.submit(
        settings, f"{url}/settings/permission", {"kind": "team", "name": "builders", "role": "none"}
    )
    assert r.status_code == 303
    api = await browser.get("/api/v1/repository/acme/web/permissions/team/", headers=XHR)
    assert api.json()["permissions"] == {}


async def test_an_index_lists_its_platforms_and_readers_may_not_edit_the_description(
    registry: Berth, browser: Browser, other_browser: Browser
) -> None:
    alice = registry.client("alice")
    amd = await alice.push_image("alice/app", None)
    arm = await alice.push_image("alice/app", None)
    body = index_manifest(
        [
            (OCI_MANIFEST, amd.manifest, {"platform": {"os": "linux", "architecture": "amd64"}}),
            (
                OCI_MANIFEST,
                arm.manifest,
                {"platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            ),
        ],
        annotations={"org.opencontainers.image.source": "<i>repo</i>"},
    )
    await alice.push_manifest("alice/app", "multi", body, OCI_INDEX)
    await browser.sign_in("alice")
    page = await browser.get(f"{PAGE}/manifest/{digest_of(body)}")
    assert page.status_code == 200
    assert "Platforms" in page.text
    assert "linux/arm64/v8" in page.text
    assert f'href="{PAGE}/manifest/{amd.digest}"' in page.text
    assert "&lt;i&gt;repo&lt;/i&gt;" in page.text  # annotations as text
    assert 'aria-label="Layers"' not in page.text  # an index has no layers of its own
    child = await browser.get(f"{PAGE}/manifest/{arm.digest}")
    assert child.status_code == 200

    await registry.set_public("alice/app")
    await other_browser.sign_in("bob")
    info = await other_browser.get(f"{PAGE}?edit=description")
    assert info.status_code == 200
    assert "Edit description" not in info.text
    assert 'name="description"' not in info.text
    r = await other_browser.submit(PAGE, f"{PAGE}/description", {"description": "mine"})
    assert r.status_code == 403
