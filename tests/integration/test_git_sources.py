"""git through the SSRF guard (berth.outbound.git) against a real git server
(git http-backend): what a build's checkout and a manual run's ref lookup do."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.outbound import AddressPolicy, AllowList
from berth.outbound.git import GitSourceError, clone, ls_remote, parse_git_url
from tests.support.gitserver import git, git_server

pytestmark = pytest.mark.slow
LOOPBACK = AddressPolicy(AllowList.parse(["127.0.0.1"]))


async def test_clone_checks_out_the_commit_and_ls_remote_finds_refs(tmp_path: Path) -> None:
    root = tmp_path / "srv"
    root.mkdir()
    with git_server(root) as server:
        repo = server.create("app", {"Dockerfile": "FROM scratch\n", "v.txt": "1"})
        first = git("-C", str(repo.work), "rev-parse", "HEAD")
        second = repo.commit({"v.txt": "2"}, "two")
        git("-C", str(repo.work), "tag", "v1", first)
        git("-C", str(repo.work), "push", "-q", "origin", "v1")
        source = parse_git_url(server.url("app"))

        assert await ls_remote(source, LOOPBACK, None, "refs/heads/main") == second
        assert await ls_remote(source, LOOPBACK, None, "refs/tags/v1") == first
        assert await ls_remote(source, LOOPBACK, None, "refs/heads/nope") is None

        dest = tmp_path / "checkout"
        await clone(source, LOOPBACK, None, commit=first, dest=dest)
        assert (dest / "v.txt").read_text() == "1"
        assert git("-C", str(dest), "rev-parse", "HEAD") == first


async def test_the_guard_refuses_before_git_connects(tmp_path: Path) -> None:
    root = tmp_path / "srv"
    root.mkdir()
    with git_server(root) as server:
        server.create("app", {"Dockerfile": "FROM scratch\n"})
        for url in (server.url("app"), server.url("app").replace("127.0.0.1", "localhost")):
            with pytest.raises(GitSourceError, match="loopback"):
                await ls_remote(parse_git_url(url), AddressPolicy(), None, "refs/heads/main")
            with pytest.raises(GitSourceError, match="loopback"):
                await clone(
                    parse_git_url(url), AddressPolicy(), None, commit="0" * 40, dest=tmp_path / "x"
                )
        assert server.requests == []
