"""The Builds tab, the build page and its log fragment over ASGI (no builder runs here: the
job runner is off, so builds stay queued; tests/web/test_builds_ui.py builds for real).
Who sees what follows the build API: readers list builds but not logs, writers start,
admins cancel; refusals as the API gives them."""

from __future__ import annotations

import contextlib
import io
import re
import tarfile
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from berth.builds.services import LogLine
from berth.registry.repositories import RepoName
from tests.integration.api.conftest import configured  # noqa: F401 - the fixture
from tests.integration.conftest import BASE_URL, Berth
from tests.integration.web.conftest import Browser, csrf_of

pytestmark = pytest.mark.asyncio
PAGE = "/repository/alice/app"
TAB = PAGE + "?tab=builds"
XHR = {"X-Requested-With": "XMLHttpRequest"}


def archive() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in {"Dockerfile": b"FROM scratch\nCOPY a /a\n", "a": b"a"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture
async def reg(configured: Callable[..., Any]) -> AsyncIterator[Berth]:  # noqa: F811
    async with configured(BERTH_RUN_WORKERS_IN_PROCESS=False) as berth:
        await berth.client("alice").push_image("alice/app", "v1")
        yield berth


@contextlib.asynccontextmanager
async def signed_in(reg: Berth, who: str) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=reg.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        b = Browser(http)
        await b.sign_in(who)
        yield b


async def start_from_page(b: Browser, data: bytes, tags: str = "v2 latest") -> httpx.Response:
    page = await b.get(TAB)
    assert page.status_code == 200
    action = re.search(r'action="([^"]*/build/start\?_csrf_token=[^"]+)"', page.text)
    assert action, "no start form"
    return await b.http.post(
        action.group(1).replace("&amp;", "&"),
        files={"file": ("context.tar.gz", data, "application/gzip")},
        data={"docker_tags": tags, "context": "/", "dockerfile_path": ""},
    )


async def test_start_lists_and_follows_the_log(reg: Berth) -> None:
    async with signed_in(reg, "alice") as alice:
        empty = await alice.get(TAB)
        assert 'id="tab-builds"' in empty.text
        assert "No builds yet" in empty.text
        r = await start_from_page(alice, archive())
        assert r.status_code == 303, r.text
        build_url = r.headers["location"]
        uuid = build_url.rsplit("/", 1)[1]
        # The API sees the build the page started, with the form's tags and the uploader.
        api = (await alice.get(f"/api/v1/repository/alice/app/build/{uuid}", headers=XHR)).json()
        assert api["phase"] == "waiting"
        assert api["tags"] == ["v2", "latest"]
        assert api["manual_user"] == "alice"
        history = await alice.get(TAB)
        assert f"/build/{uuid}" in history.text
        assert 'data-phase="waiting"' in history.text
        assert "<code>v2</code>" in history.text

        page = await alice.get(build_url)
        assert page.status_code == 200
        assert 'id="build-log-poll"' in page.text  # following: the build has not ended
        assert 'id="build-cancel"' in page.text

        await reg.services.builds.append_logs(  # type: ignore[union-attr]
            uuid,
            [
                LogLine("building", "phase"),
                LogLine("STEP 1/2: FROM scratch", "command"),
                LogLine("hello <b>out</b>"),
            ],
        )
        frag = await alice.get(f"{build_url}/logs?start=0", headers={"HX-Request": "true"})
        assert frag.status_code == 200
        assert "STEP 1/2: FROM scratch" in frag.text
        assert "hello &lt;b&gt;out&lt;/b&gt;" in frag.text  # output is text, never markup
        assert "/logs?start=3" in frag.text  # the next poll asks from after these
        after = await alice.get(f"{build_url}/logs?start=2", headers={"HX-Request": "true"})
        assert "STEP 1/2" not in after.text
        assert "hello &lt;b&gt;out&lt;/b&gt;" in after.text

        # Cancel (an admin): the phase is final, the poller stops, the log stays readable.
        cancel = await alice.http.post(
            f"{build_url}/cancel", data={"_csrf_token": csrf_of(page.text)}
        )
        assert cancel.status_code == 303
        ended = await alice.get(f"{build_url}/logs?start=0", headers={"HX-Request": "true"})
        assert "STEP 1/2: FROM scratch" in ended.text
        assert 'id="build-log-poll"' not in ended.text
        assert 'data-phase="cancelled"' in ended.text
        done = await alice.get(build_url)
        assert 'id="build-cancel"' not in done.text
        assert 'id="build-log-poll"' not in done.text
        again = await alice.http.post(
            f"{build_url}/cancel", data={"_csrf_token": csrf_of(page.text)}
        )
        assert again.status_code == 303
        assert "Build cannot be cancelled" in (await alice.get(build_url)).text


async def test_refusals_follow_the_api(reg: Berth) -> None:
    async with signed_in(reg, "alice") as alice:
        r = await start_from_page(alice, archive())
        build_url = r.headers["location"]
        no_csrf = await alice.http.post(
            f"{PAGE}/build/start", files={"file": ("Dockerfile", b"FROM scratch\n", "text/plain")}
        )
        assert no_csrf.status_code == 403
        bad = await start_from_page(alice, b"\x1f\x8bnot a gzip archive")
        assert bad.status_code == 303
        shown = await alice.get(TAB)
        assert "pf-m-danger" in shown.text  # the API's message for a bad context
        api = await alice.get("/api/v1/repository/alice/app/build/?limit=10", headers=XHR)
        assert len(api.json()["builds"]) == 1  # nothing queued for the refused one

    # bob: no permission -> the API's 403 on the tab, the page, the log and the forms.
    async with signed_in(reg, "bob") as bob:
        assert (await bob.get(TAB)).status_code == 403
        assert (await bob.get(build_url)).status_code == 403
        assert (await bob.get(build_url + "/logs?start=0")).status_code == 403
        home = await bob.get("/repository/")
        token = csrf_of(home.text)
        r = await bob.http.post(f"{build_url}/cancel", data={"_csrf_token": token})
        assert r.status_code == 403
        r = await bob.http.post(
            f"{PAGE}/build/start?_csrf_token={token}",
            files={"file": ("Dockerfile", b"FROM scratch\n", "text/plain")},
        )
        assert r.status_code == 403

    # A reader: the history and the build, but not the log, no start form, no cancel.
    await reg.services.permissions.set_user_permission(RepoName("alice", "app"), "bob", "read")
    async with signed_in(reg, "bob") as bob:
        tab = await bob.get(TAB)
        assert tab.status_code == 200
        assert 'id="build-start"' not in tab.text
        page = await bob.get(build_url)
        assert page.status_code == 200
        assert 'id="build-cancel"' not in page.text
        assert "Only users who may write" in page.text
        assert (await bob.get(build_url + "/logs?start=0")).status_code == 403
        r = await bob.http.post(f"{build_url}/cancel", data={"_csrf_token": csrf_of(tab.text)})
        assert r.status_code == 403
        r = await bob.http.post(
            f"{PAGE}/build/start?_csrf_token={csrf_of(tab.text)}",
            files={"file": ("Dockerfile", b"FROM scratch\n", "text/plain")},
        )
        assert r.status_code == 403


async def test_no_builds_tab_without_the_feature(configured: Any) -> None:  # noqa: F811
    async with configured(FEATURE_BUILD_SUPPORT=False) as berth:
        await berth.client("alice").push_image("alice/app", "v1")
        async with signed_in(berth, "alice") as alice:
            assert 'id="tab-builds"' not in (await alice.get(PAGE)).text
            assert (await alice.get(f"{PAGE}/build/x")).status_code == 404


async def test_custom_git_trigger_setup(reg: Berth) -> None:
    async with signed_in(reg, "alice") as alice:
        tab = await alice.get(TAB)
        assert 'id="trigger-new"' in tab.text
        assert "No triggers" in tab.text
        r = await alice.get("/customtrigger/setup/alice/app")  # the API's setup route
        assert r.status_code == 302
        trigger_url = r.headers["location"]
        assert trigger_url.startswith(f"{PAGE}/trigger/")
        setup = await alice.get(trigger_url)
        assert setup.status_code == 200
        assert 'id="trigger-setup"' in setup.text
        assert setup.headers["cache-control"].startswith("no-store")

        # A bad template is refused with the service's message, nothing activated.
        bad = {"build_source": "https://git.example.com/app.git", "tag_templates": "${nope"}
        r = await alice.submit(trigger_url, trigger_url + "/activate", bad)
        assert r.status_code == 303
        again = await alice.get(trigger_url)
        assert "pf-m-danger" in again.text
        assert 'id="trigger-setup"' in again.text

        r = await alice.submit(
            trigger_url,
            trigger_url + "/activate",
            {
                "build_source": "https://git.example.com/app.git",
                "tag_templates": "${commit_info.short_sha}, v-${parsed_ref.branch}",
                "default_tag_from_ref": "on",
                "branchtag_regex": "heads/main",
            },
        )
        assert r.status_code == 303
        active = await alice.get(trigger_url)
        assert 'id="trigger-credentials"' in active.text
        uuid = trigger_url.rsplit("/", 1)[1]
        api = await alice.get(f"/api/v1/repository/alice/app/trigger/{uuid}", headers=XHR)
        view = api.json()
        assert view["is_active"] is True
        assert view["config"]["tag_templates"] == [
            "${commit_info.short_sha}",
            "v-${parsed_ref.branch}",
        ]
        creds = {c["name"]: c["value"] for c in view["config"]["credentials"]}
        assert creds["SSH Public Key"] in active.text
        assert creds["Webhook Endpoint URL"] in active.text
        assert creds["SSH Public Key"].startswith("ssh-ed25519 ")

        r = await alice.submit(trigger_url, trigger_url + "/disable", {})
        assert r.status_code == 303
        api = await alice.get(f"/api/v1/repository/alice/app/trigger/{uuid}", headers=XHR)
        assert api.json()["enabled"] is False
        listed = await alice.get(TAB)
        assert f"/trigger/{uuid}" in listed.text
        assert "disabled" in listed.text
        r = await alice.submit(trigger_url, trigger_url + "/enable", {})
        api = await alice.get(f"/api/v1/repository/alice/app/trigger/{uuid}", headers=XHR)
        assert api.json()["enabled"] is True

    # A writer who is not an admin: no trigger list, and the API's 403 on the page and forms.
    await reg.services.permissions.set_user_permission(RepoName("alice", "app"), "bob", "write")
    async with signed_in(reg, "bob") as bob:
        tab = await bob.get(TAB)
        assert 'id="build-triggers"' not in tab.text
        assert (await bob.get(trigger_url)).status_code == 403
        r = await bob.http.post(trigger_url + "/delete", data={"_csrf_token": csrf_of(tab.text)})
        assert r.status_code == 403

    async with signed_in(reg, "alice") as alice:
        r = await alice.submit(trigger_url, trigger_url + "/delete", {})
        assert r.status_code == 303
        api = await alice.get(f"/api/v1/repository/alice/app/trigger/{uuid}", headers=XHR)
        assert api.status_code == 404


async def test_superuser_build_queue(reg: Berth) -> None:
    async with signed_in(reg, "alice") as alice:
        r = await start_from_page(alice, archive())
        uuid = r.headers["location"].rsplit("/", 1)[1]
        assert (await alice.get("/superuser/builds")).status_code == 403  # not a superuser
    async with signed_in(reg, "root") as root:
        panel = await root.get("/superuser")
        assert 'id="superuser-builds-link"' in panel.text
        queue = await root.get("/superuser/builds")
        assert queue.status_code == 200
        assert f"/repository/alice/app/build/{uuid}" in queue.text
        assert 'data-phase="waiting"' in queue.text
        assert queue.text.count('class="berth-queue-row"') == 1
    await reg.services.builds.cancel(  # type: ignore[union-attr]
        "alice", "app", uuid, performer=None
    )
    async with signed_in(reg, "root") as root:
        assert "The build queue is empty" in (await root.get("/superuser/builds")).text
