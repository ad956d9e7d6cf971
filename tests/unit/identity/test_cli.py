"""`berth org|robot|team|prototype|repo` over a real embedded data directory."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from click.testing import CliRunner

from berth.cli.main import main
from berth.config import load_settings
from berth.db.session import Database
from berth.identity.permissions import PermissionService
from berth.registry.repositories import RepoName, create_repository


def _invoke(data: str, *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, [*args, "--data-dir", data], input=input)
    assert result.exit_code == 0, result.output
    return result.output


def _fail(data: str, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--data-dir", data])
    assert result.exit_code != 0
    return result.output


def test_quaytool_like_project_setup(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    _invoke(data, "admin", "create-user", "alice", "--password-stdin", input="alice-password\n")
    assert "created organization proj" in _invoke(
        data, "org", "create", "proj", "--email", "p@x.test", "--owner", "alice"
    )
    out = _invoke(data, "robot", "create", "proj", "cirobot", "--description", "CI")
    assert "created robot proj+cirobot" in out
    assert re.search(r"token: [A-Z0-9]{64}\n", out)
    out = _invoke(data, "team", "create", "proj", "creators", "--role", "creator")
    assert "created team proj/creators (creator)" in out
    out = _invoke(data, "team", "add-member", "proj", "creators", "proj+cirobot")
    assert "added proj+cirobot to proj/creators" in out
    out = _invoke(
        data, "prototype", "create", "proj", "--delegate-robot", "cirobot", "--role", "write"
    )
    assert "user proj+cirobot gets write" in out

    settings = load_settings(None, data_dir=data, env={})

    async def make_repo() -> None:
        db = Database(settings.db_url)
        try:
            async with db.write() as s:
                await create_repository(s, RepoName("proj", "app"))
        finally:
            await db.dispose()

    asyncio.run(make_repo())
    out = _invoke(
        data, "repo", "set-permission", "proj/app", "--robot", "cirobot", "--role", "read"
    )
    assert "robot cirobot has read on proj/app" in out
    _invoke(data, "repo", "set-permission", "proj/app", "--team", "creators", "--role", "write")
    _invoke(data, "repo", "set-permission", "proj/app", "--user", "alice", "--role", "admin")
    assert "proj/app is now public" in _invoke(data, "repo", "set-visibility", "proj/app", "public")

    async def check() -> None:
        db = Database(settings.db_url)
        try:
            perms = PermissionService(db)
            users = {
                p.name: p.role for p in await perms.list_user_permissions(RepoName("proj", "app"))
            }
            teams = {
                t.name: t.role for t in await perms.list_team_permissions(RepoName("proj", "app"))
            }
            assert users == {"proj+cirobot": "read", "alice": "admin"}
            assert teams == {"creators": "write"}
        finally:
            await db.dispose()

    asyncio.run(check())


def test_errors_are_reported(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert "Invalid namespace" in _fail(data, "org", "create", "Bad_Name")
    _invoke(data, "org", "create", "proj")
    assert "already exists" in _fail(data, "org", "create", "proj")
    assert "Unknown namespace" in _fail(data, "robot", "create", "nope", "bot")
    out = _fail(data, "repo", "set-permission", "proj/app", "--role", "read")
    assert "give exactly one of" in out
    assert "Unknown repository proj/app" in _fail(
        data, "repo", "set-visibility", "proj/app", "public"
    )
