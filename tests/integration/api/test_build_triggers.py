"""Build triggers over HTTP: Quay's trigger routes, the push webhook with GitHub, GitLab and
Bitbucket payloads in their documented formats (tests/support/triggerpayloads), and a
custom git trigger against a real git server (git http-backend) reached through the SSRF
guard. Builds are asserted where a user sees them: the trigger's builds through the API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import text

from berth.registry.repositories import RepoName
from tests.integration.api.conftest import bearer, oauth_token, sign_in
from tests.integration.conftest import BASE_URL, Berth
from tests.support.gitserver import GitServer, git_server

API = "/api/v1"
REPO = f"{API}/repository/alice/app"
TRIGGERS = REPO + "/trigger/"
PAYLOADS = Path(__file__).parents[2] / "support" / "triggerpayloads"
SCM = {
    "FEATURE_GITHUB_BUILD": True,
    "GITHUB_TRIGGER_CONFIG": {"CLIENT_ID": "gh-client", "CLIENT_SECRET": "gh-secret"},
    "FEATURE_GITLAB_BUILD": True,
    "GITLAB_TRIGGER_CONFIG": {"CLIENT_ID": "gl-client", "CLIENT_SECRET": "gl-secret"},
    "FEATURE_BITBUCKET_BUILD": True,
    "BITBUCKET_TRIGGER_CONFIG": {"CONSUMER_KEY": "bb-key", "CONSUMER_SECRET": "bb-secret"},
}


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return data


@pytest.fixture
async def berth(configured: Any) -> AsyncIterator[Berth]:
    async with configured(SSRF_ALLOWED_HOSTS=["127.0.0.1"], **SCM) as b:
        await b.client("alice").push_image("alice/app", "base")
        yield b


@pytest.fixture
def gits(tmp_path: Path) -> Any:
    root = tmp_path / "git"
    root.mkdir()
    with git_server(root) as server:
        yield server


async def auth(b: Berth, user: str = "alice") -> dict[str, str]:
    return bearer(await oauth_token(b, user))


async def new_trigger(b: Berth, service: str) -> str:
    """What the setup route (custom git) or the SCM's OAuth callback does."""
    view = await b.services.build_triggers.create(
        RepoName("alice", "app"), service, connected_user_id=None
    )
    return str(view.uuid)


async def activate(b: Berth, uuid: str, config: dict[str, Any], status: int = 200) -> Any:
    r = await b.http.post(
        TRIGGERS + uuid + "/activate", headers=await auth(b), json={"config": config}
    )
    assert r.status_code == status, r.text
    return r.json()


def webhook_of(trigger: dict[str, Any]) -> tuple[str, str]:
    """(path, token) of the webhook URL shown in the trigger's credentials."""
    creds = {c["name"]: c["value"] for c in trigger["config"]["credentials"]}
    url = urlsplit(creds["Webhook Endpoint URL"])
    assert url.username == "$token"
    assert url.password
    return url.path, url.password


async def builds_of(b: Berth, uuid: str) -> list[dict[str, Any]]:
    r = await b.http.get(TRIGGERS + uuid + "/builds", headers=await auth(b))
    assert r.status_code == 200, r.text
    builds: list[dict[str, Any]] = r.json()["builds"]
    return builds


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"$token:{token}".encode()).decode()}


def signature(body: bytes, token: str) -> str:
    return "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


# ------------------------------------------------------------------ SCM push payloads


async def test_github_push_with_a_valid_signature_starts_a_templated_build(berth: Berth) -> None:
    uuid = await new_trigger(berth, "github")
    trigger = await activate(
        berth,
        uuid,
        {
            "build_source": "octo-org/hello-world",
            "tag_templates": ["${commit_info.short_sha}", "gh-${parsed_ref.branch}"],
        },
    )
    assert trigger["is_active"] is True
    assert trigger["repository_url"] == "https://github.com/octo-org/hello-world"
    path, token = webhook_of(trigger)
    body = json.dumps(payload("github_push")).encode()

    r = await berth.http.post(
        path,
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-Hub-Signature-256": signature(body, token),
        },
    )
    assert r.status_code == 200, r.text
    assert r.text == "Okay"
    [build] = await builds_of(berth, uuid)
    assert sorted(build["tags"]) == ["0d1a26e", "gh-main", "latest", "main"]
    assert build["phase"] == "waiting"
    assert build["display_name"] == "0d1a26e"
    assert build["trigger"]["id"] == uuid
    meta = build["trigger_metadata"]
    assert meta["commit"] == "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
    assert meta["ref"] == "refs/heads/main"
    assert meta["default_branch"] == "main"
    assert meta["git_url"] == "git@github.com:octo-org/hello-world.git"
    assert meta["commit_info"]["message"] == "Update the Dockerfile"
    # the builds routes show the build's trigger in Quay's trigger view
    r = await berth.http.get(f"{REPO}/build/{build['id']}", headers=await auth(berth))
    assert r.status_code == 200, r.text
    assert r.json()["trigger"]["service"] == "github"
    assert r.json()["trigger"]["build_source"] == "octo-org/hello-world"
    r = await berth.http.get(f"{REPO}/build/", headers=await auth(berth))
    assert [b["trigger"]["id"] for b in r.json()["builds"]] == [uuid]


async def test_wrong_signatures_and_tokens_are_refused_with_no_build(berth: Berth) -> None:
    uuid = await new_trigger(berth, "github")
    path, token = webhook_of(await activate(berth, uuid, {"build_source": "octo-org/hello-world"}))
    body = json.dumps(payload("github_push")).encode()
    for headers in (
        {"X-Hub-Signature-256": signature(body, "not-the-token")},
        {"X-Hub-Signature-256": signature(body + b"\n", token)},
        basic("wrong"),
        {"X-Gitlab-Token": "wrong"},
        {},
    ):
        r = await berth.http.post(
            path, content=body, headers={"Content-Type": "application/json", **headers}
        )
        assert r.status_code == 403, (headers, r.text)
    assert await builds_of(berth, uuid) == []
    # an unknown trigger is a 404
    r = await berth.http.post("/webhooks/push/trigger/" + "0" * 36, content=body)
    assert r.status_code == 404


async def test_gitlab_push_with_its_token(berth: Berth) -> None:
    uuid = await new_trigger(berth, "gitlab")
    trigger = await activate(
        berth,
        uuid,
        {
            "build_source": "mike/diaspora",
            "tag_templates": ["${parsed_ref.branch}-${commit_info.short_sha}"],
            "latest_for_default_branch": False,
        },
    )
    path, token = webhook_of(trigger)
    body = json.dumps(payload("gitlab_push")).encode()
    headers = {"Content-Type": "application/json", "X-Gitlab-Event": "Push Hook"}
    r = await berth.http.post(path, content=body, headers={**headers, "X-Gitlab-Token": "nope"})
    assert r.status_code == 403
    assert await builds_of(berth, uuid) == []
    r = await berth.http.post(path, content=body, headers={**headers, "X-Gitlab-Token": token})
    assert r.status_code == 200, r.text
    [build] = await builds_of(berth, uuid)
    assert sorted(build["tags"]) == ["release", "release-da15608"]
    assert build["trigger_metadata"]["git_url"] == "git@example.com:mike/diaspora.git"


async def test_bitbucket_tag_push_with_the_webhook_urls_credentials(berth: Berth) -> None:
    uuid = await new_trigger(berth, "bitbucket")
    trigger = await activate(
        berth,
        uuid,
        {"build_source": "acme/web-app", "tag_templates": ["release-${parsed_ref.tag}"]},
    )
    path, token = webhook_of(trigger)
    body = json.dumps(payload("bitbucket_push")).encode()
    r = await berth.http.post(
        path, content=body, headers={"Content-Type": "application/json", **basic(token)}
    )
    assert r.status_code == 200, r.text
    [build] = await builds_of(berth, uuid)
    assert sorted(build["tags"]) == ["release-v1.4.0", "v1.4.0"]
    assert build["trigger_metadata"]["ref"] == "refs/tags/v1.4.0"
    assert build["trigger_metadata"]["git_url"] == "git@bitbucket.org:acme/web-app.git"


async def test_skip_build_messages_and_ref_filters_build_nothing(berth: Berth) -> None:
    uuid = await new_trigger(berth, "github")
    path, token = webhook_of(
        await activate(
            berth,
            uuid,
            {"build_source": "octo-org/hello-world", "branchtag_regex": "heads/release-.+"},
        )
    )

    async def send(doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        r = await berth.http.post(
            path,
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": signature(body, token),
            },
        )
        assert r.status_code == 200, r.text
        assert r.text == "Okay"

    push = payload("github_push")
    await send(push)  # main does not match heads/release-.+
    await send({"zen": "Design for failure.", "hook_id": 1})  # the ping
    for message in ("Fix typo [skip build]", "[build skip] docs only"):
        head = {**push["head_commit"], "message": message}
        await send({**push, "ref": "refs/heads/release-1", "head_commit": head})
    assert await builds_of(berth, uuid) == []
    await send({**push, "ref": "refs/heads/release-1"})
    [build] = await builds_of(berth, uuid)
    assert build["tags"] == ["release-1"]


# ------------------------------------------------------------------ setup and management


async def test_invalid_templates_and_configs_are_refused_at_setup(berth: Berth) -> None:
    uuid = await new_trigger(berth, "github")
    for config, message in (
        (
            {"build_source": "o/r", "tag_templates": ["${commit_info.short_sha"]},
            "Invalid tag template `${commit_info.short_sha`",
        ),
        ({"build_source": "o/r", "tag_templates": ["${commit_info.sha}"]}, "unknown field"),
        ({"build_source": "o/r", "tag_templates": ["v:${parsed_ref.tag}"]}, "letters, digits"),
        ({"build_source": "o/r", "branchtag_regex": "heads/(x"}, "regular expression"),
        ({"build_source": "o/r", "dockerfile_path": "../Dockerfile"}, "`..`"),
        ({"build_source": "not a repo"}, "build_source"),
    ):
        r = await berth.http.post(
            TRIGGERS + uuid + "/activate", headers=await auth(berth), json={"config": config}
        )
        assert r.status_code == 400, r.text
        problem = r.json()
        assert problem["error_type"] == "invalid_request"
        assert message in problem["error_message"], problem
    r = await berth.http.get(TRIGGERS + uuid, headers=await auth(berth))
    assert r.json()["is_active"] is False  # nothing written
    assert r.json()["config"] == {}


async def test_trigger_views_toggle_delete_and_usage_logs(berth: Berth) -> None:
    uuid = await new_trigger(berth, "github")
    h = await auth(berth)
    r = await berth.http.put(TRIGGERS + uuid, headers=h, json={"enabled": False})
    assert r.status_code == 400  # not activated yet
    trigger = await activate(berth, uuid, {"build_source": "octo-org/hello-world"})
    assert set(trigger) == {
        "id", "service", "is_active", "build_source", "repository_url", "config",
        "can_invoke", "enabled", "disabled_reason",
    }  # fmt: skip
    assert trigger["config"]["tag_templates"] == []
    assert trigger["config"]["default_tag_from_ref"] is True
    creds = {c["name"]: c["value"] for c in trigger["config"]["credentials"]}
    assert creds["SSH Public Key"].startswith("ssh-ed25519 ")
    text = json.dumps(trigger)
    assert "PRIVATE KEY" not in text

    r = await berth.http.get(TRIGGERS, headers=h)
    assert [t["id"] for t in r.json()["triggers"]] == [uuid]
    r = await berth.http.get(TRIGGERS.rstrip("/"), headers=h)
    assert r.status_code == 308  # Quay's strict slashes

    r = await berth.http.put(TRIGGERS + uuid, headers=h, json={"enabled": False})
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is False
    assert r.json()["disabled_reason"] == "user_toggled"
    path, token = webhook_of(trigger)
    r = await berth.http.post(path, json=payload("github_push"), headers=basic(token))
    assert r.status_code == 400
    assert r.json() == {
        "message": "This build trigger is currently disabled. Please re-enable to continue."
    }
    r = await berth.http.post(TRIGGERS + uuid + "/start", headers=h, json={})
    assert r.status_code == 400
    assert r.json()["error_message"] == "Trigger is not enabled."

    # bob is no admin of alice/app
    r = await berth.http.get(TRIGGERS + uuid, headers=await auth(berth, "bob"))
    assert r.status_code == 403

    r = await berth.http.delete(TRIGGERS + uuid, headers=h)
    assert r.status_code == 204
    r = await berth.http.get(TRIGGERS + uuid, headers=h)
    assert r.status_code == 404
    r = await berth.http.post(path, json=payload("github_push"), headers=basic(token))
    assert r.status_code == 404

    r = await berth.http.get(REPO + "/logs", headers=h)
    logs = {e["kind"]: e for e in r.json()["logs"]}
    assert logs["setup_repo_trigger"]["metadata"]["trigger_id"] == uuid
    assert logs["setup_repo_trigger"]["metadata"]["service"] == "github"
    assert (
        logs["setup_repo_trigger"]["metadata"]["config"]["build_source"] == "octo-org/hello-world"
    )
    assert logs["toggle_repo_trigger"]["metadata"]["enabled"] is False
    assert logs["delete_repo_trigger"]["metadata"]["trigger_id"] == uuid
    assert logs["setup_repo_trigger"]["performer"]["name"] == "alice"


async def test_secrets_are_encrypted_at_rest(berth: Berth) -> None:
    uuid = await new_trigger(berth, "custom-git")
    trigger = await activate(berth, uuid, {"build_source": "https://git.example.com/app.git"})
    _, token = webhook_of(trigger)
    async with berth.services.db.read() as s:
        row = (
            await s.execute(
                text("SELECT private_key, webhook_secret FROM build_triggers WHERE uuid = :u"),
                {"u": uuid},
            )
        ).one()
    assert "PRIVATE KEY" not in row[0]
    assert token not in row[1]


# ------------------------------------------------------------------ custom git, real server


@pytest.mark.slow
async def test_custom_git_trigger_builds_the_pushed_commit(berth: Berth, gits: GitServer) -> None:
    src = gits.create("app", {"Dockerfile": "FROM scratch\nCOPY hello.txt /\n", "hello.txt": "1"})
    # The setup route a signed-in admin follows (Quay's /customtrigger/setup/<repo>).
    browser: httpx.AsyncClient = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=berth.app), base_url=BASE_URL
    )
    async with browser:
        await sign_in(browser, "alice")
        r = await browser.get("/customtrigger/setup/alice/app")
    assert r.status_code == 302, r.text
    prefix = "/repository/alice/app/trigger/"
    assert r.headers["location"].startswith(prefix)
    uuid = r.headers["location"].removeprefix(prefix)

    trigger = await activate(
        berth,
        uuid,
        {
            "build_source": gits.url("app"),
            "tag_templates": ["${commit_info.short_sha}", "${parsed_ref.branch}-ci"],
        },
    )
    assert trigger["service"] == "custom-git"
    assert trigger["build_source"] == gits.url("app")
    path, token = webhook_of(trigger)

    # A developer pushes; the server's post-receive hook posts Quay's custom payload.
    sha = src.commit({"hello.txt": "2"}, "Say hello twice")
    body = {
        "commit": sha,
        "ref": "refs/heads/main",
        "default_branch": "main",
        "commit_info": {
            "url": f"{gits.url('app')}/commit/{sha}",
            "message": "Say hello twice",
            "date": "2026-12-07T08:00:00+00:00",
            "author": {"username": "dev", "url": "u", "avatar_url": "a"},
        },
    }
    r = await berth.http.post(path, json=body, headers=basic(token))
    assert r.status_code == 200, r.text
    [build] = await builds_of(berth, uuid)
    assert sorted(build["tags"]) == sorted([sha[:7], "main-ci", "main", "latest"])
    assert build["trigger_metadata"]["commit"] == sha
    assert build["trigger_metadata"]["git_url"] == gits.url("app")

    # Run now, by branch: Berth asks the git server (git ls-remote, through the guard).
    newer = src.commit({"hello.txt": "3"}, "Three")
    r = await berth.http.post(
        TRIGGERS + uuid + "/start",
        headers=await auth(berth),
        json={"refs": {"kind": "branch", "name": "main"}},
    )
    assert r.status_code == 201, r.text
    started = r.json()
    assert started["trigger_metadata"]["commit"] == newer
    assert started["manual_user"] == "alice"
    assert r.headers["location"].endswith(f"/api/v1/repository/alice/app/build/{started['id']}")
    assert sorted(started["tags"]) == sorted([newer[:7], "main-ci", "main"])
    assert any("git-upload-pack" in q for q in gits.requests)
    # Quay's manual start of a custom trigger: a commit sha.
    r = await berth.http.post(
        TRIGGERS + uuid + "/start", headers=await auth(berth), json={"commit_sha": sha}
    )
    assert r.status_code == 201, r.text
    assert r.json()["tags"] == [sha[:7]]
    r = await berth.http.post(TRIGGERS + uuid + "/start", headers=await auth(berth), json={})
    assert r.status_code == 400
    assert r.json()["error_message"] == "missing required parameter"
    assert len(await builds_of(berth, uuid)) == 3


@pytest.mark.slow
async def test_the_ssrf_guard_applies_to_git_sources(configured: Any, gits: GitServer) -> None:
    gits.create("app", {"Dockerfile": "FROM scratch\n"})
    async with configured() as b:  # no SSRF_ALLOWED_HOSTS: loopback is refused
        await b.client("alice").push_image("alice/app", "base")
        for source, reason in (
            (gits.url("app"), "loopback"),
            ("http://169.254.169.254/latest.git", "metadata"),
            ("file:///etc/passwd", "transport"),
            ("/var/lib/berth", "not a git URL"),
        ):
            uuid = await new_trigger(b, "custom-git")
            r = await b.http.post(
                TRIGGERS + uuid + "/activate",
                headers=await auth(b),
                json={"config": {"build_source": source}},
            )
            assert r.status_code == 400, r.text
            assert reason in r.json()["error_message"]
        # A host name is resolved when git runs, and refused then.
        uuid = await new_trigger(b, "custom-git")
        by_name = gits.url("app").replace("127.0.0.1", "localhost")
        await activate(b, uuid, {"build_source": by_name})
        r = await b.http.post(
            TRIGGERS + uuid + "/start",
            headers=await auth(b),
            json={"refs": {"kind": "branch", "name": "main"}},
        )
        assert r.status_code == 400, r.text
        assert "loopback" in r.json()["error_message"]
    assert not any("git-upload-pack" in q for q in gits.requests)


# ------------------------------------------------------------------ SCM OAuth callback


@pytest.fixture
async def github_site() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A stand-in for GitHub's OAuth token endpoint (a real HTTP server on a free port)."""
    from aiohttp import web

    from tests.support.receivers import free_port

    seen: list[dict[str, str]] = []

    async def token(request: web.Request) -> web.Response:
        form = dict(await request.post())
        seen.append({k: str(v) for k, v in form.items()})
        if form.get("code") == "good-code" and form.get("client_secret") == "gh-secret":
            return web.json_response({"access_token": "gho_granted", "token_type": "bearer"})
        return web.json_response({"error": "bad_verification_code"})

    app = web.Application()
    app.router.add_post("/login/oauth/access_token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/", seen
    finally:
        await runner.cleanup()


@pytest.mark.slow
async def test_github_oauth_callback_creates_a_trigger_with_the_granted_token(
    configured: Any, github_site: tuple[str, list[dict[str, str]]]
) -> None:
    site, seen = github_site
    github = {"CLIENT_ID": "gh-client", "CLIENT_SECRET": "gh-secret", "GITHUB_ENDPOINT": site}
    async with configured(
        SSRF_ALLOWED_HOSTS=["127.0.0.1"], FEATURE_GITHUB_BUILD=True, GITHUB_TRIGGER_CONFIG=github
    ) as b:
        await b.client("alice").push_image("alice/app", "base")
        browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=b.app), base_url=BASE_URL)
        async with browser:
            r = await browser.get("/oauth2/github/callback/trigger/alice/app?code=good-code")
            assert r.status_code == 401  # signed in only
            await sign_in(browser, "alice")
            r = await browser.get("/oauth2/github/callback/trigger/alice/app?code=bad")
            assert r.status_code == 400
            r = await browser.get("/oauth2/github/callback/trigger/alice/app?code=good-code")
            assert r.status_code == 302, r.text
        uuid = r.headers["location"].rsplit("/", 1)[1]
        assert seen[-1]["client_id"] == "gh-client"
        assert seen[-1]["redirect_uri"].endswith("/oauth2/github/callback/trigger/alice/app")
        r = await b.http.get(TRIGGERS + uuid, headers=await auth(b))
        assert r.json()["service"] == "github"
        assert r.json()["is_active"] is False
        async with b.services.db.read() as s:
            stored = (
                await s.execute(
                    text("SELECT auth_token FROM build_triggers WHERE uuid = :u"), {"u": uuid}
                )
            ).scalar_one()
        assert stored
        assert "gho_granted" not in stored


async def test_a_repository_not_normal_refuses_changes_and_pushes(berth: Berth) -> None:
    uuid = await new_trigger(berth, "github")
    path, token = webhook_of(await activate(berth, uuid, {"build_source": "octo-org/hello-world"}))
    h = await auth(berth)
    async with berth.services.db.write() as s:  # what PUT .../changestate does (a mirror flag)
        await s.execute(
            text(
                "UPDATE repositories SET state = 'READ_ONLY' WHERE name = 'app' AND "
                "namespace_id = (SELECT id FROM namespaces WHERE name = 'alice')"
            )
        )
    r = await berth.http.put(TRIGGERS + uuid, headers=h, json={"enabled": False})
    assert r.status_code == 503
    assert r.json() == {"message": "Repository is in read only or mirror mode: READ_ONLY"}
    r = await berth.http.post(path, json=payload("github_push"), headers=basic(token))
    assert r.status_code == 503
    assert r.json() == {"message": "Repository is currently in read only or mirror mode"}
    assert await builds_of(berth, uuid) == []


async def test_github_form_encoded_payloads_and_other_events(berth: Berth) -> None:
    """GitHub's other content type (``payload=<json>``), signed over the form body; events
    other than push are answered Okay and build nothing."""
    uuid = await new_trigger(berth, "github")
    path, token = webhook_of(await activate(berth, uuid, {"build_source": "octo-org/hello-world"}))
    form = urlencode({"payload": json.dumps(payload("github_push"))}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for event in ("issues", "ping"):
        r = await berth.http.post(
            path,
            content=form,
            headers={
                **headers,
                "X-GitHub-Event": event,
                "X-Hub-Signature-256": signature(form, token),
            },
        )
        assert r.status_code == 200, r.text
    assert await builds_of(berth, uuid) == []
    r = await berth.http.post(
        path,
        content=form,
        headers={
            **headers,
            "X-GitHub-Event": "push",
            "X-Hub-Signature-256": signature(form, token),
        },
    )
    assert r.status_code == 200, r.text
    [build] = await builds_of(berth, uuid)
    assert sorted(build["tags"]) == ["latest", "main"]
    r = await berth.http.post(path, content=b"not json", headers=basic(token))
    assert r.status_code == 400
    assert "Invalid JSON payload" in r.json()["message"]


async def test_an_oversized_payload_is_refused(berth: Berth) -> None:
    uuid = await new_trigger(berth, "custom-git")
    path, token = webhook_of(
        await activate(berth, uuid, {"build_source": "https://g.example/a.git"})
    )
    r = await berth.http.post(path, content=b" " * (25 * 1024 * 1024 + 1), headers=basic(token))
    assert r.status_code == 413
    assert await builds_of(berth, uuid) == []
