"""Robot accounts: names, tokens (shown again, regenerated), listing, credential formats."""

from __future__ import annotations

import base64
import json
import re

import pytest
import yaml
from sqlalchemy import select

from berth.audit.services import list_logs
from berth.identity.errors import InvalidDescription, InvalidRobotName, RobotExists, RobotNotFound
from berth.identity.models import RobotAccount
from berth.identity.robots import credential_formats, verify_robot_token
from berth.registry.repositories import RepoName, create_repository
from tests.unit.identity.conftest import Identity

TOKEN = re.compile(r"^[A-Z0-9]{64}$")


async def test_create_get_regenerate_delete(identity: Identity) -> None:
    await identity.user("alice")
    await identity.orgs.create("acme", creator="alice")
    robot = await identity.robots.create(
        "acme", "ci", description="builds", unstructured_metadata={"k": "v"}, performer="alice"
    )
    assert robot.unstructured_metadata == {"k": "v"}
    assert (await identity.robots.get("acme", "ci")).unstructured_metadata == {"k": "v"}
    assert (robot.name, robot.short_name, robot.description) == ("acme+ci", "ci", "builds")
    assert robot.token is not None
    assert TOKEN.match(robot.token)
    again = await identity.robots.get("acme", "ci")
    assert again.token == robot.token  # shown again, as Quay does
    async with identity.db.read() as s:
        row = (await s.execute(select(RobotAccount))).scalar_one()
        assert robot.token.encode() not in row.token_encrypted  # stored encrypted
        assert await verify_robot_token(s, "acme+ci", robot.token) is not None
    new = await identity.robots.regenerate("acme", "ci", performer="alice")
    assert new.token != robot.token
    assert new.token is not None
    async with identity.db.read() as s:
        assert await verify_robot_token(s, "acme+ci", robot.token) is None
        assert await verify_robot_token(s, "acme+ci", new.token) is not None
    await identity.robots.delete("acme", "ci", performer="alice")
    with pytest.raises(RobotNotFound) as e:
        await identity.robots.get("acme", "ci")
    assert e.value.message == "Could not find robot with specified username"
    async with identity.db.read() as s:
        assert await verify_robot_token(s, "acme+ci", new.token) is None
        kinds = [log.kind for log in reversed(await list_logs(s, namespace="acme"))]
    assert kinds == ["org_create", "create_robot", "regenerate_robot_token", "delete_robot"]


async def test_user_namespace_robots_and_rules(identity: Identity) -> None:
    await identity.user("alice")
    robot = await identity.robots.create("alice", "deployer")
    assert robot.name == "alice+deployer"
    with pytest.raises(RobotExists) as e:
        await identity.robots.create("alice", "deployer")
    assert e.value.message == "Existing robot with name: alice+deployer"
    for bad in ("X", "a", "has space", "-x", "a+b"):
        with pytest.raises(InvalidRobotName):
            await identity.robots.create("alice", bad)
    with pytest.raises(InvalidDescription):
        await identity.robots.create("alice", "long", description="x" * 256)


async def test_list_with_permissions(identity: Identity) -> None:
    await identity.user("alice")
    await identity.orgs.create("acme", creator="alice")
    await identity.robots.create("acme", "ci")
    await identity.robots.create("acme", "bot")
    await identity.teams.create_or_update("acme", "builders", role="creator")
    await identity.teams.add_member("acme", "builders", "acme+ci")
    async with identity.db.write() as s:
        await create_repository(s, RepoName("acme", "app"))
    await identity.permissions.set_user_permission(RepoName("acme", "app"), "acme+ci", "write")
    robots = await identity.robots.list("acme", with_permissions=True)
    assert [r.name for r in robots] == ["acme+bot", "acme+ci"]
    assert robots[0].token is None
    ci = robots[1]
    assert ci.teams == ["builders"]
    assert [(p.repository, p.role) for p in ci.permissions] == [("app", "write")]
    assert [(p.repository, p.role) for p in await identity.robots.permissions("acme", "ci")] == [
        ("app", "write")
    ]
    with_tokens = await identity.robots.list("acme", with_token=True)
    assert all(r.token and TOKEN.match(r.token) for r in with_tokens)


def test_credential_formats() -> None:
    token = "A" * 64
    out = credential_formats("acme+ci", token, "registry.test:5000")
    assert out["docker_login"] == f"docker login -u='acme+ci' -p='{token}' registry.test:5000"
    config = json.loads(out["docker_config"])
    auth = base64.b64decode(config["auths"]["registry.test:5000"]["auth"]).decode()
    assert auth == f"acme+ci:{token}"
    secret = yaml.safe_load(out["kubernetes_secret"])
    assert secret["kind"] == "Secret"
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"]["name"] == "acme-ci-pull-secret"
    inner = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    assert inner == config
    rkt = json.loads(out["rkt"])
    assert rkt["credentials"] == {"user": "acme+ci", "password": token}
    assert rkt["domains"] == ["registry.test:5000"]
    assert '"auths"' in out["mesos"]
