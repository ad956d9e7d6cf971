"""CNCF distribution (Debian's ``docker-registry``) as an upstream registry for tests.

``DistributionServer(workdir)`` serves plain HTTP on a free loopback port; ``htpasswd=(user,
password)`` turns on HTTP Basic (bcrypt file written with ``htpasswd -B``, Debian package
apache2-utils); ``proxy_remote`` runs it as a pull-through cache of another registry; ``tls``
(see ``make_tls``) serves HTTPS. Its
access log (one line per request, in the combined log format) is in ``log_path``:
``requests(method, path)`` counts the requests a test cares about.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.tls import ThrowawayCA

BINARY = "/usr/bin/docker-registry"
START_TIMEOUT = 30.0


def make_tls(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for ``host``: the paths of (ca.pem,
    certificate, key)."""
    ca = ThrowawayCA.create(directory)
    cert, key = ca.issue(host)
    return ca.pem, cert, key


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DistributionServer:
    workdir: Path
    htpasswd: tuple[str, str] | None = None
    proxy_remote: str | None = None
    proxy_credentials: tuple[str, str] | None = None
    tls: tuple[Path, Path] | None = None  # (certificate, key) PEM files: serve HTTPS
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "registry.log"

    @property
    def storage_root(self) -> Path:
        return self.workdir / "storage"

    def _config(self) -> dict[str, object]:
        config: dict[str, object] = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_root)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": self.host},
            **self.extra,
        }
        if self.tls is not None:
            certificate, key = self.tls
            config["http"] = {
                "addr": self.host,
                "tls": {"certificate": str(certificate), "key": str(key)},
            }
        if self.htpasswd is not None:
            user, password = self.htpasswd
            path = self.workdir / "htpasswd"
            if not os.access("/usr/bin/htpasswd", os.X_OK):
                pytest.skip("htpasswd not installed (Debian package apache2-utils)")
            subprocess.run(
                ["/usr/bin/htpasswd", "-Bbc", str(path), user, password],
                check=True,
                capture_output=True,
            )
            config["auth"] = {"htpasswd": {"realm": "upstream", "path": str(path)}}
        if self.proxy_remote is not None:
            proxy: dict[str, str] = {"remoteurl": self.proxy_remote}
            if self.proxy_credentials:
                proxy["username"], proxy["password"] = self.proxy_credentials
            config["proxy"] = proxy
        return config

    def start(self) -> None:
        if not os.access(BINARY, os.X_OK):
            pytest.skip(f"{BINARY} not installed (Debian package docker-registry)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage_root.mkdir(exist_ok=True)
        if not self.port:
            self.port = _free_port()
        cfg = self.workdir / "config.yml"
        cfg.write_text(yaml.safe_dump(self._config()))
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.workdir)}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [BINARY, "serve", str(cfg)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"docker-registry exited:\n{self.log_tail()}", pytrace=False)
            try:
                r = httpx.get(f"{self.url}/v2/", timeout=2.0, verify=False)  # noqa: S501
                if r.status_code in (200, 401):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"docker-registry did not start:\n{self.log_tail()}", pytrace=False)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def requests(self, method: str, path: str) -> int:
        """How many ``METHOD path`` requests the access log shows (query strings ignored)."""
        needle = f'"{method} {path}'
        text = self.log_path.read_text(errors="replace")
        return sum(1 for line in text.splitlines() if needle + " " in line or needle + "?" in line)

    def blob_file(self, digest: str) -> Path:
        """Where distribution keeps a blob's bytes (to corrupt them in a test)."""
        hexdigest = digest.split(":", 1)[1]
        return (
            self.storage_root
            / "docker/registry/v2/blobs/sha256"
            / hexdigest[:2]
            / hexdigest
            / "data"
        )
