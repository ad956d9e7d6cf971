"""Quay's automation against a running ``berth serve`` (issue 3, "How it will be checked").

podman is the real client. python-quay-tool, RDO's bootstrap/pruner and the Ansible
collection ``infra.quay_configuration`` cannot be installed from the registries reachable
here (see tests/e2e/quay_clients/__init__.py for what was checked), so these tests use the
FALLBACK: tests/e2e/quay_clients replays each client's exact HTTP sequence (quay-api.md
section 6) against the real server, and accepts exactly the answers the client accepts.

The server runs RDO's configuration (section 6.2): FEATURE_USER_INITIALIZE on an empty
database, SUPER_USERS [admin], BROWSER_API_CALLS_XHR_ONLY and FEATURE_MAILING off.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import BerthServer, StartServer
from tests.e2e.quay_clients import ansible, rdo
from tests.e2e.quay_clients.base import ClientFailed
from tests.e2e.quay_clients.podman import Podman
from tests.e2e.quay_clients.quaytool import QuayTool
from tests.support.clients import run
from tests.support.images import OciLayout, write_oci_layout

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADMIN = ("admin", "password123")
RDO_CONFIG = {
    "FEATURE_USER_INITIALIZE": True,
    "SUPER_USERS": [ADMIN[0]],
    "BROWSER_API_CALLS_XHR_ONLY": False,
    "FEATURE_MAILING": False,
    "FEATURE_USER_CREATION": False,
}


@pytest.fixture
def quay(deployment: dict[str, Any], berth_factory: StartServer) -> BerthServer:
    """A fresh server with RDO's configuration and no user at all."""
    return berth_factory({**deployment, **RDO_CONFIG}, name="quay")


@pytest.fixture
def admin_token(quay: BerthServer) -> str:
    """RDO's bootstrap: the first user and its access token."""
    return rdo.bootstrap(quay.url, *ADMIN, email="admin@example.com")


@pytest.fixture
def quaytool(quay: BerthServer, admin_token: str) -> Iterator[Callable[[str], QuayTool]]:
    """``quaytool(org)``: the tool with the admin token for organization ``org``."""
    with contextlib.ExitStack() as stack:
        yield lambda org: stack.enter_context(QuayTool(f"{quay.url}/api/v1", admin_token, org))


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[Podman]:
    runroot = Path(tempfile.mkdtemp(prefix="berth-qc-", dir="/tmp"))
    yield Podman(tmp_path / "storage", runroot, tmp_path / "auth.json")
    shutil.rmtree(runroot, ignore_errors=True)


@pytest.fixture
def layout(tmp_path: Path) -> OciLayout:
    return write_oci_layout(tmp_path / "layout", tag="v1", layers=(200_000,), seed=31)


def admin_api(server: BerthServer, token: str) -> httpx.Client:
    """What the tests check with (not a client under test): the admin's bearer."""
    return httpx.Client(
        base_url=f"{server.url}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60.0,
    )


def skopeo_push(server: BerthServer, layout: OciLayout, target: str, creds: str) -> None:
    run(
        "skopeo",
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        layout.reference,
        f"docker://{server.host}/{target}",
        check=True,
    )


# ------------------------------------------------------------------- RDO bootstrap (6.2)


def test_rdo_bootstrap_then_user_provisioning(quay: BerthServer) -> None:
    token = rdo.bootstrap(quay.url, *ADMIN, email="admin@example.com")
    assert len(token) == 40
    with admin_api(quay, token) as api:
        me = api.get("/user/").json()
    assert (me["username"], me["super_user"]) == ("admin", True)

    # a second bootstrap, and Ansible's quay_first_user, find the instance initialised
    with pytest.raises(ClientFailed) as failed:
        rdo.bootstrap(quay.url, "other", "password456", email="o@example.com", retries=1)
    assert failed.value.status == 400
    assert failed.value.response is not None
    assert failed.value.response.json() == {
        "message": "Cannot initialize user in a non-empty database"
    }
    with pytest.raises(ClientFailed, match="Cannot initialize user in a non-empty database"):
        ansible.quay_first_user(quay.url, "other", "password456", create_token=True)

    # get_user_pass.yml: 200 with a generated password, then 400 (exists) is accepted too
    password = rdo.provision_user(quay.url, token, "someuser", "someuser@example.com")
    assert password is not None
    assert len(password) == 32
    assert rdo.provision_user(quay.url, token, "someuser", "someuser@example.com") is None
    login = httpx.get(f"{quay.url}/v2/auth", auth=("someuser", password), timeout=60.0)
    assert login.status_code == 200, login.text
    wrong = httpx.get(f"{quay.url}/v2/auth", auth=("someuser", "x" * 32), timeout=60.0)
    assert wrong.status_code == 401


def test_ansible_first_user_creates_a_token(quay: BerthServer) -> None:
    made = ansible.quay_first_user(quay.url, *ADMIN, email="admin@example.com", create_token=True)
    assert made["changed"] is True
    assert (made["username"], made["email"]) == ("admin", "admin@example.com")
    assert made["encrypted_password"]
    with ansible.QuayApi(quay.url, token=made["access_token"]) as api:
        assert api.who_am_i() == "admin"


# --------------------------------------------------------------- Ansible, main routes (6.3)


def test_ansible_api_token_from_the_implicit_grant(quay: BerthServer, admin_token: str) -> None:
    """quay_api_token: sign in with the password, POST /oauth/authorizeapp, scrape the 302.

    The client is the "automation" application user/initialize made (client_id = admin).
    """
    got = ansible.quay_api_token(
        quay.url, *ADMIN, client_id="admin", scopes=["user:read", "repo:read"]
    )
    token = got["access_token"]
    assert len(token) == 40
    assert token != admin_token
    with ansible.QuayApi(quay.url, token=token) as api:
        assert api.who_am_i() == "admin"
        # the scopes cap the token: no user:admin, so no superuser panel and no org creation
        with pytest.raises(ClientFailed, match="You do not have permission") as refused:
            ansible.quay_user(api, "dev", email="dev@example.com")
        assert refused.value.status == 403
    with pytest.raises(ClientFailed, match="Cannot log in"):
        ansible.quay_api_token(quay.url, "admin", "wrong-password", client_id="admin", scopes=[])


@pytest.mark.parametrize("mode", ["token", "session"])
def test_ansible_quay_user(quay: BerthServer, admin_token: str, mode: str) -> None:
    """quay_user with the admin's token, and with username/password (session + CSRF)."""
    creds: dict[str, str] = (
        {"token": admin_token} if mode == "token" else {"username": ADMIN[0], "password": ADMIN[1]}
    )
    with ansible.QuayApi(quay.url, **creds) as api:
        made = ansible.quay_user(api, "dev", email="dev@example.com", password="dev-password-1")
        assert made["changed"] is True
        assert ansible.quay_user(api, "dev", email="dev@example.com")["changed"] is False
        assert ansible.quay_user(api, "dev", email="dev2@example.com", enabled=False)["changed"]
        user = api.get_object_path("superuser/users/dev")
        assert (user["email"], user["enabled"], user["super_user"]) == (
            "dev2@example.com",
            False,
            False,
        )
        # a superuser is left alone, with a warning
        kept = ansible.quay_user(api, "admin", state="absent")
        assert kept["changed"] is False
        assert kept["warnings"]
        assert ansible.quay_user(api, "dev", state="absent")["changed"] is True
        assert ansible.quay_user(api, "dev", state="absent")["changed"] is False
        assert api.get_object_path("superuser/users/dev") is None
        cookies = dict(api.http.cookies)
    # the module signed out at the end: its session cookie no longer authenticates
    after = httpx.get(f"{quay.url}/api/v1/user/", cookies=cookies, timeout=60.0)
    assert after.status_code == 401


# --------------------------------------------- python-quay-tool, seed 003 + check.yml (6.1)


def test_quaytool_project_creation_then_robot_push(
    quay: BerthServer,
    admin_token: str,
    quaytool: Callable[[str], QuayTool],
    podman: Podman,
    layout: OciLayout,
) -> None:
    org = "tripleomaster"
    robot_name = f"{org}+cirobot"
    qt = quaytool(org)
    assert qt.info()["swagger"] == "2.0"

    assert qt.create_organization() is True
    assert qt.create_organization() is False  # "already exists"
    qt.create_repository("granted")  # public; made before the prototypes, so none applies
    robot = qt.create_robot("cirobot")
    assert robot is not None
    assert robot["name"] == robot_name
    assert len(robot["token"]) == 64
    assert qt.create_robot("cirobot") is None
    assert [r["name"] for r in qt.list_robots()] == [robot_name]
    assert qt.create_team("creators") is True
    assert qt.create_team("creators") is False
    assert qt.create_prototype(user=robot_name) is True
    assert qt.create_prototype(team="creators") is True
    assert qt.create_prototype(team="creators") is False
    assert qt.add_member("creators", robot_name) is True
    assert qt.add_member("creators", robot_name) is False
    assert sorted((p["delegate"]["name"], p["role"]) for p in qt.list_prototypes()) == [
        ("creators", "write"),
        (robot_name, "write"),
    ]

    # check.yml: podman login as the robot; a push creates a private repository
    image = podman.load(layout)
    login = podman.login(quay.host, robot_name, robot["token"])
    assert login.returncode == 0, login.stderr
    pushed = podman.push(image, f"{quay.host}/{org}/newrepo:v1")
    assert pushed.returncode == 0, pushed.stderr
    with admin_api(quay, admin_token) as api:
        repo = api.get(f"/repository/{org}/newrepo").json()
        assert repo["is_public"] is False
        assert list(repo["tags"]) == ["v1"]
        users = api.get(f"/repository/{org}/newrepo/permissions/user/").json()["permissions"]
        assert users[robot_name]["role"] == "admin"  # creator; its own write prototype skipped
        teams = api.get(f"/repository/{org}/newrepo/permissions/team/").json()["permissions"]
        assert teams["creators"]["role"] == "write"  # the team prototype applied

    # an older repository: the robot may not push there until it is granted write
    refused = podman.push(image, f"{quay.host}/{org}/granted:ci")
    assert refused.returncode != 0
    assert qt.set_permissions(robot_name, ["granted"]) == ["granted"]
    accepted = podman.push(image, f"{quay.host}/{org}/granted:ci")
    assert accepted.returncode == 0, accepted.stderr
    assert [t["name"] for t in qt.tags("granted")] == ["ci"]

    # visibility, then the listing check.yml greps for 'is_public': True
    assert qt.set_visibility("public", repositories=["newrepo"]) == ["newrepo"]
    listed = {r["name"]: r["is_public"] for r in qt.list_repositories()["repositories"]}
    assert listed == {"newrepo": True, "granted": True}
    assert qt.set_visibility("private", skip=["granted"]) == ["newrepo"]
    assert sorted(r["name"] for r in qt.organization_repositories()) == ["granted", "newrepo"]

    # tags: expire in a day, clear it, delete and restore
    qt.expire("newrepo", "v1", 1)
    (entry,) = qt.tags("newrepo")
    assert entry["end_ts"] > entry["start_ts"]
    assert "expiration" in entry
    qt.expire("newrepo", "v1", 0)
    (entry,) = qt.tags("newrepo")
    assert "end_ts" not in entry
    with admin_api(quay, admin_token) as api:
        assert api.delete(f"/repository/{org}/newrepo/tag/v1").status_code == 204
    assert qt.restore_tag("v1") == ["newrepo"]
    with admin_api(quay, admin_token) as api:
        active = api.get(f"/repository/{org}/newrepo/tag/", params={"onlyActiveTags": "true"})
        assert [t["name"] for t in active.json()["tags"]] == ["v1"]

    # the tool's known breakages get Quay's answers: PUT regenerate 405, image API 404
    with pytest.raises(ClientFailed) as failed:
        qt.regenerate_token("cirobot")
    assert failed.value.status == 405
    assert podman.login(quay.host, robot_name, robot["token"]).returncode == 0  # unchanged
    assert qt.list_images("newrepo").status_code == 404


# ------------------------------------------------------------------- RDO tag pruner (6.2)


def test_rdo_pruner_reads_anonymously_and_expires_old_tags(
    quay: BerthServer, quaytool: Callable[[str], QuayTool], layout: OciLayout
) -> None:
    org = "tripleozed"
    qt = quaytool(org)
    qt.create_organization()
    qt.create_repository("nova")  # public
    creds = ":".join(ADMIN)
    for tag in ("old-abc", "promoted-123", "other"):
        skopeo_push(quay, layout, f"{org}/nova:{tag}", creds)
    skopeo_push(quay, layout, f"{org}/secret:v1", creds)  # pushed: private

    # the blog's "Administer organization + View all visible repositories" token is capped
    # at read on repositories (scope caps), so its first tag PUT is refused like on Quay
    read_only = ansible.quay_api_token(
        quay.url, *ADMIN, client_id="admin", scopes=["org:admin", "repo:read"]
    )["access_token"]
    capped = rdo.TagPruner(f"{quay.url}/api/v1", org, read_only, days=0, keep=("123",))
    with pytest.raises(ClientFailed) as refused:
        capped.run()
    assert refused.value.status == 403

    token = ansible.quay_api_token(
        quay.url, *ADMIN, client_id="admin", scopes=["org:admin", "repo:read", "repo:write"]
    )["access_token"]
    pruner = rdo.TagPruner(f"{quay.url}/api/v1", org, token, days=0, keep=("123",))
    assert pruner.repositories() == ["nova"]  # anonymous: the private one is invisible
    assert sorted(pruner.run()) == [("nova", "old-abc"), ("nova", "other")]
    tags = {t["name"]: t for t in pruner.tags("nova")}  # still listed while expiring
    assert set(tags) == {"old-abc", "promoted-123", "other"}
    assert "end_ts" not in tags["promoted-123"]
    for name in ("old-abc", "other"):
        assert tags[name]["end_ts"] - tags[name]["start_ts"] >= 86400 - 60
        assert "expiration" in tags[name]
    assert pruner.run() == []  # they carry end_ts now: nothing more to do
    # a pruner with days=7 finds nothing this young
    assert rdo.TagPruner(f"{quay.url}/api/v1", org, token, days=7).run() == []


# ----------------------------------------------- Ansible: organizations, teams, robots (6.3)


def test_ansible_organization_team_robot_default_perm(quay: BerthServer, admin_token: str) -> None:
    """The org modules in username/password mode (session cookie + X-CSRF-Token)."""
    with ansible.QuayApi(quay.url, token=admin_token) as api:
        ansible.quay_user(api, "devuser", email="dev@example.com", password="dev-password-1")
    with ansible.QuayApi(quay.url, username=ADMIN[0], password=ADMIN[1]) as api:
        org = "production"
        assert ansible.quay_organization(api, org, email="prod@example.com")["changed"]
        assert not ansible.quay_organization(api, org, email="prod@example.com")["changed"]
        assert ansible.quay_organization(api, org, time_machine_expiration="1w")["changed"]
        seen = api.get_organization(org)
        assert (seen["email"], seen["tag_expiration_s"]) == ("prod@example.com", 604800)
        assert seen["tagexpirations"] == 604800  # the helper's flattened copy

        robot = ansible.quay_robot(api, f"{org}+robotprod1", description="CI robot")
        assert robot["changed"]
        assert len(robot["token"]) == 64
        assert robot["description"] == "CI robot"
        again = ansible.quay_robot(api, f"{org}+robotprod1")
        assert again["changed"] is False
        assert again["token"] == robot["token"]

        members = [f"{org}+robotprod1", "devuser"]
        made = ansible.quay_team(
            api, org, "devteam", role="creator", description="Dev", members=members
        )
        assert made["changed"]
        assert not ansible.quay_team(
            api, org, "devteam", role="creator", description="Dev", members=members
        )["changed"]
        listed = api.get_object_path(
            f"organization/{org}/team/devteam/members", query={"includePending": "True"}
        )
        assert sorted((m["name"], m["invited"]) for m in listed["members"]) == [
            ("devuser", False),  # FEATURE_MAILING off: added, not invited
            (f"{org}+robotprod1", False),
        ]
        assert ansible.quay_team(api, org, "devteam", members=["devuser"], append=False)["changed"]
        assert api.get_organization(org)["teams"]["devteam"]["role"] == "creator"

        perm = ansible.quay_default_perm
        assert perm(api, org, delegate_name=f"{org}+robotprod1", role="write")["changed"]
        assert perm(api, org, delegate_name="devteam", delegate_type="team", role="read")["changed"]
        assert perm(api, org, delegate_name="admin", role="admin", creator="devuser")["changed"]
        assert not perm(api, org, delegate_name=f"{org}+robotprod1", role="write")["changed"]
        assert perm(api, org, delegate_name=f"{org}+robotprod1", role="read")["changed"]
        protos = api.get_object_path(f"organization/{org}/prototypes")["prototypes"]
        assert sorted(
            (p["delegate"]["name"], p["role"], (p["activating_user"] or {}).get("name"))
            for p in protos
        ) == [
            ("admin", "admin", "devuser"),
            ("devteam", "read", None),
            (f"{org}+robotprod1", "read", None),
        ]
        with pytest.raises(ClientFailed, match="does not exist"):
            perm(api, org, delegate_name=f"{org}+ghost", role="read")

        assert perm(api, org, delegate_name="devteam", delegate_type="team", state="absent")[
            "changed"
        ]
        assert ansible.quay_team(api, org, "devteam", state="absent")["changed"]
        assert not ansible.quay_team(api, org, "devteam", state="absent")["changed"]
        assert ansible.quay_robot(api, f"{org}+robotprod1", state="absent")["changed"]
        assert api.get_account(f"{org}+robotprod1") is None
        assert ansible.quay_organization(api, org, state="absent")["changed"]
        assert api.get_organization(org) is None
        assert not ansible.quay_organization(api, org, state="absent")["changed"]


# --------------------------------------------- Ansible: repositories and permissions (6.3)


def test_ansible_repository_with_permissions(quay: BerthServer, admin_token: str) -> None:
    with ansible.QuayApi(quay.url, token=admin_token) as api:
        org = "production"
        ansible.quay_user(api, "devuser", email="dev@example.com", password="dev-password-1")
        ansible.quay_organization(api, org)
        ansible.quay_team(api, org, "devteam", role="member")
        ansible.quay_robot(api, f"{org}+robotprod1")
        name = f"{org}/smallimage"
        perms = [
            {"name": "devteam", "type": "team", "role": "read"},
            {"name": "devuser", "type": "user", "role": "write"},
            {"name": f"{org}+robotprod1", "type": "robot", "role": "write"},
        ]
        made = ansible.quay_repository(
            api, name, visibility="private", description="Small image", perms=perms
        )
        assert made["changed"]
        assert not ansible.quay_repository(
            api, name, visibility="private", description="Small image", perms=perms
        )["changed"]
        teams = api.get_object_path(f"repository/{name}/permissions/team/")["permissions"]
        assert {k: v["role"] for k, v in teams.items()} == {"devteam": "read"}
        users = api.get_object_path(f"repository/{name}/permissions/user/")["permissions"]
        assert {k: v["role"] for k, v in users.items()} == {
            "admin": "admin",  # the creator of a repository administers it
            "devuser": "write",
            f"{org}+robotprod1": "write",
        }
        assert users[f"{org}+robotprod1"]["is_robot"] is True

        changed = ansible.quay_repository(
            api,
            name,
            visibility="public",
            description="Now public",
            perms=[{"name": "devteam", "type": "team", "role": "write"}],
            append=False,
        )
        assert changed["changed"]
        repo = api.get_object_path(f"repository/{name}")
        assert (repo["is_public"], repo["description"]) == (True, "Now public")
        teams = api.get_object_path(f"repository/{name}/permissions/team/")["permissions"]
        assert {k: v["role"] for k, v in teams.items()} == {"devteam": "write"}
        users = api.get_object_path(f"repository/{name}/permissions/user/")["permissions"]
        assert users == {}

        assert ansible.quay_repository(api, name, state="absent")["changed"]
        assert api.get_object_path(f"repository/{name}") is None
        assert not ansible.quay_repository(api, name, state="absent")["changed"]
        with pytest.raises(ClientFailed, match="namespace does not exist"):
            ansible.quay_repository(api, "nowhere/repo")


# ------------------------------------------------------------------ Ansible: quotas (6.3)


def test_ansible_quay_quota(deployment: dict[str, Any], berth_factory: StartServer) -> None:
    """quay_quota's calls: the quota and its limits through the organization view, as a
    superuser with FEATURE_SUPERUSERS_FULL_ACCESS (Quay 3.16+)."""
    config = {
        **deployment,
        **RDO_CONFIG,
        "FEATURE_QUOTA_MANAGEMENT": True,
        "FEATURE_SUPERUSERS_FULL_ACCESS": True,
    }
    server = berth_factory(config, name="quota")
    token = rdo.bootstrap(server.url, *ADMIN, email="admin@example.com")
    with ansible.QuayApi(server.url, token=token) as api:
        assert ansible.quay_organization(api, "partner", email="p@example.com")["changed"]
        limits = [
            {"type": "Warning", "threshold_percent": 80},
            {"type": "Reject", "threshold_percent": 100},
        ]
        quota = ansible.quay_quota
        assert quota(api, "partner", quota=10 * 1024**3, limits=limits)["changed"]
        assert not quota(api, "partner", quota=10 * 1024**3, limits=limits)["changed"]
        seen = api.get_organization("partner")["quotas"][0]
        assert seen["limit_bytes"] == 10 * 1024**3
        assert sorted((lim["type"], lim["limit_percent"]) for lim in seen["limits"]) == [
            ("Reject", 100),
            ("Warning", 80),
        ]
        changed = [{"type": "Warning", "threshold_percent": 90}]
        assert quota(api, "partner", quota=20 * 1024**3, limits=changed)["changed"]
        seen = api.get_organization("partner")["quotas"][0]
        assert seen["limit_bytes"] == 20 * 1024**3
        assert ("Warning", 90) in [(lim["type"], lim["limit_percent"]) for lim in seen["limits"]]
        assert quota(api, "partner", state="absent")["changed"]
        assert api.get_organization("partner")["quotas"] == []
        assert not quota(api, "partner", state="absent")["changed"]
