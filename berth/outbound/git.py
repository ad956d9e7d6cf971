"""git through the SSRF guard: which git URLs a build may use (a trigger's source, a build's
git context) and running git against them.

A build source is a git URL: ``https://``/``http://``, ``ssh://``, ``git://`` or scp-like
``git@host:owner/repo.git``. Local paths, ``file://`` and git's other transports
(``ext::``, ``fd::``) are refused: a build must never read Berth's own disk.

git does its own networking, so the outbound client's guard is applied here, with the same
``AddressPolicy`` (``SSRF_ALLOWED_HOSTS``): the host is resolved, every address checked,
and for http(s) git is pinned to the checked address (``http.curloptResolve``) so DNS
cannot change the answer in between. ``git://`` and ssh are checked the same way before git
runs (git resolves them again itself). Every git command runs with ``protocol.allow``
limited to the four transports, no terminal prompts, no system or global config, and the
deploy key (when there is one) from a private temporary file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from berth.outbound.errors import DestinationRefused
from berth.outbound.guard import AddressPolicy, normalize_host, parse_ip

_SCP = re.compile(
    r"^(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<path>[^/].*|/.+)$"
)
DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22, "git": 9418}
GIT_TIMEOUT_S = 120.0


class GitSourceError(Exception):
    pass


@dataclass(frozen=True)
class GitSource:
    url: str
    scheme: str  # http, https, ssh, git
    host: str
    port: int


def parse_git_url(url: object) -> GitSource:
    """The source ``url`` names, or GitSourceError (a local path, file://, another
    transport, no host)."""
    if not isinstance(url, str) or not url.strip():
        raise GitSourceError("build_source: a git URL is required")
    url = url.strip()
    if url.startswith("-") or any(c in url for c in "\r\n\0 "):
        raise GitSourceError(f"build_source: {url!r} is not a git URL")
    if "://" in url:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise GitSourceError(
                f"build_source: the {scheme}:// transport is not allowed "
                "(https, http, ssh, git or user@host:path)"
            )
        if not parts.hostname:
            raise GitSourceError("build_source: the URL has no host")
        if parts.password is not None:
            raise GitSourceError(
                "build_source: no credentials in the URL (it is shown to readers of the "
                "builds); give the deploy key read access instead"
            )
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError as e:
            raise GitSourceError(f"build_source: {e}") from e
        return GitSource(url, scheme, normalize_host(parts.hostname), port)
    found = _SCP.match(url)
    if found is None or "::" in url.split(":", 1)[0]:
        raise GitSourceError(
            f"build_source: {url!r} is not a git URL (https, http, ssh, git or user@host:path)"
        )
    return GitSource(url, "ssh", normalize_host(found.group("host")), 22)


def check_literal(source: GitSource, policy: AddressPolicy) -> None:
    """At setup: refuse metadata host names and refused literal addresses at once (host
    names are checked again, resolved, whenever git runs)."""
    try:
        policy.check_host_name(source.host)
        if parse_ip(source.host) is not None:
            policy.check(source.host, source.host)
    except DestinationRefused as e:
        raise GitSourceError(f"build_source: {e}") from e


async def resolve_checked(source: GitSource, policy: AddressPolicy) -> str:
    """The first address of ``source.host`` after every address passed the guard."""
    policy.check_host_name(source.host)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            source.host, source.port, type=socket.SOCK_STREAM
        )
    except OSError as e:
        raise GitSourceError(f"cannot resolve {source.host}: {e}") from e
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise GitSourceError(f"cannot resolve {source.host}")
    try:
        policy.check_all(source.host, addresses)
    except DestinationRefused as e:
        raise GitSourceError(str(e)) from e
    return addresses[0]


@contextlib.asynccontextmanager
async def git_environment(
    source: GitSource, policy: AddressPolicy, private_key: str | None
) -> AsyncIterator[tuple[list[str], dict[str, str]]]:
    """``(git config arguments, environment)`` for running git against ``source``, after
    the guard's checks; the deploy key lives in a temporary file for the block."""
    address = await resolve_checked(source, policy)
    args = [
        "-c", "protocol.allow=never",
        "-c", "protocol.https.allow=always",
        "-c", "protocol.http.allow=always",
        "-c", "protocol.ssh.allow=always",
        "-c", "protocol.git.allow=always",
        "-c", "http.followRedirects=false",
        "-c", "core.hooksPath=/dev/null",
    ]  # fmt: skip
    if source.scheme in ("http", "https"):
        pinned = f"[{address}]" if ":" in address else address
        args += ["-c", f"http.curloptResolve={source.host}:{source.port}:{pinned}"]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tempfile.gettempdir(),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ASKPASS": "/bin/false",
        "SSH_ASKPASS": "/bin/false",
    }
    with tempfile.TemporaryDirectory(prefix="berth-git-") as tmp:
        ssh = "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
        ssh += f" -o UserKnownHostsFile={tmp}/known_hosts -o IdentitiesOnly=yes"
        if private_key:
            key = Path(tmp) / "id"
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(private_key if private_key.endswith("\n") else private_key + "\n")
            ssh += f" -i {key}"
        env["GIT_SSH_COMMAND"] = ssh
        yield args, env


async def run_git(
    args: list[str],
    env: Mapping[str, str],
    *,
    cwd: Path | None = None,
    timeout_s: float = GIT_TIMEOUT_S,
) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError as e:
        proc.kill()
        await proc.wait()
        raise GitSourceError(f"git {args[-2] if len(args) > 1 else ''} timed out") from e
    if proc.returncode != 0:
        raise GitSourceError(err.decode(errors="replace").strip()[-500:] or "git failed")
    return out.decode(errors="replace")


async def ls_remote(
    source: GitSource, policy: AddressPolicy, private_key: str | None, ref: str
) -> str | None:
    """The commit ``ref`` (``refs/heads/x``, ``refs/tags/v1``) points at, or None."""
    async with git_environment(source, policy, private_key) as (args, env):
        out = await run_git([*args, "ls-remote", "--", source.url, ref], env)
    peeled = None
    plain = None
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        if name == ref + "^{}":
            peeled = sha
        elif name == ref:
            plain = sha
    return peeled or plain


async def clone(
    source: GitSource, policy: AddressPolicy, private_key: str | None, *, commit: str, dest: Path
) -> None:
    """Fetch ``commit`` of ``source`` into the new directory ``dest`` and check it out
    (no submodules, no hooks)."""
    async with git_environment(source, policy, private_key) as (args, env):
        await asyncio.to_thread(dest.mkdir, parents=True, exist_ok=False)
        await run_git(["init", "-q", str(dest)], env)
        await run_git([*args, "fetch", "-q", "--depth=1", "--", source.url, commit], env, cwd=dest)
        await run_git([*args, "checkout", "-q", "--detach", "FETCH_HEAD"], env, cwd=dest)
