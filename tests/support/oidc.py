"""A real OpenID Connect provider for the tests: the npm package ``oidc-provider`` run by
Debian's nodejs with ``tests/support/oidc_provider.mjs``, on a free loopback port.

``scripts/install-test-deps`` installs the pinned package under ``OIDC_PROVIDER_DIR``
(default ``~/.cache/berth/oidc-provider``). Accounts (any password signs them in through
the provider's development login form): ``carla`` (groups devs), ``dave`` (groups ops),
``ci`` (the subject of the ``ci`` client's client-credentials tokens).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from devservers import INSTALL_HINT, DevServerError, free_port, log_tail, stop_process

SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
DEFAULT_DIR = Path.home() / ".cache" / "berth" / "oidc-provider"
CLIENT_ID = "berth"
CLIENT_SECRET = "berth-client-secret"
CI_CLIENT = ("ci", "ci-client-secret")
RESOURCE = "https://berth.test"
ACCOUNTS = {
    "carla": {"groups": ["devs"]},
    "dave": {"groups": ["ops"]},
    "ci": {},
}
START_TIMEOUT = 30.0


def provider_dir() -> Path:
    return Path(os.environ.get("OIDC_PROVIDER_DIR", str(DEFAULT_DIR)))


class OidcProvider:
    def __init__(self, workdir: Path, redirect_uris: list[str]) -> None:
        self.workdir = workdir
        self.redirect_uris = redirect_uris
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.rotations = 0

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def login_config(self, **extra: object) -> dict[str, object]:
        """A Quay ``<NAME>_LOGIN_CONFIG`` block for this provider."""
        return {
            "OIDC_SERVER": self.issuer,
            "CLIENT_ID": CLIENT_ID,
            "CLIENT_SECRET": CLIENT_SECRET,
            "SERVICE_NAME": "Test IdP",
            "LOGIN_SCOPES": ["openid", "email", "profile"],
            **extra,
        }

    def start(self) -> None:
        node = shutil.which("node") or shutil.which("nodejs")
        entry = provider_dir() / "node_modules" / "oidc-provider" / "lib" / "index.js"
        if node is None or not entry.exists():
            raise DevServerError(f"nodejs or the oidc-provider package is missing: {INSTALL_HINT}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "oidc-provider.log"
        self.port = free_port()
        env = {
            **os.environ,
            "OIDC_PORT": str(self.port),
            "OIDC_PROVIDER_DIR": str(provider_dir()),
            "OIDC_REDIRECT_URIS": " ".join(self.redirect_uris),
            "OIDC_ACCOUNTS": json.dumps(ACCOUNTS),
        }
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [node, str(SCRIPT)], stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=env, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise DevServerError(f"oidc-provider did not start:\n{log_tail(log)}")

    def rotate_keys(self) -> None:
        """A new signing key (the old one stays published); the provider restarts in place."""
        assert self.proc is not None
        self.rotations += 1
        log = self.workdir / "oidc-provider.log"
        os.kill(self.proc.pid, signal.SIGUSR2)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if f"keys rotated: key-{self.rotations + 1}" in log.read_text(errors="replace"):
                return
            time.sleep(0.05)
        raise DevServerError(f"oidc-provider did not rotate its keys:\n{log_tail(log)}")

    def client_credentials(self, client: tuple[str, str] = CI_CLIENT) -> str:
        """An access token (a JWT for ``RESOURCE``, subject = the client) of a client."""
        r = httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "resource": RESOURCE},
            auth=client,
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


async def drive_login(http: httpx.AsyncClient, url: str, login: str) -> httpx.Response:
    """Follow ``url`` through the provider's login and consent forms as a browser would;
    returns the last response (redirects followed as far as ``http`` follows them)."""
    r = await http.get(url)
    provider = httpx.URL(url).host if "/oauth2/" not in url else None
    for _ in range(6):
        # only the provider's forms: back at Berth (a page of the web UI) the dance is over
        if provider is None and "/interaction/" in str(r.url):
            provider = r.url.host
        on_provider = provider is not None and r.url.host == provider
        match = re.search(r'<form[^>]*action="([^"]+)"', r.text) if r.status_code == 200 else None
        if match is None or not on_provider:
            return r
        action = str(httpx.URL(str(r.url)).join(match.group(1)))
        if 'name="login"' in r.text:
            form = {"prompt": "login", "login": login, "password": "any-password"}
        else:
            form = {"prompt": "consent"}
        r = await http.post(action, data=form)
    return r
