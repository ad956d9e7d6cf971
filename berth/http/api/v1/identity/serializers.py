"""Quay's JSON shapes for users and organizations."""

from __future__ import annotations

from typing import Any

from berth.authz import TeamRole, at_least
from berth.http.api.v1.formats import avatar
from berth.identity.accounts import UserRecord


def user_summary(user: UserRecord) -> dict[str, Any]:
    """``GET /users/{username}``."""
    return {
        "anonymous": False,
        "username": user.username,
        "avatar": avatar(user.username, user.email),
    }


def user_view(
    user: UserRecord,
    *,
    organizations: list[dict[str, Any]],
    super_user: bool | None,
    readonly_super_user: bool = False,
) -> dict[str, Any]:
    """``GET /user/``: the caller's own account."""
    view: dict[str, Any] = {
        "anonymous": False,
        "username": user.username,
        "avatar": avatar(user.username, user.email),
        "can_create_repo": True,
        "is_me": True,
        "verified": True,
        "email": user.email,
        "logins": [],
        "invoice_email": False,
        "invoice_email_address": None,
        "preferred_namespace": False,
        "tag_expiration_s": user.tag_expiration_s,
        "prompts": [],
        "company": None,
        "family_name": None,
        "given_name": None,
        "location": None,
        "is_free_account": True,
        "has_password_set": user.has_password,
        "organizations": organizations,
    }
    if super_user is not None:
        view["super_user"] = super_user
        view["global_readonly_super_user"] = readonly_super_user
    return view


def superuser_user_view(
    user: UserRecord, *, super_user: bool, readonly_super_user: bool = False
) -> dict[str, Any]:
    """An item of ``GET /superuser/users/``."""
    return {
        "kind": "user",
        "name": user.username,
        "username": user.username,
        "email": user.email,
        "verified": True,
        "avatar": avatar(user.username, user.email),
        "super_user": super_user,
        "global_readonly_super_user": readonly_super_user,
        "enabled": user.enabled,
    }


def org_summary(name: str, email: str | None, role: str) -> dict[str, Any]:
    """An entry of ``organizations`` in ``GET /user/``."""
    return {
        "name": name,
        "avatar": avatar(name, email, kind="org"),
        "can_create_repo": at_least(TeamRole(role), TeamRole.CREATOR),
        "public": False,
        "is_org_admin": role == TeamRole.ADMIN,
        "preferred_namespace": False,
    }
