"""``berth builds list`` and ``berth builds retry`` on a data directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from berth.authz import Principal
from berth.builds.types import BuildContext
from berth.cli.main import main
from berth.config import load_settings
from berth.registry.repositories import RepoName
from berth.services import create_services


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_the_queue_and_retrying_an_internal_error(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert _invoke("db", "upgrade", "--data-dir", data)[0] == 0
    assert _invoke("builds", "list", "--data-dir", data)[1].strip() == (
        "no builds waiting or running"
    )
    settings = load_settings(None, data_dir=data, env={})

    async def setup() -> str:
        svc = create_services(settings, pool_size=1)
        try:
            await svc.accounts.create_user("alice", "alice-password-1")
            await svc.auth.load_keys()
            alice = Principal(kind="user", name="alice")
            await svc.repos.create(
                RepoName("alice", "app"), creator=alice, description="", public=False
            )
            assert svc.builds is not None
            build = await svc.builds.start_build(
                None,
                namespace="alice",
                repository="app",
                performer=None,
                context=BuildContext.archive("https://example.com/ctx.tgz"),
                docker_tags=["v1"],
            )
            await svc.builds.transition(build.uuid, "building")
            await svc.builds.restart(build.uuid, "lost")  # the one automatic retry
            await svc.builds.transition(build.uuid, "building")
            await svc.builds.restart(build.uuid, "lost")  # now internalerror
            return build.uuid
        finally:
            await svc.close()

    uuid = asyncio.run(setup())
    assert _invoke("builds", "list", "--data-dir", data)[1].strip() == (
        "no builds waiting or running"
    )
    code, out = _invoke("builds", "retry", uuid, "--data-dir", data)
    assert code == 0, out
    assert f"build {uuid} is queued again" in out
    code, out = _invoke("builds", "list", "--data-dir", data)
    assert uuid in out
    assert "waiting" in out
    assert "alice/app" in out
    code, out = _invoke("builds", "retry", uuid, "--data-dir", data)
    assert code == 1
    assert "is waiting, not internalerror" in out
