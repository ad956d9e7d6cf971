"""A user who exists only at an OpenID Connect provider pushes and pulls with podman, against
a real ``berth serve`` and a real provider (oidc-provider on nodejs): signed in through the
provider's login and consent pages, the user creates an app-specific token on /api/v1 and
logs podman in with ``$app`` and it; a wrong token is refused."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devservers import free_port
from tests.e2e.conftest import StartServer
from tests.support.clients import run
from tests.support.devservers import running
from tests.support.images import write_oci_layout
from tests.support.oidc import OidcProvider

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _store(root: Path) -> Iterator[list[str]]:
    runroot = tempfile.mkdtemp(prefix="berth-e2e-", dir="/tmp")
    yield ["--root", str(root), "--runroot", runroot, "--storage-driver", "vfs"]
    shutil.rmtree(runroot, ignore_errors=True)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[list[str]]:
    yield from _store(tmp_path / "storage")


@pytest.fixture
def other_store(tmp_path: Path) -> Iterator[list[str]]:
    """A second, empty image store: the pull must fetch everything from Berth."""
    yield from _store(tmp_path / "storage-2")


def sign_in_through_provider(http: httpx.Client, server_url: str, login: str) -> None:
    """The browser's way: Berth's login route, the provider's login and consent forms, back
    to Berth with a signed-in session cookie."""
    r = http.get(f"{server_url}/oauth2/testidp/login?redirect=/repository/")
    for _ in range(4):
        if "/interaction/" not in str(r.url):
            break
        action = re.search(r'<form[^>]*action="([^"]+)"', r.text)
        assert action is not None, r.text[:300]
        form = (
            {"prompt": "login", "login": login, "password": "any-password"}
            if 'name="login"' in r.text
            else {"prompt": "consent"}
        )
        r = http.post(str(r.url.join(action.group(1))), data=form)
    assert str(r.url) == f"{server_url}/repository/", (r.status_code, r.text[:300])


def test_oidc_user_pushes_and_pulls_with_an_app_token(
    deployment: dict[str, Any],
    berth_factory: StartServer,
    tmp_path: Path,
    store: list[str],
    other_store: list[str],
) -> None:
    port = free_port()
    provider = OidcProvider(tmp_path / "oidc", [f"http://127.0.0.1:{port}/oauth2/testidp/callback"])
    with running(provider):
        config = {
            **deployment,
            "TESTIDP_LOGIN_CONFIG": provider.login_config(),
            "SSRF_ALLOWED_HOSTS": ["127.0.0.1"],
        }
        server = berth_factory(config, name="oidc", port=port)
        with httpx.Client(follow_redirects=True, timeout=60) as http:
            sign_in_through_provider(http, server.url, "carla")
            me = http.get(f"{server.url}/api/v1/user/").json()
            assert me["username"] == "carla"
            assert me["has_password_set"] is False  # the provider's user has no password
            csrf = http.get(f"{server.url}/csrf_token").json()["csrf_token"]
            r = http.post(
                f"{server.url}/api/v1/user/apptoken",
                json={"title": "podman"},
                headers={"X-CSRF-Token": csrf},
            )
            assert r.status_code == 200, r.text
            app_token = r.json()["token"]["token_code"]

    # the provider is gone now: registry logins need only Berth's own app token
    auth_file = tmp_path / "auth.json"
    login = ["podman", "login", "--tls-verify=false", "--authfile", str(auth_file)]
    assert run(*login, "-u", "$app", "-p", "not-the-token", server.host).returncode != 0
    assert run(*login, "-u", "carla", "-p", app_token, server.host).returncode != 0
    run(*login, "-u", "$app", "-p", app_token, server.host, check=True)

    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(250_000,), seed=37)
    loaded = run("podman", *store, "pull", "-q", layout.reference, check=True).stdout.strip()
    digestfile = tmp_path / "pushed.digest"
    target = f"docker://{server.host}/carla/from-oidc:v1"
    run(
        "podman", *store, "push", "--tls-verify=false", "--authfile", str(auth_file),
        "--digestfile", digestfile, loaded.splitlines()[-1], target, check=True,
    )  # fmt: skip
    digest = digestfile.read_text().strip()
    pulled = run(
        "podman", *other_store, "pull", "--tls-verify=false", "--authfile", str(auth_file),
        f"{server.host}/carla/from-oidc@{digest}", check=True,
    )  # fmt: skip
    assert pulled.returncode == 0
    listed = run(
        "podman", *other_store, "images", "--digests", "--format", "{{.Digest}}", check=True
    ).stdout
    assert digest in listed
    # the repository was created private in carla's namespace: anonymous pulls are refused
    (tmp_path / "none.json").write_text('{"auths": {}}')
    anonymous = run(
        "podman", *other_store, "pull", "--tls-verify=false",
        "--authfile", str(tmp_path / "none.json"), f"{server.host}/carla/from-oidc:v1",
    )  # fmt: skip
    assert anonymous.returncode != 0
