"""Quay's JSON shapes for robot accounts, repository permissions and default permissions."""

from __future__ import annotations

from typing import Any

from berth.http.api.v1.formats import avatar, format_date
from berth.identity.permissions import (
    PrototypeDelegate,
    PrototypeInfo,
    PrototypeUser,
    TeamPermission,
    UserPermission,
)
from berth.identity.robots import RobotInfo, RobotRepoPermission


def team_avatar(name: str) -> dict[str, str]:
    return avatar(name, name, kind="team")


def _user_avatar(name: str, email: str | None, is_robot: bool) -> dict[str, str]:
    return avatar(name, email, kind="robot" if is_robot else "user")


# ---- robots --------------------------------------------------------------------------
def robot_view(robot: RobotInfo, *, token: bool, metadata: bool = True) -> dict[str, Any]:
    """A robot (``GET``/``PUT`` of one, list entries, regenerate)."""
    view: dict[str, Any] = {
        "name": robot.name,
        "created": format_date(robot.created_at),
        "last_accessed": format_date(robot.last_accessed),
        "description": robot.description,
    }
    if token:
        view["token"] = robot.token
    if metadata:
        view["unstructured_metadata"] = robot.unstructured_metadata
    return view


def robot_with_permissions_view(robot: RobotInfo, *, token: bool) -> dict[str, Any]:
    """A list entry with ``permissions=true``: its teams and repositories, no metadata."""
    view = robot_view(robot, token=False, metadata=False)
    view["teams"] = [{"name": team, "avatar": team_avatar(team)} for team in robot.teams]
    view["repositories"] = list(dict.fromkeys(p.repository for p in robot.permissions))
    if token:
        view["token"] = robot.token
    return view


def robot_permission_view(perm: RobotRepoPermission) -> dict[str, Any]:
    return {"repository": {"name": perm.repository, "is_public": perm.is_public}, "role": perm.role}


def robot_credentials_view(robot: RobotInfo, formats: dict[str, str]) -> dict[str, Any]:
    """Berth's ``.../credentials``: ready-to-copy texts (docker login, config.json,
    Kubernetes pull secret, rkt, Mesos) for the robot's current token."""
    return {"name": robot.name, "token": robot.token, "credentials": formats}


# ---- repository permissions ----------------------------------------------------------
def user_permission_view(perm: UserPermission) -> dict[str, Any]:
    view: dict[str, Any] = {
        "role": perm.role,
        "name": perm.name,
        "is_robot": perm.is_robot,
        "avatar": _user_avatar(perm.name, perm.email, perm.is_robot),
    }
    if perm.is_org_member is not None:
        view["is_org_member"] = perm.is_org_member
    return view


def team_permission_view(perm: TeamPermission) -> dict[str, Any]:
    return {"role": perm.role, "name": perm.name, "avatar": team_avatar(perm.name)}


# ---- default permissions -------------------------------------------------------------
def _prototype_user_view(user: PrototypeUser | PrototypeDelegate) -> dict[str, Any]:
    return {
        "name": user.name,
        "is_robot": user.is_robot,
        "kind": "user",
        "is_org_member": user.is_org_member,
        "avatar": _user_avatar(user.name, user.email, user.is_robot),
    }


def prototype_view(proto: PrototypeInfo) -> dict[str, Any]:
    delegate = proto.delegate
    return {
        "activating_user": (
            _prototype_user_view(proto.activating_user) if proto.activating_user else None
        ),
        "delegate": (
            _prototype_user_view(delegate)
            if delegate.kind == "user"
            else {"name": delegate.name, "kind": "team", "avatar": team_avatar(delegate.name)}
        ),
        "role": proto.role,
        "id": proto.id,
    }
