"""Quay's JSON shapes for organizations, their members, teams, OAuth applications and
entity lookups."""

from __future__ import annotations

from typing import Any

from berth.http.api.v1.formats import avatar
from berth.http.api.v1.identity.access import OrgAccess
from berth.identity.orgs import EntityMatch, OrgInfo, OrgMember
from berth.identity.teams import MemberInfo, TeamInfo
from berth.oauth.services import Application


def team_avatar(name: str) -> dict[str, str]:
    return avatar(name, name, "team")


def user_avatar(name: str, email: str | None, *, is_robot: bool = False) -> dict[str, str]:
    return avatar(name, email, "robot" if is_robot else "user")


def org_view(
    org: OrgInfo, access: OrgAccess, teams: list[TeamInfo] | None, *, superuser_view: bool
) -> dict[str, Any]:
    """``GET /organization/{org}``: everyone sees the minimal view, members (and
    superusers with full access) the teams, admins the settings. The avatar is computed as
    for a user (Quay's ``get_data_for_user``)."""
    view: dict[str, Any] = {
        "name": org.name,
        "email": (org.email or "") if access.is_admin or superuser_view else "",
        "avatar": avatar(org.name, org.email),
        "is_admin": access.is_admin,
        "is_member": access.is_member,
    }
    if teams is not None:
        view["teams"] = {
            t.name: org_team_view(t, can_view=superuser_view or access.can_view_team(t.name))
            for t in teams
        }
        view["ordered_teams"] = [t.name for t in teams]
    if access.is_admin:
        view["invoice_email"] = False
        view["invoice_email_address"] = None
        view["tag_expiration_s"] = org.tag_expiration_s
        view["is_free_account"] = True
    return view


def org_team_view(team: TeamInfo, *, can_view: bool) -> dict[str, Any]:
    """An entry of ``teams`` in the organization view."""
    return {
        "name": team.name,
        "description": team.description,
        "role": team.role,
        "avatar": team_avatar(team.name),
        "can_view": can_view,
        "repo_count": team.repo_count,
        "member_count": team.member_count,
        "is_synced": team.synced,
    }


def team_view(team: TeamInfo, *, can_view: bool, new_team: bool) -> dict[str, Any]:
    """``PUT /organization/{org}/team/{team}``."""
    return {
        "name": team.name,
        "description": team.description,
        "can_view": can_view,
        "role": team.role,
        "avatar": team_avatar(team.name),
        "new_team": new_team,
    }


def team_member_view(member: MemberInfo) -> dict[str, Any]:
    """A team member, a user invited to the team, or an e-mail address invited to it."""
    if member.name is None:
        email = member.email or ""
        return {"email": email, "kind": "invite", "avatar": avatar(email, email), "invited": True}
    return {
        "name": member.name,
        "kind": "user",
        "is_robot": member.is_robot,
        "avatar": user_avatar(member.name, member.email, is_robot=member.is_robot),
        "invited": member.invited,
    }


def org_member_view(member: OrgMember, *, with_robot_kind: bool) -> dict[str, Any]:
    """An organization member (``kind`` is "robot" for robots only in the one-member view)."""
    return {
        "name": member.name,
        "kind": "robot" if with_robot_kind and member.is_robot else "user",
        "avatar": user_avatar(member.name, member.email, is_robot=member.is_robot),
        "teams": [{"name": t, "avatar": team_avatar(t)} for t in member.teams],
        "repositories": list(member.repositories),
    }


def collaborator_view(member: OrgMember) -> dict[str, Any]:
    return {
        "kind": "user",
        "name": member.name,
        "avatar": user_avatar(member.name, member.email),
        "repositories": list(member.repositories),
    }


def team_permission_view(repository: str, is_public: bool, role: str) -> dict[str, Any]:
    return {"repository": {"name": repository, "is_public": is_public}, "role": role}


def application_view(app: Application) -> dict[str, Any]:
    """An OAuth application as its organization's admins see it (secret included)."""
    return {
        "name": app.name,
        "description": app.description,
        "application_uri": app.application_uri,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_uri": app.redirect_uri,
        "avatar_email": app.avatar_email,
    }


def application_info_view(
    app: Application, org_email: str | None, organization: dict[str, Any]
) -> dict[str, Any]:
    """``GET /app/{client_id}``: public information about an application."""
    return {
        "name": app.name,
        "description": app.description,
        "uri": app.application_uri,
        "avatar": avatar(app.name, app.avatar_email or org_email, "app"),
        "organization": organization,
    }


def entity_user_view(match: EntityMatch) -> dict[str, Any]:
    """A user or robot found by ``GET /entities/{prefix}`` (robots have kind "user")."""
    view: dict[str, Any] = {
        "name": match.name,
        "kind": "user",
        "is_robot": match.is_robot,
        "avatar": user_avatar(match.name, match.email, is_robot=match.is_robot),
    }
    if match.is_org_member is not None:
        view["is_org_member"] = match.is_org_member
    return view


def entity_team_view(name: str) -> dict[str, Any]:
    return {"name": name, "kind": "team", "is_org_member": True, "avatar": team_avatar(name)}


def entity_org_view(name: str, email: str | None) -> dict[str, Any]:
    org_avatar = avatar(name, email, "org")
    return {"name": name, "kind": "org", "is_org_member": True, "avatar": org_avatar}
