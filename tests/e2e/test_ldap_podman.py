"""podman login and push as a directory user (AUTHENTICATION_TYPE: LDAP, a real slapd)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import StartServer
from tests.e2e.support import manifest_digest
from tests.support.clients import run
from tests.support.images import write_oci_layout
from tests.support.ldap import Slapd, password_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[list[str]]:
    runroot = tempfile.mkdtemp(prefix="berth-e2e-", dir="/tmp")
    yield ["--root", str(tmp_path / "storage"), "--runroot", runroot, "--storage-driver", "vfs"]
    shutil.rmtree(runroot, ignore_errors=True)


def test_podman_login_and_push_as_directory_user(
    deployment: dict[str, Any],
    berth_factory: StartServer,
    slapd: Slapd,
    tmp_path: Path,
    store: list[str],
) -> None:
    server = berth_factory({**deployment, **slapd.config()}, name="ldap")
    auth_file = tmp_path / "auth.json"
    login = ["podman", "login", "--tls-verify=false", "--authfile", str(auth_file)]
    # a wrong password and a user outside LDAP_USER_FILTER are refused
    bad = run(*login, "-u", "mike", "-p", "wrong", server.host)
    assert bad.returncode != 0
    outside = run(*login, "-u", "nina", "-p", password_of("nina"), server.host)
    assert outside.returncode != 0
    run(*login, "-u", "mike", "-p", password_of("mike"), server.host, check=True)

    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(300_000,), seed=23)
    loaded = run("podman", *store, "pull", "-q", layout.reference, check=True).stdout.strip()
    target = f"{server.host}/mike/from-ldap:v1"
    digestfile = tmp_path / "pushed.digest"
    run(
        "podman", *store, "push", "--tls-verify=false", "--authfile", str(auth_file),
        "--digestfile", digestfile, loaded.splitlines()[-1], f"docker://{target}",
        check=True,
    )  # fmt: skip
    with server.client(("mike", password_of("mike"))) as http:
        assert manifest_digest(http, "mike/from-ldap", "v1") == digestfile.read_text().strip()
