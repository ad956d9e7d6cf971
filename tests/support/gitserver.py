"""A real git server for trigger tests: ``git http-backend`` (smart HTTP, CGI) behind an
aiohttp server on a free port, serving bare repositories under a directory; and helpers to
make commits and push them as a developer would."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from tests.support.receivers import free_port

HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


def git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class GitServer:
    root: Path
    port: int = 0
    requests: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}.git"

    def create(self, name: str, files: dict[str, str], message: str = "initial") -> Repo:
        """A bare repository ``name`` with one commit of ``files`` on ``main``."""
        bare = self.root / f"{name}.git"
        git("init", "-q", "--bare", "-b", "main", str(bare))
        git("-C", str(bare), "config", "http.receivepack", "true")
        work = self.root / f"{name}-work"
        git("clone", "-q", str(bare), str(work))
        git("-C", str(work), "checkout", "-q", "-b", "main")
        repo = Repo(work)
        repo.commit(files, message)
        return repo

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(f"{request.method} {request.path_qs}")
        env = {
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query_string,
            "REQUEST_METHOD": request.method,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        proc = await asyncio.create_subprocess_exec(
            HTTP_BACKEND,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate(body)
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.partition(b"\n\n")
        status = 200
        headers: dict[str, str] = {}
        for line in head.decode().splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers[name.strip()] = value.strip()
        return web.Response(status=status, body=payload, headers=headers)


@dataclass
class Repo:
    """A developer's clone, pushing to the bare repository."""

    work: Path

    def commit(self, files: dict[str, str], message: str, *, branch: str = "main") -> str:
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git("-C", str(self.work), "add", "-A")
        git("-C", str(self.work), "commit", "-q", "-m", message)
        git("-C", str(self.work), "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return git("-C", str(self.work), "rev-parse", "HEAD")


@contextlib.contextmanager
def git_server(root: Path) -> Iterator[GitServer]:
    server = GitServer(root, port=free_port())
    ready = threading.Event()
    stop: list[Callable[[], None]] = []

    def serve() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def main() -> None:
            done = asyncio.Event()
            stop.append(lambda: loop.call_soon_threadsafe(done.set))
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", server._handle)
            runner = web.AppRunner(app, shutdown_timeout=0.5)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", server.port).start()
            ready.set()
            await done.wait()
            await runner.cleanup()

        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=serve, name="git-server", daemon=True)
    thread.start()
    assert ready.wait(10), "the git server did not start"
    try:
        yield server
    finally:
        stop[0]()
        thread.join(10)
