"""What a usage-log entry reads as on the logs pages: each kind's title (the chart's legend)
and a sentence built from the entry's metadata ("robot acme+ci pushed tag v1.2 to
acme/app"), in the spirit of Quay's log descriptions.

An entry's metadata is what its service wrote (Quay's keys: ``repo``, ``namespace``, ``tag``,
``manifest_digest``, ``role``, ``team``, ``member``, ``robot``, ...); a key that is missing
reads as nothing, and a kind this table doesn't know reads as its title or its name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Meta = dict[str, Any]

#: The chart legend's words for each kind.
TITLES: dict[str, str] = {
    "create_repo": "Create repository",
    "delete_repo": "Delete repository",
    "push_repo": "Push to repository",
    "pull_repo": "Pull repository",
    "pull_repo_failed": "Pull repository failed",
    "push_repo_failed": "Push to repository failed",
    "delete_tag_failed": "Delete tag failed",
    "change_repo_visibility": "Change repository visibility",
    "set_repo_description": "Change repository description",
    "change_repo_state": "Change repository state",
    "add_repo_permission": "Add repository permission",
    "change_repo_permission": "Change repository permission",
    "delete_repo_permission": "Remove repository permission",
    "org_create": "Create organization",
    "org_delete": "Delete organization",
    "org_change_email": "Change organization e-mail",
    "org_change_tag_expiration": "Change time machine window",
    "org_create_team": "Create team",
    "org_delete_team": "Delete team",
    "org_set_team_description": "Change team description",
    "org_set_team_role": "Change team role",
    "org_add_team_member": "Add team member",
    "org_remove_team_member": "Remove team member",
    "org_invite_team_member": "Invite team member",
    "org_delete_team_member_invite": "Delete team invitation",
    "org_team_member_invite_accepted": "Team invitation accepted",
    "org_team_member_invite_declined": "Team invitation declined",
    "create_prototype_permission": "Create default permission",
    "modify_prototype_permission": "Change default permission",
    "delete_prototype_permission": "Delete default permission",
    "create_robot": "Create robot",
    "delete_robot": "Delete robot",
    "regenerate_robot_token": "Regenerate robot token",
    "create_robot_federation": "Create robot federation",
    "delete_robot_federation": "Delete robot federation",
    "federated_robot_token_exchange": "Robot federation token exchange",
    "user_create": "Create user",
    "user_delete": "Delete user",
    "user_disable": "Disable user",
    "user_enable": "Enable user",
    "user_change_email": "Change user e-mail",
    "user_change_password": "Change user password",
    "user_change_tag_expiration": "Change time machine window",
    "login_success": "Login success",
    "login_failure": "Login failure",
    "logout": "Logout",
    "create_application": "Create application",
    "update_application": "Change application",
    "delete_application": "Delete application",
    "reset_application_client_secret": "Reset application client secret",
    "create_app_specific_token": "Create app-specific token",
    "revoke_app_specific_token": "Revoke app-specific token",
    "create_tag": "Create tag",
    "move_tag": "Move tag",
    "delete_tag": "Delete tag",
    "revert_tag": "Restore tag",
    "change_tag_expiration": "Change tag expiration",
    "manifest_label_add": "Add label",
    "manifest_label_delete": "Delete label",
    "create_namespace_autoprune_policy": "Create namespace auto-prune policy",
    "update_namespace_autoprune_policy": "Change namespace auto-prune policy",
    "delete_namespace_autoprune_policy": "Delete namespace auto-prune policy",
    "create_repository_autoprune_policy": "Create repository auto-prune policy",
    "update_repository_autoprune_policy": "Change repository auto-prune policy",
    "delete_repository_autoprune_policy": "Delete repository auto-prune policy",
    "autoprune_tag_delete": "Auto-prune tag deletion",
    "create_immutability_policy": "Create immutability policy",
    "update_immutability_policy": "Change immutability policy",
    "delete_immutability_policy": "Delete immutability policy",
    "add_repo_notification": "Add repository notification",
    "delete_repo_notification": "Delete repository notification",
    "reset_repo_notification": "Re-enable repository notification",
    "export_logs_success": "Export logs queued",
    "export_logs_failure": "Export logs failed",
    "org_create_quota": "Create organization quota",
    "org_change_quota": "Change organization quota",
    "org_delete_quota": "Delete organization quota",
    "org_create_quota_limit": "Create organization quota limit",
    "org_change_quota_limit": "Change organization quota limit",
    "org_delete_quota_limit": "Delete organization quota limit",
    "quota_warning": "Quota warning",
    "quota_error": "Quota exceeded",
    "change_namespace_rate_limit": "Change rate limit",
    "delete_namespace_rate_limit": "Delete rate limit",
    "create_proxy_cache_config": "Create proxy cache configuration",
    "delete_proxy_cache_config": "Delete proxy cache configuration",
}


def title(kind: str) -> str:
    return TITLES.get(kind, kind.replace("_", " ").capitalize())


def _repo(m: Meta, ns: str | None) -> str:
    name = m.get("repo") or m.get("repository")
    if not name:
        return "a repository"
    namespace = m.get("namespace") or ns
    return f"{namespace}/{name}" if namespace and "/" not in str(name) else str(name)


def _short(digest: Any) -> str:
    text = str(digest or "")
    return text[:19] if text.startswith("sha256:") else text


def _entity(m: Meta) -> str:
    for key in ("username", "team", "robot", "entity", "member"):
        if m.get(key):
            prefix = "team " if key == "team" else ""
            return f"{prefix}{m[key]}"
    return "someone"


def _tag(m: Meta) -> str:
    return str(m.get("tag") or m.get("tag_name") or "")


def _pulled(m: Meta, ns: str | None) -> str:
    if _tag(m):
        return f"pulled tag {_tag(m)} from {_repo(m, ns)}"
    if m.get("manifest_digest"):
        return f"pulled {_short(m['manifest_digest'])} from {_repo(m, ns)}"
    return f"pulled {_repo(m, ns)}"


def _pushed(m: Meta, ns: str | None) -> str:
    if _tag(m):
        return f"pushed tag {_tag(m)} to {_repo(m, ns)}"
    if m.get("manifest_digest"):
        return f"pushed {_short(m['manifest_digest'])} to {_repo(m, ns)}"
    return f"pushed to {_repo(m, ns)}"


def _failed(verb: str) -> Callable[[Meta, str | None], str]:
    def text(m: Meta, ns: str | None) -> str:
        what = f"tag {_tag(m)} of " if _tag(m) else ""
        why = f": {m['message']}" if m.get("message") else ""
        return f"failed to {verb} {what}{_repo(m, ns)}{why}"

    return text


def _expiration(m: Meta, ns: str | None) -> str:
    when = m.get("expiration_date")
    if when:
        at = datetime.fromtimestamp(int(when), UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"set tag {_tag(m)} of {_repo(m, ns)} to expire at {at}"
    return f"cleared the expiration of tag {_tag(m)} of {_repo(m, ns)}"


def _quota(word: str) -> Callable[[Meta, str | None], str]:
    def text(m: Meta, ns: str | None) -> str:
        limit = m.get("limit") or m.get("limit_bytes") or m.get("quota")
        return f"{word} of {m.get('namespace') or ns or 'a namespace'}" + (
            f" ({limit})" if limit else ""
        )

    return text


_SENTENCES: dict[str, Callable[[Meta, str | None], str]] = {
    "create_repo": lambda m, ns: f"created repository {_repo(m, ns)}",
    "delete_repo": lambda m, ns: f"deleted repository {_repo(m, ns)}",
    "push_repo": _pushed,
    "pull_repo": _pulled,
    "pull_repo_failed": _failed("pull"),
    "push_repo_failed": _failed("push"),
    "delete_tag_failed": _failed("delete"),
    "change_repo_visibility": lambda m, ns: (
        f"made {_repo(m, ns)} {m.get('visibility', 'public or private')}"
    ),
    "set_repo_description": lambda m, ns: f"changed the description of {_repo(m, ns)}",
    "change_repo_state": lambda m, ns: (
        f"changed the state of {_repo(m, ns)} to {m.get('state_changed') or m.get('state', '')}"
    ),
    "add_repo_permission": lambda m, ns: (
        f"gave {_entity(m)} {m.get('role', '')} permission on {_repo(m, ns)}"
    ),
    "change_repo_permission": lambda m, ns: (
        f"changed the permission of {_entity(m)} on {_repo(m, ns)} to {m.get('role', '')}"
    ),
    "delete_repo_permission": lambda m, ns: (
        f"removed the permission of {_entity(m)} on {_repo(m, ns)}"
    ),
    "org_create": lambda m, ns: f"created organization {m.get('namespace') or ns}",
    "org_delete": lambda m, ns: f"deleted organization {m.get('namespace') or ns}",
    "org_change_email": lambda m, ns: f"changed the e-mail of organization {ns}",
    "org_create_team": lambda m, ns: f"created team {m.get('team', '')}",
    "org_delete_team": lambda m, ns: f"deleted team {m.get('team', '')}",
    "org_set_team_description": lambda m, ns: f"changed the description of team {m.get('team')}",
    "org_set_team_role": lambda m, ns: (
        f"changed the role of team {m.get('team', '')} to {m.get('role', '')}"
    ),
    "org_add_team_member": lambda m, ns: f"added {m.get('member', '')} to team {m.get('team')}",
    "org_remove_team_member": lambda m, ns: (
        f"removed {m.get('member', '')} from team {m.get('team', '')}"
    ),
    "org_invite_team_member": lambda m, ns: (
        f"invited {m.get('member') or m.get('email') or 'someone'} to team {m.get('team', '')}"
    ),
    "org_team_member_invite_accepted": lambda m, ns: (
        f"accepted the invitation to team {m.get('team', '')}"
    ),
    "org_team_member_invite_declined": lambda m, ns: (
        f"declined the invitation to team {m.get('team', '')}"
    ),
    "create_robot": lambda m, ns: f"created robot {m.get('robot', '')}",
    "delete_robot": lambda m, ns: f"deleted robot {m.get('robot', '')}",
    "regenerate_robot_token": lambda m, ns: f"regenerated the token of robot {m.get('robot')}",
    "user_create": lambda m, ns: f"created user {m.get('username') or ns or ''}",
    "user_delete": lambda m, ns: f"deleted user {m.get('username') or ns or ''}",
    "user_change_email": lambda m, ns: "changed the account's e-mail",
    "user_change_password": lambda m, ns: "changed the account's password",
    "login_success": lambda m, ns: f"signed in{_via(m)}",
    "login_failure": lambda m, ns: f"failed to sign in{_via(m)}",
    "logout": lambda m, ns: "signed out",
    "create_application": lambda m, ns: f"created application {m.get('application_name', '')}",
    "delete_application": lambda m, ns: f"deleted application {m.get('application_name', '')}",
    "create_tag": lambda m, ns: (
        f"created tag {_tag(m)} on {_short(m.get('manifest_digest'))} in {_repo(m, ns)}"
    ),
    "move_tag": lambda m, ns: (
        f"moved tag {_tag(m)} to {_short(m.get('manifest_digest'))} in {_repo(m, ns)}"
    ),
    "delete_tag": lambda m, ns: f"deleted tag {_tag(m)} from {_repo(m, ns)}",
    "revert_tag": lambda m, ns: (
        f"restored tag {_tag(m)} to {_short(m.get('manifest_digest'))} in {_repo(m, ns)}"
    ),
    "change_tag_expiration": _expiration,
    "autoprune_tag_delete": lambda m, ns: f"auto-prune deleted tag {_tag(m)} from {_repo(m, ns)}",
    "manifest_label_add": lambda m, ns: (
        f"added label {m.get('key', '')}={m.get('value', '')} in {_repo(m, ns)}"
    ),
    "manifest_label_delete": lambda m, ns: f"deleted label {m.get('key', '')} in {_repo(m, ns)}",
    "add_repo_notification": lambda m, ns: (
        f"added a {m.get('method', '')} notification for {m.get('event', 'an event')} "
        f"on {_repo(m, ns)}"
    ),
    "delete_repo_notification": lambda m, ns: (
        f"deleted a {m.get('method', '')} notification on {_repo(m, ns)}"
    ),
    "reset_repo_notification": lambda m, ns: f"re-enabled a notification on {_repo(m, ns)}",
    "export_logs_success": lambda m, ns: (
        "exported the logs"
        + (f" to {m['email']}" if m.get("email") else "")
        + (f" for {m['url']}" if m.get("url") else "")
    ),
    "export_logs_failure": lambda m, ns: f"could not export the logs: {m.get('error', '')}",
    "quota_warning": _quota("passed the quota's warning limit"),
    "quota_error": _quota("passed the quota's reject limit"),
}


def _via(m: Meta) -> str:
    how = m.get("type") or m.get("kind")
    return f" ({how})" if how else ""


def describe(view: dict[str, Any]) -> str:
    """The sentence for one entry in Quay's view shape (``kind``, ``metadata``,
    ``performer``, ``namespace``)."""
    performer = view.get("performer")
    who = "Anonymous"
    if performer:
        who = ("robot " if performer.get("is_robot") else "") + str(performer.get("name"))
    ns = (view.get("namespace") or {}).get("name")
    meta: Meta = view.get("metadata") or {}
    sentence = _SENTENCES.get(view["kind"])
    if sentence is None:
        return f"{who}: {title(view['kind'])}"
    try:
        text = sentence(meta, ns)
    except (TypeError, ValueError):
        text = title(view["kind"]).lower()
    return f"{who} {text}"
