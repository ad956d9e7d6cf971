"""podman (the real Debian client) as a robot uses it: ``podman login`` then ``podman push``,
with a private storage and auth file so nothing leaks between tests."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.clients import run
from tests.support.images import OciLayout


@dataclass(frozen=True)
class Podman:
    root: Path
    runroot: Path  # podman refuses a runroot path longer than 50 characters: keep it in /tmp
    authfile: Path

    @property
    def storage(self) -> list[str]:
        return ["--root", str(self.root), "--runroot", str(self.runroot), "--storage-driver", "vfs"]

    def load(self, layout: OciLayout) -> str:
        """Pull an OCI layout into the private storage; returns the image id."""
        out = run("podman", *self.storage, "pull", "-q", layout.reference, check=True).stdout
        return out.strip().splitlines()[-1]

    def login(self, host: str, username: str, password: str) -> subprocess.CompletedProcess[str]:
        return run(
            "podman",
            "login",
            "--tls-verify=false",
            "--authfile",
            self.authfile,
            "--username",
            username,
            "--password-stdin",
            host,
            input=password + "\n",
        )

    def push(self, image: str, target: str) -> subprocess.CompletedProcess[str]:
        """``podman push IMAGE docker://TARGET`` with the credentials of the last login."""
        return run(
            "podman",
            *self.storage,
            "push",
            "--tls-verify=false",
            "--authfile",
            self.authfile,
            image,
            f"docker://{target}",
        )
