"""Organizations: a new one (``/organizations/new``), an organization's page
(``/organization/{org}?tab=repos|teams|robots|defaults|applications|settings``), a team's
page (``/organization/{org}/teams/{team}``), a robot's page with its credentials and an
OAuth application's page (edit, reset the secret, generate a token).

Every decision is the API's: ``org_access``/``administered_org`` (organizations, teams,
applications), ``repository_access`` (granting a repository permission needs its admin
role, as ``PUT /repository/{r}/permissions/...``). Data comes from the same services as
``/api/v1``. Forms post to their own routes, flash and redirect back; a refused change shows
the service's message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.responses import Response

from berth.authz import RepoRole, TeamRole, at_least
from berth.http.api.v1.errors import forbidden, not_found, unauthorized
from berth.http.api.v1.identity.access import OrgAccess, administered_org, org_access
from berth.http.api.v1.oauth.authorize import IMPLICIT_TOKEN_TTL_S
from berth.http.api.v1.repos.access import list_viewer, repository_access
from berth.http.web.framework import Page, Redirect, WebApp, WebRoute
from berth.http.web.pages import notification_settings, org_policies, proxycache, quotas, usagelogs
from berth.http.web.pages.users import fresh_sign_in
from berth.identity.errors import IdentityError, TeamSyncError
from berth.identity.robots import InvalidFederation, credential_formats, parse_federation
from berth.oauth.errors import ApplicationNotFound
from berth.oauth.services import SCOPES, Application
from berth.registry.repositories import RepoName
from berth.repos.services import ListQuery

MAX_NAME = 255
MAX_TEXT = 4096
TABS = {
    "repos": "Repositories",
    "teams": "Teams and membership",
    "robots": "Robot accounts",
    "defaults": "Default permissions",
    "applications": "OAuth applications",
    "logs": "Logs",
    "settings": "Settings",
}
ADMIN_TABS = {"defaults", "applications", "logs", "settings"}
REPO_ROLES = [r.value for r in RepoRole]
TEAM_ROLES = [r.value for r in TeamRole]
CREDENTIAL_LABELS = {
    "podman_login": "Podman login",
    "docker_login": "Docker login",
    "docker_config": "Docker configuration (~/.docker/config.json)",
    "kubernetes_secret": "Kubernetes secret",
    "rkt": "rkt configuration",
    "mesos": "Mesos",
}


class FormError(Exception):
    """A refused form: its message is flashed on the page the form came from."""


@contextmanager
def refused(page: Page, back: str) -> Iterator[None]:
    """Turn a service's refusal into a flashed message and a redirect to ``back``."""
    try:
        yield
    except (IdentityError, FormError) as e:
        page.flash(str(e), "danger")
        raise Redirect(back) from e
    except ApplicationNotFound as e:
        raise not_found() from e


def _text(form: dict[str, str], name: str, limit: int = MAX_NAME) -> str:
    value = form.get(name, "").strip()
    if len(value) > limit:
        raise FormError(f"{name}: at most {limit} characters.")
    return value


def _who(page: Page) -> str:
    """The signed-in caller's name, as the services log the performer."""
    return page.require_user().username


def _org_url(org: str, tab: str | None = None) -> str:
    return f"/organization/{org}" + (f"?tab={tab}" if tab else "")


async def _member_access(page: Page, org: str) -> OrgAccess:
    """Members see the organization page (the API's ``GET /organization/{org}`` answers
    anyone, but its teams and robots only to members); others get the API's 403/404."""
    access = await org_access(page.ctx, org)
    if not (access.is_member or access.reads_all):
        raise unauthorized(page.user is not None)
    return access.require_org()


async def _admin_access(page: Page, org: str) -> OrgAccess:
    return (await administered_org(page.ctx, org)).require_org()


async def _require_repo_admin(page: Page, org: str, repository: str) -> RepoName:
    """The organization's repository ``repository``, if the caller administers it."""
    repo = RepoName(org, repository)
    access = await repository_access(page.ctx, repo)
    if not at_least(access.role, RepoRole.ADMIN) or not access.facts.exists:
        raise FormError(f"No repository {org}/{repository} you administer.")
    return repo


# ------------------------------------------------------------------- list and new one


async def organization_list(page: Page) -> Response:
    """The caller's organizations (as ``GET /user/`` lists them)."""
    user = page.require_user()
    orgs = await page.web.api.svc.orgs.list_for_user(user.username)
    return page.render("organization/list.html", orgs=sorted(orgs, key=lambda o: o.name))


async def new_organization(page: Page) -> Response:
    page.require_user()
    return page.render("organization/new.html", values={}, errors={})


async def new_organization_post(page: Page) -> Response:
    user = page.require_user()
    api = page.web.api
    form = await page.form()
    values = {"name": form.get("name", "").strip(), "email": form.get("email", "").strip()}
    errors: dict[str, str] = {}
    if not page.caller.superuser_account and api.settings.is_restricted_user(user.username):
        raise forbidden()
    if not values["name"]:
        errors["name"] = "A name is required."
    elif len(values["name"]) > MAX_NAME:
        errors["name"] = f"At most {MAX_NAME} characters."
    if len(values["email"]) > MAX_NAME:
        errors["email"] = f"At most {MAX_NAME} characters."
    if not errors:
        try:
            await api.svc.orgs.create(
                values["name"],
                creator=user.username,
                email=values["email"] or None,
                email_required=api.settings.api.mailing,
                ip=page.ctx.actor_ip,
            )
        except IdentityError as e:
            key = "email" if "mail" in e.message.lower() else "name"
            errors[key] = e.message
    if errors:
        return page.render("organization/new.html", status=400, values=values, errors=errors)
    page.flash(f"Organization {values['name']} created.")
    return page.redirect(_org_url(values["name"]))


# ---------------------------------------------------------------------- the organization


async def organization(page: Page) -> Response:
    org = page.params["org"]
    access = await _member_access(page, org)
    svc = page.web.api.svc
    tabs = {k: v for k, v in TABS.items() if k not in ADMIN_TABS or access.may_administer}
    if access.may_administer and proxycache.enabled(page):  # before "settings", as Quay
        settings_label = tabs.pop("settings")
        tabs[proxycache.TAB[0]] = proxycache.TAB[1]
        tabs["settings"] = settings_label
    tab = page.query("tab", "repos")
    if tab not in tabs:
        tab = "repos"
    data: dict[str, Any] = {}
    info = await svc.orgs.get(org)
    if tab == "repos":
        result = await svc.repos.list_repositories(
            list_viewer(page.ctx), ListQuery(namespace=org, last_modified=True)
        )
        data["repos"] = sorted(result.repositories, key=lambda r: r.name)
    elif tab == "teams":
        teams = await svc.teams.list(org)
        data["teams"] = [t for t in teams if access.can_view_team(t.name) or access.reads_all]
        if access.may_administer:
            data["members"] = await svc.orgs.members(org)
    elif tab == "robots":
        data["robots"] = await svc.robots.list(
            org, with_permissions=access.may_administer, limit=None
        )
    elif tab == "defaults":
        data["prototypes"] = await svc.permissions.list_prototypes(org)
        data["teams"] = await svc.teams.list(org)
    elif tab == "applications":
        data["applications"] = await page.web.api.oauth.list_applications(org)
    elif tab == "logs":
        data["logs"] = await usagelogs.organization_logs(page, org)
    elif tab == "settings":
        data.update(await org_policies.policies_data(page, org))
        data.update(await notification_settings.org_notifications_data(page, org))
    elif tab == proxycache.TAB[0]:
        data.update(await proxycache.proxy_cache_data(page, org))
    return page.render(
        "organization/organization.html",
        org=info,
        tab=tab,
        tabs=tabs,
        can_admin=access.may_administer,
        repo_roles=REPO_ROLES,
        team_roles=TEAM_ROLES,
        expiration_options=sorted(svc.orgs.tag_expiration_options),
        change_expiration=page.web.api.settings.api.change_tag_expiration,
        quota_bar=await quotas.bar(page, org),
        can_edit_quota=quotas.may_edit(page),
        **data,
    )


async def create_team(page: Page) -> Response:
    org = page.params["org"]
    access = await _admin_access(page, org)
    form = await page.form()
    back = _org_url(org, "teams")
    with refused(page, back):
        name = _text(form, "name")
        role = form.get("role", "member")
        team, created = await page.web.api.svc.teams.create_or_update(
            access.name,
            name,
            role=role,
            description=_text(form, "description", MAX_TEXT),
            performer=_who(page),
            ip=page.ctx.actor_ip,
        )
    page.flash(f"Team {team.name} {'created' if created else 'updated'}.")
    return page.redirect(f"/organization/{org}/teams/{team.name}")


async def create_robot(page: Page) -> Response:
    org = page.params["org"]
    access = await _admin_access(page, org)
    form = await page.form()
    with refused(page, _org_url(org, "robots")):
        robot = await page.web.api.svc.robots.create(
            access.name,
            _text(form, "name"),
            description=_text(form, "description"),
            performer=_who(page),
            ip=page.ctx.actor_ip,
        )
    page.flash(f"Robot {robot.name} created.")
    return page.redirect(f"/organization/{org}/robots/{robot.short_name}")


async def create_prototype(page: Page) -> Response:
    org = page.params["org"]
    access = await _admin_access(page, org)
    form = await page.form()
    with refused(page, _org_url(org, "defaults")):
        kind = form.get("delegate_kind", "user")
        delegate = _text(form, "delegate")
        if not delegate:
            raise FormError("Name the user, robot or team to grant.")
        await page.web.api.svc.permissions.create_prototype(
            access.name,
            form.get("role", "read"),
            delegate_user=delegate if kind == "user" else None,
            delegate_team=delegate if kind == "team" else None,
            activating_user=_text(form, "activating_user") or None,
            performer=_who(page),
            ip=page.ctx.actor_ip,
        )
    page.flash("Default permission added.")
    return page.redirect(_org_url(org, "defaults"))


async def delete_prototype(page: Page) -> Response:
    org = page.params["org"]
    access = await _admin_access(page, org)
    with refused(page, _org_url(org, "defaults")):
        await page.web.api.svc.permissions.delete_prototype(
            access.name,
            page.params["prototype"],
            performer=_who(page),
            ip=page.ctx.actor_ip,
        )
    page.flash("Default permission removed.")
    return page.redirect(_org_url(org, "defaults"))


async def update_settings(page: Page) -> Response:
    org = page.params["org"]
    access = await _admin_access(page, org)
    form = await page.form()
    changes: dict[str, Any] = {}
    back = _org_url(org, "settings")
    with refused(page, back):
        if "email" in form:
            changes["email"] = _text(form, "email")
        if "tag_expiration_s" in form and page.web.api.settings.api.change_tag_expiration:
            try:
                changes["tag_expiration_s"] = int(form["tag_expiration_s"])
            except ValueError as e:
                raise FormError("Choose a time machine window.") from e
        await page.web.api.svc.orgs.update(
            access.name, **changes, performer=_who(page), ip=page.ctx.actor_ip
        )
    page.flash("Settings saved.")
    return page.redirect(back)


async def delete_organization(page: Page) -> Response:
    org = page.params["org"]
    access = await _admin_access(page, org)
    form = await page.form()
    if form.get("confirm", "") != org:
        page.flash("Type the organization's name to delete it.", "danger")
        return page.redirect(_org_url(org, "settings"))
    with refused(page, _org_url(org, "settings")):
        await page.web.api.svc.orgs.delete(access.name, performer=_who(page), ip=page.ctx.actor_ip)
    page.flash(f"Organization {org} deleted.")
    return page.redirect("/repository/")


# ------------------------------------------------------------------------------- teams


async def team(page: Page) -> Response:
    org, name = page.params["org"], page.params["team"]
    access = await org_access(page.ctx, org)
    if not (access.can_view_team(name) or access.reads_all):
        raise unauthorized(page.user is not None)
    access.require_org()
    svc = page.web.api.svc
    with refused(page, _org_url(org, "teams")):
        info = await svc.teams.get(org, name)
        members = await svc.teams.members(org, name, include_pending=access.is_admin)
        permissions = (
            await svc.teams.repository_permissions(org, name) if access.may_administer else []
        )
    return page.render(
        "organization/team.html",
        org=org,
        team=info,
        members=members,
        permissions=permissions,
        can_admin=access.may_administer,
        repo_roles=REPO_ROLES,
        sync=await _sync_state(page, org, name, access),
    )


SYNCED_TEAM_MESSAGE = "Cannot call this method on an auth-synced team"


async def _sync_state(page: Page, org: str, team: str, access: OrgAccess) -> dict[str, Any] | None:
    """Team sync on the team page (FEATURE_TEAM_SYNCING with LDAP or OIDC login services):
    the group the team follows, and whether the caller may set it up or remove it (the
    rule of ``POST .../team/{team}/syncing``: superusers, or organization admins with
    FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP)."""
    teamsync = page.web.api.svc.teamsync
    if teamsync is None or teamsync.service is None:
        return None
    info = await teamsync.info(org, team)
    may_setup = access.may_administer and (
        page.web.api.settings.api.nonsuperuser_team_syncing_setup or page.caller.is_superuser
    )
    if info is None and not may_setup:
        return None
    ldap = teamsync.service == "ldap"
    return {
        "service": "LDAP" if ldap else "OpenID Connect",
        "key": "group_dn" if ldap else "group_name",
        "label": "Group DN" if ldap else "Group name",
        "base_dn": teamsync.metadata().get("base_dn") if ldap else None,
        "synced": info is not None,
        "group": (info.config.get("group_dn") or info.config.get("group_name")) if info else None,
        "last_updated": info.last_updated if info else None,
        "may_setup": may_setup,
    }


async def _refuse_if_synced(page: Page, org: str, team: str, member: str, back: str) -> None:
    """A synced team's users come from its group (robots may still join and leave), as the
    API's ``disallow_for_synced_team``."""
    teamsync = page.web.api.svc.teamsync
    if teamsync is None or "+" in member:
        return
    try:
        synced = await teamsync.is_synced(org, team)
    except IdentityError:
        return  # unknown team: the service answers
    if synced:
        page.flash(SYNCED_TEAM_MESSAGE, "danger")
        raise Redirect(back)


async def _sync_admin(page: Page, org: str) -> OrgAccess:
    access = await org_access(page.ctx, org)
    allowed = page.web.api.settings.api.nonsuperuser_team_syncing_setup or page.caller.is_superuser
    if not (allowed and access.may_administer):
        raise unauthorized(page.user is not None)
    return access.require_org()


async def enable_team_sync(page: Page) -> Response:
    """Bind the team to a group (``POST .../team/{team}/syncing``)."""
    org, name = page.params["org"], page.params["team"]
    access = await _sync_admin(page, org)
    back = f"/organization/{org}/teams/{name}"
    fresh_sign_in(page, back)
    teamsync = page.web.api.svc.teamsync
    if teamsync is None or teamsync.service is None:
        raise not_found()
    form = await page.form()
    key = "group_dn" if teamsync.service == "ldap" else "group_name"
    try:
        group = _text(form, key, limit=1024)
        await teamsync.enable(access.name, name, {key: group}, page.ctx.performer())
    except (TeamSyncError, IdentityError, FormError) as e:
        page.flash(str(e), "danger")
        return page.redirect(back)
    page.flash(f"Team {name} now follows {group}.")
    return page.redirect(back)


async def disable_team_sync(page: Page) -> Response:
    org, name = page.params["org"], page.params["team"]
    access = await _sync_admin(page, org)
    back = f"/organization/{org}/teams/{name}"
    fresh_sign_in(page, back)
    teamsync = page.web.api.svc.teamsync
    if teamsync is not None:
        with refused(page, back):
            await teamsync.disable(access.name, name, page.ctx.performer())
    page.flash("Team synchronization removed; the members stay.")
    return page.redirect(back)


async def add_team_member(page: Page) -> Response:
    org, name = page.params["org"], page.params["team"]
    access = await _admin_access(page, org)
    form = await page.form()
    back = f"/organization/{org}/teams/{name}"
    with refused(page, back):
        member = _text(form, "member")
        if not member:
            raise FormError("Name a user or robot to add.")
        await _refuse_if_synced(page, access.name, name, member, back)
        added = await page.web.api.svc.teams.add_member(
            access.name, name, member, performer=_who(page), ip=page.ctx.actor_ip
        )
    if added.invited:
        page.flash(f"{member} is invited to the team; they join when they accept.", "info")
    else:
        page.flash(f"{member} added to the team.")
    return page.redirect(back)


async def remove_team_member(page: Page) -> Response:
    org, name = page.params["org"], page.params["team"]
    access = await _admin_access(page, org)
    form = await page.form()
    back = f"/organization/{org}/teams/{name}"
    await _refuse_if_synced(page, access.name, name, _text(form, "member"), back)
    with refused(page, back):
        await page.web.api.svc.teams.remove_member(
            access.name,
            name,
            _text(form, "member"),
            performer=_who(page),
            ip=page.ctx.actor_ip,
        )
    page.flash("Member removed.")
    return page.redirect(back)


async def team_permission(page: Page) -> Response:
    org, name = page.params["org"], page.params["team"]
    await _admin_access(page, org)
    form = await page.form()
    back = f"/organization/{org}/teams/{name}"
    with refused(page, back):
        repo = await _require_repo_admin(page, org, _text(form, "repository"))
        await page.web.api.svc.permissions.set_team_permission(
            repo,
            name,
            form.get("role", "read"),
            performer=_who(page),
            ip=page.ctx.actor_ip,
        )
    page.flash(f"Team {name} has {form.get('role', 'read')} on {repo.namespace}/{repo.name}.")
    return page.redirect(back)


# ------------------------------------------------------------------------------ robots


async def robot(page: Page) -> Response:
    """A robot's description, repository permissions and, on request (``?show=token``), its
    token and credentials (the page is never cached)."""
    org, short = page.params["org"], page.params["robot"]
    access = await _admin_access(page, org)
    svc = page.web.api.svc
    show = page.query("show") == "token"
    with refused(page, _org_url(org, "robots")):
        info = await svc.robots.get(access.name, short, with_token=show)
        permissions = await svc.robots.permissions(access.name, short)
        federation = await svc.robots.federation(access.name, short)
    formats: dict[str, str] = {}
    if show and info.token is not None:
        formats = credential_formats(info.name, info.token, page.web.api.settings.server_hostname)
    return page.render(
        "organization/robot.html",
        org=org,
        robot=info,
        permissions=permissions,
        show=show,
        formats=formats,
        labels=CREDENTIAL_LABELS,
        repo_roles=REPO_ROLES,
        federation=federation,
        base_url=page.web.api.base_url,
    )


async def _set_federation(page: Page, change: Any) -> Response:
    """Replace the robot's federation entries with ``change(entries, form)`` (Quay's
    validation, as ``POST .../robots/{robot}/federation``); none left removes it."""
    org, short = page.params["org"], page.params["robot"]
    access = await _admin_access(page, org)
    back = f"/organization/{org}/robots/{short}"
    robots = page.web.api.svc.robots
    form = await page.form()
    with refused(page, back):
        try:
            entries = parse_federation(change(await robots.federation(access.name, short), form))
        except InvalidFederation as e:
            raise FormError(str(e)) from e
        if entries:
            await robots.set_federation(
                access.name, short, entries, performer=_who(page), ip=page.ctx.actor_ip
            )
        else:
            await robots.delete_federation(
                access.name, short, performer=_who(page), ip=page.ctx.actor_ip
            )
    page.flash("Federation saved." if entries else "Federation removed.")
    return page.redirect(back)


async def add_robot_federation(page: Page) -> Response:
    def add(entries: list[dict[str, str]], form: dict[str, str]) -> list[dict[str, str]]:
        issuer, subject = _text(form, "issuer", 2048), _text(form, "subject", 2048)
        return [*entries, {"issuer": issuer, "subject": subject}]

    return await _set_federation(page, add)


async def remove_robot_federation(page: Page) -> Response:
    def remove(entries: list[dict[str, str]], form: dict[str, str]) -> list[dict[str, str]]:
        gone = {"issuer": form.get("issuer", ""), "subject": form.get("subject", "")}
        return [e for e in entries if e != gone]

    return await _set_federation(page, remove)


async def regenerate_robot(page: Page) -> Response:
    org, short = page.params["org"], page.params["robot"]
    access = await _admin_access(page, org)
    back = f"/organization/{org}/robots/{short}"
    with refused(page, back):
        await page.web.api.svc.robots.regenerate(
            access.name, short, performer=_who(page), ip=page.ctx.actor_ip
        )
    page.flash("A new token was generated; the old one no longer works.", "warning")
    return page.redirect(back + "?show=token")


async def delete_robot(page: Page) -> Response:
    org, short = page.params["org"], page.params["robot"]
    access = await _admin_access(page, org)
    with refused(page, f"/organization/{org}/robots/{short}"):
        await page.web.api.svc.robots.delete(
            access.name, short, performer=_who(page), ip=page.ctx.actor_ip
        )
    page.flash("Robot deleted.")
    return page.redirect(_org_url(org, "robots"))


async def robot_permission(page: Page) -> Response:
    org, short = page.params["org"], page.params["robot"]
    access = await _admin_access(page, org)
    form = await page.form()
    back = f"/organization/{org}/robots/{short}"
    with refused(page, back):
        info = await page.web.api.svc.robots.get(access.name, short, with_token=False)
        repo = await _require_repo_admin(page, org, _text(form, "repository"))
        role = form.get("role", "read")
        if role == "none":
            await page.web.api.svc.permissions.delete_user_permission(
                repo, info.name, performer=_who(page), ip=page.ctx.actor_ip
            )
        else:
            await page.web.api.svc.permissions.set_user_permission(
                repo, info.name, role, performer=_who(page), ip=page.ctx.actor_ip
            )
    page.flash(f"Permission on {repo.namespace}/{repo.name} saved.")
    return page.redirect(back)


# ------------------------------------------------------------------- OAuth applications


async def _application(page: Page) -> tuple[OrgAccess, Application]:
    access = await _admin_access(page, page.params["org"])
    try:
        app = await page.web.api.oauth.get_application(page.params["client_id"])
    except ApplicationNotFound as e:
        raise not_found() from e
    if app.namespace != access.name:
        raise not_found()
    return access, app


def _app_fields(form: dict[str, str]) -> dict[str, Any]:
    return {
        "redirect_uri": _text(form, "redirect_uri", MAX_TEXT),
        "application_uri": _text(form, "application_uri", MAX_TEXT),
        "description": _text(form, "description", MAX_TEXT),
        "avatar_email": _text(form, "avatar_email") or None,
    }


async def create_application(page: Page) -> Response:
    org = page.params["org"]
    access = await _admin_access(page, org)
    form = await page.form()
    with refused(page, _org_url(org, "applications")):
        name = _text(form, "name")
        if not name:
            raise FormError("An application needs a name.")
        app = await page.web.api.oauth.create_application(
            access.name, name, **_app_fields(form), performer=page.ctx.performer()
        )
    page.flash(f"Application {app.name} created.")
    return page.redirect(f"/organization/{org}/applications/{app.client_id}")


async def application(page: Page) -> Response:
    """The application's details; its client secret on request (``?show=secret``)."""
    _access, app = await _application(page)
    return page.render(
        "organization/application.html",
        org=app.namespace,
        app=app,
        show_secret=page.query("show") == "secret",
        scopes=SCOPES,
        token=None,
    )


async def update_application(page: Page) -> Response:
    _access, app = await _application(page)
    form = await page.form()
    back = f"/organization/{app.namespace}/applications/{app.client_id}"
    with refused(page, back):
        name = _text(form, "name")
        if not name:
            raise FormError("An application needs a name.")
        await page.web.api.oauth.update_application(
            app.client_id, name=name, **_app_fields(form), performer=page.ctx.performer()
        )
    page.flash("Application saved.")
    return page.redirect(back)


async def reset_application_secret(page: Page) -> Response:
    _access, app = await _application(page)
    await page.web.api.oauth.reset_client_secret(app.client_id, performer=page.ctx.performer())
    page.flash("A new client secret was generated; the old one no longer works.", "warning")
    return page.redirect(f"/organization/{app.namespace}/applications/{app.client_id}?show=secret")


async def delete_application(page: Page) -> Response:
    _access, app = await _application(page)
    await page.web.api.oauth.delete_application(app.client_id, performer=page.ctx.performer())
    page.flash(f"Application {app.name} deleted.")
    return page.redirect(_org_url(app.namespace, "applications"))


async def generate_token(page: Page) -> Response:
    """Quay's "Generate Token": an access token of this application for the caller, with
    the scopes ticked, as ``POST /oauth/authorizeapp`` issues it (the caller must administer
    the application's namespace; ten years). Shown once, on a page never cached."""
    access, app = await _application(page)
    user = page.require_user()
    form = await page.form()
    scopes = frozenset(s for s in SCOPES if form.get(f"scope:{s}") == "on")
    if not scopes:
        page.flash("Tick at least one scope.", "danger")
        return page.redirect(f"/organization/{app.namespace}/applications/{app.client_id}")
    if not await page.web.api.is_namespace_admin(user, access.name):
        raise forbidden()
    issued = await page.web.api.oauth.issue_token(app, user.id, scopes, IMPLICIT_TOKEN_TTL_S)
    return page.render(
        "organization/application.html",
        org=app.namespace,
        app=app,
        show_secret=False,
        scopes=SCOPES,
        token=issued.token,
        token_scopes=sorted(scopes),
    )


def routes(web: WebApp) -> list[WebRoute]:
    post = ("POST",)
    org = "/organization/{org}"
    return [
        WebRoute("/organization/", organization_list),
        WebRoute("/organizations/new", new_organization),
        WebRoute("/organizations/new", new_organization_post, methods=post),
        WebRoute(org, organization),
        WebRoute(org + "/teams", create_team, methods=post),
        WebRoute(org + "/teams/{team}", team),
        WebRoute(org + "/teams/{team}/members", add_team_member, methods=post),
        WebRoute(org + "/teams/{team}/members/remove", remove_team_member, methods=post),
        WebRoute(org + "/teams/{team}/permissions", team_permission, methods=post),
        WebRoute(org + "/teams/{team}/sync", enable_team_sync, methods=post),
        WebRoute(org + "/teams/{team}/sync/remove", disable_team_sync, methods=post),
        WebRoute(org + "/robots", create_robot, methods=post),
        WebRoute(org + "/robots/{robot}", robot, no_store=True),
        WebRoute(org + "/robots/{robot}/regenerate", regenerate_robot, methods=post),
        WebRoute(org + "/robots/{robot}/delete", delete_robot, methods=post),
        WebRoute(org + "/robots/{robot}/permissions", robot_permission, methods=post),
        WebRoute(org + "/robots/{robot}/federation", add_robot_federation, methods=post),
        WebRoute(org + "/robots/{robot}/federation/remove", remove_robot_federation, methods=post),
        WebRoute(org + "/prototypes", create_prototype, methods=post),
        WebRoute(org + "/prototypes/{prototype}/delete", delete_prototype, methods=post),
        WebRoute(org + "/applications", create_application, methods=post),
        WebRoute(org + "/applications/{client_id}", application, no_store=True),
        WebRoute(org + "/applications/{client_id}", update_application, methods=post),
        WebRoute(org + "/applications/{client_id}/reset", reset_application_secret, methods=post),
        WebRoute(org + "/applications/{client_id}/delete", delete_application, methods=post),
        WebRoute(
            org + "/applications/{client_id}/token", generate_token, methods=post, no_store=True
        ),
        WebRoute(org + "/settings", update_settings, methods=post),
        WebRoute(org + "/delete", delete_organization, methods=post),
    ]
