"""Quay's JSON shapes for users, avatars and dates."""

from __future__ import annotations

import hashlib
import math
from email.utils import formatdate
from typing import Any

from berth.authz import TeamRole, at_least
from berth.identity.accounts import UserRecord

# d3's category20 palette, as Quay's avatar colours.
_COLORS = [
    "#969696", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728",
    "#ff9896", "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2",
    "#7f7f7f", "#c7c7c7", "#bcbd22", "#1f77b4", "#17becf", "#9edae5", "#393b79",
]  # fmt: skip


def format_date(ms: int | None) -> str | None:
    """RFC 2822 as Quay writes it: ``Thu, 30 Sep 2021 06:10:24 -0000``."""
    if ms is None:
        return None
    return formatdate(ms / 1000)


def avatar(name: str, email: str | None = None, kind: str = "user") -> dict[str, str]:
    digest = hashlib.md5(
        (email or name).strip().lower().encode(), usedforsecurity=False
    ).hexdigest()
    width = math.ceil(math.log(len(_COLORS), 16))
    color = _COLORS[int(digest[:width], 16) % len(_COLORS)]
    return {"name": name, "hash": digest, "color": color, "kind": kind}


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
        view["global_readonly_super_user"] = False
    return view


def superuser_user_view(user: UserRecord, *, super_user: bool) -> dict[str, Any]:
    """An item of ``GET /superuser/users/``."""
    return {
        "kind": "user",
        "name": user.username,
        "username": user.username,
        "email": user.email,
        "verified": True,
        "avatar": avatar(user.username, user.email),
        "super_user": super_user,
        "global_readonly_super_user": False,
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
