"""Who may call what on /api/v1: every route x every kind of caller, from ONE table.

``ENDPOINTS`` has a row for every route of the app's route table (a route without a row, or
a row without a route, fails ``test_every_route_has_a_row``). A row names the request and
the RULE deciding who passes, after Quay's decorators (quay-api.md 2.2-2.4):

  anyone        no check (anonymous writes still need CSRF, like every write without OAuth)
  user(scope)   the caller's own account, through a token holding ``scope``
  superuser     in SUPER_USERS and a token with ``super:user``
  repo(role)    that role on the private acme/app, capped by the repo:* scopes; superusers
                with FEATURE_SUPERUSERS_FULL_ACCESS
  org(role)     that team role in acme (member < creator < admin), capped by the scopes
                (org:admin -> admin, repo:create -> creator, else none); superusers with
                full access
  team_view     member of team ``devs``, or org admin
  nobody        no API caller passes (a browser session only)

A global read-only superuser (GLOBAL_READONLY_SUPER_USERS, with ``super:user``) passes every
GET but the ``nobody`` rows (Quay's allow_for_global_readonly_superuser), and any other
request only as its own roles allow (it is ``bob``, the unrelated user).

plus the status a caller who passes gets. ``CALLERS`` lists the callers (their accounts and
roles are those of tests/integration/identity_scenario.py, extended below). Every cell's
expected status follows from the two tables: the row's status when the rule passes, else
401 for an anonymous GET, 403 ``CSRF token was invalid or missing`` for any write without an
OAuth token, and 403 ``insufficient_scope`` for an authenticated caller; ``QUIRKS`` lists
the few cells where Quay answers otherwise. Robots have no OAuth tokens, so on /api/v1 they
are anonymous whatever they send (Basic is ignored; their token is no bearer).

Each caller is one test (fresh scenario) that sends every row in phase order (reads, writes,
then deletes from leaf to organization) and reports every wrong cell at once. Both
deployments; superusers with and without FEATURE_SUPERUSERS_FULL_ACCESS.

The second half of the file checks the credentials themselves (expired, revoked, disabled,
forged), on /api/v1 and on the registry token endpoint.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from berth.builds.types import BuildContext
from berth.config import QuayConfig, load_settings
from berth.http.app import create_app
from berth.identity.models import User
from berth.oauth.services import OAuthService
from tests.conftest import embedded_config, write_config
from tests.integration.api.conftest import ALL_SCOPES, api_of, bearer, oauth_token, sign_in
from tests.integration.conftest import PASSWORDS, Berth, assert_error, token_access
from tests.integration.identity_scenario import APP, PASSWORD, Scenario, add_users, build

SCOPES = ALL_SCOPES.split()
CSRF_ERROR = {"error": "CSRF token was invalid or missing."}
MATRIX_CONFIG = {  # the flags behind routes that have rows
    "FEATURE_USER_INITIALIZE": True,
    "FEATURE_REPO_MIRROR": True,
    "FEATURE_AUTO_PRUNE": True,
    "FEATURE_IMMUTABLE_TAGS": True,
    "FEATURE_QUOTA_MANAGEMENT": True,
    "FEATURE_IMAGE_PULL_STATS": True,
    "FEATURE_TEAM_SYNCING": True,
    "FEATURE_SUPERUSER_CONFIGDUMP": True,
    "FEATURE_MAILING": True,  # recovery, authorized e-mails, invitations' confirmation link
    "FEATURE_REQUIRE_TEAM_INVITE": False,  # ... while team members still join at once
    "FEATURE_QUOTA_NOTIFICATIONS": True,
    "FEATURE_PROXY_CACHE": True,
    "FEATURE_SECURITY_SCANNER": True,
}
# what the scenario's policies say (the POST rows add others, the PUT rows change them); none
# makes the tags the other rows touch (copy, old) immutable
POLICIES = {
    "autoprunepolicy": {"method": "number_of_tags", "value": 5},
    "immutabilitypolicy": {"tagPattern": "^release-.*", "tagPatternMatches": True},
}
NEW_POLICIES = {
    "autoprunepolicy": {"method": "creation_date", "value": "7d"},
    "immutabilitypolicy": {"tagPattern": "^matrix-.*", "tagPatternMatches": True},
}
CHANGED_POLICIES = {
    "autoprunepolicy": {"method": "number_of_tags", "value": 6},
    "immutabilitypolicy": {"tagPattern": "^release-[0-9].*", "tagPatternMatches": True},
}
RANK = {None: 0, "member": 1, "read": 1, "creator": 2, "write": 2, "admin": 3}
_IMPLIED = {"repo:admin": ("repo:write", "repo:read"), "repo:write": ("repo:read",)}
_IMPLIED |= {"user:admin": ("user:read",)}

# ------------------------------------------------------------------------------- callers


@dataclass(frozen=True)
class Caller:
    """Who calls: an account (None: nobody), how it authenticates, and the server's flag."""

    user: str | None
    scopes: str | None = ALL_SCOPES  # the OAuth token's scopes; None: no token
    how: str = "bearer"  # bearer | none | robot-basic | robot-bearer
    full_access: bool = False  # FEATURE_SUPERUSERS_FULL_ACCESS on the server
    readonly: bool = False  # the account is in GLOBAL_READONLY_SUPER_USERS on the server


REPO_ROLE = {"reader": "read", "writer": "write", "repoadmin": "admin", "member": "write"}
REPO_ROLE |= {"orgadmin": "admin"}  # on acme/app (member through team devs)
ORG_ROLE = {"member": "member", "creator": "creator", "orgadmin": "admin"}  # in acme
SUPERUSERS = {"root"}

CALLERS: dict[str, Caller] = {
    "anonymous": Caller(None, None, "none"),
    "robot with read (Basic)": Caller("acme+reader", None, "robot-basic"),
    "robot with write (Basic)": Caller("acme+writer", None, "robot-basic"),
    "robot (token as bearer)": Caller("acme+writer", None, "robot-bearer"),
    "unrelated user": Caller("bob"),
    "repo read": Caller("reader"),
    "repo write": Caller("writer"),
    "repo admin": Caller("repoadmin"),
    "team member": Caller("member"),
    "team creator": Caller("creator"),
    "org admin": Caller("orgadmin"),
    **{f"org admin, {s} only": Caller("orgadmin", s) for s in SCOPES},
    "superuser": Caller("root"),
    "superuser, full access": Caller("root", full_access=True),
    "superuser, no super:user scope": Caller(
        "root", " ".join(s for s in SCOPES if s != "super:user"), full_access=True
    ),
    "global read-only superuser": Caller("bob", readonly=True),
    "global read-only superuser, no super:user scope": Caller(
        "bob", " ".join(s for s in SCOPES if s != "super:user"), readonly=True
    ),
}


@dataclass(frozen=True)
class Facts:
    """What the rules look at, derived from a caller and the scenario's roles."""

    user: str | None
    scopes: frozenset[str]
    full_access: bool
    readonly: bool = False

    @classmethod
    def of(cls, caller: Caller) -> Facts:
        if caller.how != "bearer":  # robots and nobody: anonymous on /api/v1
            return cls(None, frozenset(), caller.full_access)
        scopes = set((caller.scopes or "").split())
        for s in list(scopes):
            scopes |= set(_IMPLIED.get(s, ()))
        return cls(caller.user, frozenset(scopes), caller.full_access, caller.readonly)

    @property
    def reads_everything(self) -> bool:
        """A global read-only superuser with ``super:user``: every GET passes."""
        return self.readonly and self.has("super:user")

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def superuser(self) -> bool:
        return self.user in SUPERUSERS and self.has("super:user")

    @property
    def bypass(self) -> bool:
        """FEATURE_SUPERUSERS_FULL_ACCESS: superusers pass namespace and repository checks."""
        return self.superuser and self.full_access

    def repo_role(self) -> str | None:
        held = [s for s in ("repo:admin", "repo:write", "repo:read") if self.has(s)]
        cap = held[0].removeprefix("repo:") if held else None
        role = REPO_ROLE.get(self.user or "")
        return role if RANK[role] <= RANK[cap] else cap

    def org_role(self) -> str | None:
        cap = "admin" if self.has("org:admin") else "creator" if self.has("repo:create") else None
        role = ORG_ROLE.get(self.user or "")
        return role if RANK[role] <= RANK[cap] else cap


# --------------------------------------------------------------------------------- rules

Rule = Callable[[Facts], bool]


def anyone(f: Facts) -> bool:
    return True


def nobody(f: Facts) -> bool:
    return False


def user(scope: str) -> Rule:
    def rule(f: Facts) -> bool:
        return f.user is not None and f.has(scope)

    rule.__name__ = f"user({scope})"
    return rule


def superuser(f: Facts) -> bool:
    return f.superuser


def repo(role: str) -> Rule:
    def rule(f: Facts) -> bool:
        return RANK[f.repo_role()] >= RANK[role] or f.bypass

    rule.__name__ = f"repo({role})"
    return rule


def org(role: str) -> Rule:
    def rule(f: Facts) -> bool:
        return RANK[f.org_role()] >= RANK[role] or f.bypass

    rule.__name__ = f"org({role})"
    return rule


def team_view(f: Facts) -> bool:
    """ViewTeamPermission on ``devs``: its members (role capped) or org admins."""
    return (f.user == "member" and f.org_role() is not None) or org("admin")(f)


def full_access(f: Facts) -> bool:
    """Quota writes (Quay 3.16+): a superuser with FEATURE_SUPERUSERS_FULL_ACCESS."""
    return f.bypass


def signed_in(f: Facts) -> bool:
    """Any account, whatever the token's scopes (checked by the handler)."""
    return f.user is not None


def both(a: Rule, b: Rule) -> Rule:
    def rule(f: Facts) -> bool:
        return a(f) and b(f)

    rule.__name__ = f"{a.__name__}+{b.__name__}"
    return rule


# ------------------------------------------------------------------------------ endpoints

READ, WRITE, DELETE, DELETE_REPO, DELETE_ORG, DELETE_SELF = range(6)


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # as in the route table (``{param}`` names are not compared)
    rule: Rule
    status: int | tuple[int, ...]  # what a caller the rule lets through gets
    url: str = ""  # the request path (``{me}`` ... from the scenario); default: ``path``
    body: Any = None
    form: dict[str, str] | None = None
    phase: int = READ
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.method} {route_key(self.path)}"

    @property
    def prefix(self) -> str:
        """Routes outside Quay's API blueprint are spelled with their full path."""
        return "" if self.path.startswith(WEB_PATHS) else "/api/v1"

    @property
    def checks_csrf(self) -> bool:
        return self.prefix + self.path not in NO_CSRF


WEB_PATHS = ("/csrf_token", "/oauth/", "/oauth2/", "/exportedlogs/", "/.well-known/")
WEB_PATHS += ("/authrepoemail", "/confirminvite")
# outside the API blueprint (no CSRF, no OAuth); authorizeapp wants a session first (401)
NO_CSRF = {"/api/v1/user/initialize", "/csrf_token", "/oauth/authorizeapp", "/oauth/localapp"}
NO_CSRF |= {"/oauth/authorize/assignuser", "/oauth2/federation/robot/token"}
NO_CSRF |= {"/api/v1/filedrop/{file_id}"}


def route_key(path: str) -> str:
    """``METHOD path`` with parameter names blanked (``{orgname}`` and ``{org}`` compare equal)."""
    return re.sub(r"\{[^}]+\}", "{}", path.removeprefix("/api/v1"))


def row(method: str, path: str, rule: Rule, status: int | tuple[int, ...], **kw: Any) -> Row:
    if "phase" not in kw:
        kw["phase"] = READ if method == "GET" else DELETE if method == "DELETE" else WRITE
    return Row(method, path, rule, status, **kw)


R = "/repository/{repository}"


APP_URL = "/repository/acme/app"
MANIFEST = APP_URL + "/manifest/{app_digest}"
URL_OF = {"organization": "/organization/acme", "repository": APP_URL, "user": "/user"}
ACME = "/organization/{orgname}"
U_ADMIN = user("user:admin")


def policy_rows(owner: str, base: str, kind: str, rule: Rule) -> list[Row]:
    """The five routes of one policy resource (Quay's statuses: 201 create, 204 update,
    200 delete with the uuid)."""
    collection, url = f"{base}/{kind}/", f"{URL_OF[owner]}/{kind}/"
    item = f"{url}{{{owner}_{kind}}}"  # the scenario's policy (the caller's own for users)
    return [
        row("GET", collection, rule, 200, url=url),
        row("POST", collection, rule, 201, url=url, body=NEW_POLICIES[kind]),
        row("GET", collection + "{uuid}", rule, 200, url=item),
        row("PUT", collection + "{uuid}", rule, 204, url=item, body=CHANGED_POLICIES[kind]),
        row("DELETE", collection + "{uuid}", rule, 200, url=item),
    ]


ENDPOINTS: list[Row] = [
    # --- current user, sign-in, other users
    row("GET", "/user/", user("user:read"), 200, note="401 for any caller lacking user:read"),
    row("PUT", "/user/", U_ADMIN, 200, body={"company": "Matrix Inc"}),
    row("DELETE", "/user/", U_ADMIN, 204, phase=DELETE_SELF),
    row("POST", "/user/", anyone, 200, body={"username": "newcomer", "password": "newcomer-pw-1"}),
    row("POST", "/user/initialize", anyone, 400, body={"username": "x", "password": "x" * 8}),
    row("POST", "/signin", anyone, 200, body={"username": "alice", "password": PASSWORDS["alice"]}),
    row("POST", "/user/clientkey", U_ADMIN, 200, body={"password": "{password}"}),
    row("POST", "/signout", anyone, 200),  # OAuth tokens outlive it
    row("GET", "/users/{username}", anyone, 200, url="/users/alice"),
    # --- app-specific tokens (of the caller)
    row("GET", "/user/apptoken", U_ADMIN, 200),
    row("POST", "/user/apptoken", U_ADMIN, 200, body={"title": "matrix"}),
    row("GET", "/user/apptoken/{token_uuid}", U_ADMIN, 200, url="/user/apptoken/{apptoken}"),
    row("DELETE", "/user/apptoken/{token_uuid}", U_ADMIN, 204, url="/user/apptoken/{apptoken}"),
    # --- superuser panel
    row("GET", "/superuser/users/", superuser, 200),
    row("POST", "/superuser/users/", superuser, 200, body={"username": "newbie"}),
    row("GET", "/superuser/users/{username}", superuser, 200, url="/superuser/users/alice"),
    row(
        "PUT",
        "/superuser/users/{username}",
        superuser,
        200,
        url="/superuser/users/alice",
        body={"email": "alice-new@example.com"},
    ),
    row("DELETE", "/superuser/users/{username}", superuser, 204, url="/superuser/users/doomed"),
    # --- documentation, errors, web routes outside the API blueprint
    row("GET", "/discovery", anyone, 200),
    row("GET", "/error/{error_type}", anyone, 200, url="/error/invalid_token"),
    row("GET", "/csrf_token", anyone, 200),
    row("GET", "/oauth/localapp", anyone, 200),
    row(
        "POST",
        "/oauth/authorizeapp",
        nobody,
        200,
        form={"client_id": "{client_id}", "response_type": "token", "scope": "repo:read"},
        note="a browser session only: no API caller passes (401)",
    ),
    # --- organizations, members, applications
    row(
        "POST",
        "/organization/",
        U_ADMIN,
        201,
        body={"name": "neworg", "email": "neworg@example.com"},
    ),
    row("GET", ACME, anyone, 200, url="/organization/acme"),
    row(
        "PUT", ACME, org("admin"), 200, url="/organization/acme", body={"tag_expiration_s": 1209600}
    ),
    row("DELETE", ACME, org("admin"), 204, url="/organization/acme", phase=DELETE_ORG),
    row("GET", f"{ACME}/members", org("admin"), 200, url="/organization/acme/members"),
    row(
        "GET",
        f"{ACME}/members/{{membername}}",
        org("admin"),
        200,
        url="/organization/acme/members/member",
    ),
    row(
        "DELETE",
        f"{ACME}/members/{{membername}}",
        org("admin"),
        204,
        url="/organization/acme/members/carol",
    ),
    row("GET", f"{ACME}/applications", org("admin"), 200, url="/organization/acme/applications"),
    row(
        "POST",
        f"{ACME}/applications",
        org("admin"),
        200,
        url="/organization/acme/applications",
        body={"name": "another"},
    ),
    row(
        "GET",
        f"{ACME}/applications/{{client_id}}",
        org("admin"),
        200,
        url="/organization/acme/applications/{client_id}",
    ),
    row(
        "PUT",
        f"{ACME}/applications/{{client_id}}",
        org("admin"),
        200,
        url="/organization/acme/applications/{client_id}",
        body={"name": "matrixapp", "redirect_uri": "", "application_uri": ""},
    ),
    row(
        "DELETE",
        f"{ACME}/applications/{{client_id}}",
        org("admin"),
        204,
        url="/organization/acme/applications/{client_id}",
    ),
    row(
        "GET",
        f"{ACME}/collaborators",
        org("admin"),
        200,
        url="/organization/acme/collaborators",
    ),
    row("GET", "/app/{client_id}", anyone, 200, url="/app/{client_id}"),
    row(
        "POST",
        f"{ACME}/applications/{{client_id}}/resetclientsecret",
        org("admin"),
        200,
        url="/organization/acme/applications/{client_id}/resetclientsecret",
    ),
    # --- teams
    row(
        "PUT",
        f"{ACME}/team/{{teamname}}",
        org("admin"),
        200,
        url="/organization/acme/team/spare",
        body={"role": "member", "description": "spare"},
    ),
    row(
        "DELETE",
        f"{ACME}/team/{{teamname}}",
        org("admin"),
        204,
        url="/organization/acme/team/doomedteam",
    ),
    row(
        "GET",
        f"{ACME}/team/{{teamname}}/members",
        team_view,
        200,
        url="/organization/acme/team/devs/members",
    ),
    row(
        "PUT",
        f"{ACME}/team/{{teamname}}/members/{{membername}}",
        org("admin"),
        200,
        url="/organization/acme/team/spare/members/acme+reader",
    ),
    row(
        "DELETE",
        f"{ACME}/team/{{teamname}}/members/{{membername}}",
        org("admin"),
        204,
        url="/organization/acme/team/spare/members/dave",
    ),
    row(
        "GET",
        f"{ACME}/team/{{teamname}}/permissions",
        org("admin"),
        200,
        url="/organization/acme/team/devs/permissions",
    ),
    row(
        "PUT",
        f"{ACME}/team/{{teamname}}/invite/{{email}}",
        org("admin"),
        200,
        url="/organization/acme/team/spare/invite/someone@example.com",
    ),
    row(
        "DELETE",
        f"{ACME}/team/{{teamname}}/invite/{{email}}",
        org("admin"),
        204,
        url="/organization/acme/team/spare/invite/someone@example.com",
        note="the invite the PUT row made",
    ),
    row("PUT", "/teaminvite/{code}", U_ADMIN, (400, 404), url="/teaminvite/not-a-code"),
    row("DELETE", "/teaminvite/{code}", U_ADMIN, (400, 404), url="/teaminvite/not-a-code"),
    # --- robots
    row("GET", "/user/robots", U_ADMIN, 200),
    row("GET", "/user/robots/{robot_shortname}", U_ADMIN, 200, url="/user/robots/mine"),
    row("PUT", "/user/robots/{robot_shortname}", U_ADMIN, 201, url="/user/robots/fresh", body={}),
    row("DELETE", "/user/robots/{robot_shortname}", U_ADMIN, 204, url="/user/robots/fresh"),
    row(
        "GET",
        "/user/robots/{robot_shortname}/permissions",
        U_ADMIN,
        200,
        url="/user/robots/mine/permissions",
    ),
    row(
        "POST",
        "/user/robots/{robot_shortname}/regenerate",
        U_ADMIN,
        200,
        url="/user/robots/mine/regenerate",
    ),
    row("GET", f"{ACME}/robots", org("member"), 200, url="/organization/acme/robots"),
    row(
        "GET",
        f"{ACME}/robots/{{robot_shortname}}",
        org("admin"),
        200,
        url="/organization/acme/robots/reader",
    ),
    row(
        "PUT",
        f"{ACME}/robots/{{robot_shortname}}",
        org("admin"),
        201,
        url="/organization/acme/robots/fresh",
        body={"description": "made by the matrix"},
    ),
    row(
        "DELETE",
        f"{ACME}/robots/{{robot_shortname}}",
        org("admin"),
        204,
        url="/organization/acme/robots/spare",
    ),
    row(
        "GET",
        f"{ACME}/robots/{{robot_shortname}}/permissions",
        both(U_ADMIN, org("admin")),
        200,
        url="/organization/acme/robots/reader/permissions",
    ),
    row(
        "GET",
        "/user/robots/{robot_shortname}/credentials",
        U_ADMIN,
        200,
        url="/user/robots/mine/credentials",
        note="Berth: the credential formats the UI offers",
    ),
    row(
        "GET",
        f"{ACME}/robots/{{robot_shortname}}/credentials",
        org("admin"),
        200,
        url="/organization/acme/robots/reader/credentials",
        note="Berth: the credential formats the UI offers",
    ),
    row(
        "POST",
        f"{ACME}/robots/{{robot_shortname}}/regenerate",
        org("admin"),
        200,
        url="/organization/acme/robots/spare/regenerate",
    ),
    # --- default permissions
    row("GET", f"{ACME}/prototypes", org("admin"), 200, url="/organization/acme/prototypes"),
    row(
        "POST",
        f"{ACME}/prototypes",
        org("admin"),
        200,
        url="/organization/acme/prototypes",
        body={"role": "read", "delegate": {"name": "devs", "kind": "team"}},
    ),
    row(
        "PUT",
        f"{ACME}/prototypes/{{prototypeid}}",
        org("admin"),
        200,
        url="/organization/acme/prototypes/{prototype}",
        body={"role": "write"},
    ),
    row(
        "DELETE",
        f"{ACME}/prototypes/{{prototypeid}}",
        org("admin"),
        204,
        url="/organization/acme/prototypes/{prototype}",
    ),
    # --- repositories
    row(
        "POST",
        "/repository",
        org("creator"),
        201,
        body={
            "namespace": "acme",
            "repository": "fresh",
            "visibility": "private",
            "description": "",
        },
    ),
    row("GET", "/repository", anyone, 200, url="/repository?namespace=acme"),
    row("GET", R, repo("read"), 200, url=APP_URL),
    row("PUT", R, repo("write"), 200, url=APP_URL, body={"description": "m"}),
    row("DELETE", R, repo("admin"), 204, url=APP_URL, phase=DELETE_REPO),
    row(
        "POST",
        f"{R}/changevisibility",
        repo("admin"),
        200,
        url=f"{APP_URL}/changevisibility",
        body={"visibility": "private"},
    ),
    row(
        "PUT",
        f"{R}/changestate",
        repo("admin"),
        200,
        url=f"{APP_URL}/changestate",
        body={"state": "NORMAL"},
    ),
    # --- repository mirroring (no configuration on acme/app: what passes the admin check
    # is 404, and a create naming an unknown robot 400; tests/e2e/test_mirroring.py syncs)
    row("GET", f"{R}/mirror", repo("admin"), 404, url=f"{APP_URL}/mirror"),
    row(
        "POST",
        f"{R}/mirror",
        repo("admin"),
        400,
        url=f"{APP_URL}/mirror",
        body={
            "external_reference": "registry.example/team/app",
            "sync_interval": 60,
            "sync_start_date": "2099-01-01T00:00:00Z",
            "robot_username": "acme+nobody",
            "root_rule": {"rule_kind": "tag_glob_csv", "rule_value": ["*"]},
            "skopeo_timeout_interval": 10,
        },
    ),
    row("PUT", f"{R}/mirror", repo("admin"), 404, url=f"{APP_URL}/mirror", body={}),
    row("POST", f"{R}/mirror/sync-now", repo("admin"), 404, url=f"{APP_URL}/mirror/sync-now"),
    row(
        "POST",
        f"{R}/mirror/sync-cancel",
        repo("admin"),
        404,
        url=f"{APP_URL}/mirror/sync-cancel",
    ),
    row("GET", "/user/starred", U_ADMIN, 200),
    row("POST", "/user/starred", U_ADMIN, 201, body={"namespace": "acme", "repository": "pub"}),
    row("DELETE", "/user/starred/{repository}", U_ADMIN, 204, url="/user/starred/acme/pub"),
    # --- repository permissions
    row("GET", f"{R}/permissions/user/", repo("admin"), 200, url=f"{APP_URL}/permissions/user/"),
    row("GET", f"{R}/permissions/team/", repo("admin"), 200, url=f"{APP_URL}/permissions/team/"),
    row(
        "GET",
        f"{R}/permissions/user/{{username}}",
        repo("admin"),
        200,
        url=f"{APP_URL}/permissions/user/alice",
    ),
    row(
        "GET",
        f"{R}/permissions/user/{{username}}/transitive",
        repo("admin"),
        200,
        url=f"{APP_URL}/permissions/user/alice/transitive",
    ),
    row(
        "PUT",
        f"{R}/permissions/user/{{username}}",
        repo("admin"),
        200,
        url=f"{APP_URL}/permissions/user/alice",
        body={"role": "read"},
    ),
    row(
        "DELETE",
        f"{R}/permissions/user/{{username}}",
        repo("admin"),
        204,
        url=f"{APP_URL}/permissions/user/alice",
    ),
    row(
        "GET",
        f"{R}/permissions/team/{{teamname}}",
        repo("admin"),
        200,
        url=f"{APP_URL}/permissions/team/devs",
    ),
    row(
        "PUT",
        f"{R}/permissions/team/{{teamname}}",
        repo("admin"),
        200,
        url=f"{APP_URL}/permissions/team/spare",
        body={"role": "read"},
    ),
    row(
        "DELETE",
        f"{R}/permissions/team/{{teamname}}",
        repo("admin"),
        204,
        url=f"{APP_URL}/permissions/team/spare",
    ),
    # --- tags
    row("GET", f"{R}/tag/", repo("read"), 200, url=f"{APP_URL}/tag/"),
    row(
        "PUT",
        f"{R}/tag/{{tag}}",
        repo("write"),
        201,
        url=f"{APP_URL}/tag/copy",
        body={"manifest_digest": "{app_digest}"},
    ),
    row("DELETE", f"{R}/tag/{{tag}}", repo("write"), 204, url=f"{APP_URL}/tag/copy"),
    row(
        "POST",
        f"{R}/tag/{{tag}}/restore",
        repo("write"),
        200,
        url=f"{APP_URL}/tag/old/restore",
        body={"manifest_digest": "{old_digest}"},
    ),
    # --- manifests and labels
    row("GET", f"{R}/manifest/{{manifestref}}", repo("read"), 200, url=f"{MANIFEST}"),
    row("GET", f"{R}/manifest/{{manifestref}}/labels", repo("read"), 200, url=f"{MANIFEST}/labels"),
    row(
        "POST",
        f"{R}/manifest/{{manifestref}}/labels",
        repo("write"),
        201,
        url=f"{MANIFEST}/labels",
        body={"key": "matrix", "value": "yes", "media_type": "text/plain"},
    ),
    row(
        "GET",
        f"{R}/manifest/{{manifestref}}/labels/{{labelid}}",
        repo("read"),
        200,
        url=f"{MANIFEST}/labels/{{label}}",
    ),
    row(
        "DELETE",
        f"{R}/manifest/{{manifestref}}/labels/{{labelid}}",
        repo("write"),
        204,
        url=f"{MANIFEST}/labels/{{label}}",
    ),
    # --- auto-prune and immutability policies
    *(
        policy_row
        for owner, base, rule in (
            ("organization", ACME, org("admin")),
            ("repository", R, repo("admin")),
            ("user", "/user", U_ADMIN),
        )
        for kind in POLICIES
        if (owner, kind) != ("user", "immutabilitypolicy")
        for policy_row in policy_rows(owner, base, kind, rule)
    ),
    # --- usage logs (berth.usagelogs): the export's job reports to an unresolvable host
    *(
        log_row
        for base, url, rule in (
            (R, APP_URL, repo("admin")),
            (ACME, "/organization/acme", org("admin")),
            ("/user", "/user", U_ADMIN),
        )
        for log_row in (
            row("GET", f"{base}/logs", rule, 200, url=f"{url}/logs"),
            row("GET", f"{base}/aggregatelogs", rule, 200, url=f"{url}/aggregatelogs"),
            row(
                "POST",
                f"{base}/exportlogs",
                rule,
                200,
                url=f"{url}/exportlogs",
                body={"callback_url": "https://callback.invalid/"},
            ),
        )
    ),
    row("GET", "/superuser/logs", superuser, 200),
    row("GET", "/superuser/aggregatelogs", superuser, 200),
    row("GET", "/exportedlogs/{token}", anyone, 404, url="/exportedlogs/not-a-token"),
    # --- Dockerfile builds (FEATURE_BUILD_SUPPORT, on by default); the scenario's build may
    # have run (and failed: no registry at the test's hostname) before the cancel row
    row("GET", f"{R}/build/", repo("read"), 200, url=f"{APP_URL}/build/"),
    row(
        "POST",
        f"{R}/build/",
        repo("write"),
        201,
        url=f"{APP_URL}/build/",
        body={"file_id": "{build_file}", "docker_tags": ["matrix"]},
    ),
    row("GET", f"{R}/build/{{build_uuid}}", repo("read"), 200, url=f"{APP_URL}/build/{{build}}"),
    row(
        "GET",
        f"{R}/build/{{build_uuid}}/status",
        repo("read"),
        200,
        url=f"{APP_URL}/build/{{build}}/status",
    ),
    row(
        "GET",
        f"{R}/build/{{build_uuid}}/logs",
        repo("write"),
        200,
        url=f"{APP_URL}/build/{{build}}/logs",
        note="readers too with FEATURE_READER_BUILD_LOGS",
    ),
    row(
        "DELETE",
        f"{R}/build/{{build_uuid}}",
        repo("admin"),
        (201, 400),
        url=f"{APP_URL}/build/{{build}}",
    ),
    # --- build triggers (repository admins; the webhook's credential is the trigger's token,
    # tests/integration/api/test_build_triggers.py)
    row("GET", f"{R}/trigger/", repo("admin"), 200, url=f"{APP_URL}/trigger/"),
    row(
        "GET", f"{R}/trigger/{{trigger_uuid}}", repo("admin"), 200,
        url=f"{APP_URL}/trigger/{{trigger}}",
    ),
    row(
        "PUT", f"{R}/trigger/{{trigger_uuid}}", repo("admin"), 200,
        url=f"{APP_URL}/trigger/{{trigger}}", body={"enabled": True},
    ),
    row(
        "POST", f"{R}/trigger/{{trigger_uuid}}/activate", repo("admin"), 200,
        url=f"{APP_URL}/trigger/{{trigger_new}}/activate",
        body={"config": {"build_source": "https://git.example.com/app.git"}},
    ),
    row(
        "POST", f"{R}/trigger/{{trigger_uuid}}/analyze", repo("admin"), 200,
        url=f"{APP_URL}/trigger/{{trigger}}/analyze",
        body={"config": {"build_source": "https://git.example.com/app.git"}},
    ),
    row(
        "POST", f"{R}/trigger/{{trigger_uuid}}/start", repo("admin"), 201,
        url=f"{APP_URL}/trigger/{{trigger}}/start", body={"commit_sha": "abcdef1"},
    ),
    row(
        "GET", f"{R}/trigger/{{trigger_uuid}}/builds", repo("admin"), 200,
        url=f"{APP_URL}/trigger/{{trigger}}/builds",
    ),
    row(
        "DELETE", f"{R}/trigger/{{trigger_uuid}}", repo("admin"), 204,
        url=f"{APP_URL}/trigger/{{trigger_doomed}}",
    ),
    row("POST", "/filedrop/", user("repo:write"), 200, body={"mimeType": "application/x-tar"}),
    *(
        row(
            "GET",
            f"/superuser/{{build_uuid}}/{tail}",
            superuser,
            200,
            url=f"/superuser/{{build}}/{tail}",
        )
        for tail in ("build", "status", "logs")
    ),
    row(
        "PUT",
        "/filedrop/{file_id}",
        anyone,
        200,
        url="{drop}",
        note="the signed URL is the credential (no CSRF, no OAuth)",
    ),
    # --- entities
    row("GET", "/entities/{prefix}", anyone, 200, url="/entities/ali"),
    # --- quotas: reads for members, writes for full-access superusers; the scenario has no
    # quota, so an item answers 404 to whoever may see it (permission before existence)
    row("GET", f"{ACME}/quota", org("member"), 200, url="/organization/acme/quota"),
    row("POST", f"{ACME}/quota", full_access, 201, url="/organization/acme/quota",
        body={"limit_bytes": 10**9}),
    row("GET", f"{ACME}/quota/{{quota_id}}", org("member"), 404,
        url="/organization/acme/quota/0"),
    row("PUT", f"{ACME}/quota/{{quota_id}}", full_access, 404,
        url="/organization/acme/quota/0", body={"limit_bytes": 10**9}),
    row("DELETE", f"{ACME}/quota/{{quota_id}}", full_access, 404,
        url="/organization/acme/quota/0"),
    row("GET", f"{ACME}/quota/{{quota_id}}/limit", org("member"), 404,
        url="/organization/acme/quota/0/limit"),
    row("POST", f"{ACME}/quota/{{quota_id}}/limit", full_access, 404,
        url="/organization/acme/quota/0/limit", body={"type": "Warning", "threshold_percent": 50}),
    row("GET", f"{ACME}/quota/{{quota_id}}/limit/{{limit_id}}", org("member"), 404,
        url="/organization/acme/quota/0/limit/0"),
    row("PUT", f"{ACME}/quota/{{quota_id}}/limit/{{limit_id}}", full_access, 404,
        url="/organization/acme/quota/0/limit/0", body={"threshold_percent": 60}),
    row("DELETE", f"{ACME}/quota/{{quota_id}}/limit/{{limit_id}}", full_access, 404,
        url="/organization/acme/quota/0/limit/0"),
    row("GET", "/user/quota", U_ADMIN, 200),
    row("GET", "/user/quota/{quota_id}", U_ADMIN, 404, url="/user/quota/0"),
    row("GET", "/user/quota/{quota_id}/limit", U_ADMIN, 404, url="/user/quota/0/limit"),
    row("GET", "/user/quota/{quota_id}/limit/{limit_id}", U_ADMIN, 404,
        url="/user/quota/0/limit/0"),
    *(
        quota_row
        # acme's quota comes from the organization route's POST: this one goes to a
        # namespace that does not exist (404 for whoever may write)
        for segment, name, target, created in (
            ("users", "alice", "alice", 201),
            ("organization", "acme", "ghost", 404),
        )
        for quota_row in (
            row("GET", f"/superuser/{segment}/{{namespace}}/quota", superuser, 200,
                url=f"/superuser/{segment}/{name}/quota"),
            row("POST", f"/superuser/{segment}/{{namespace}}/quota", full_access, created,
                url=f"/superuser/{segment}/{target}/quota", body={"limit": "5 GiB"}),
            row("PUT", f"/superuser/{segment}/{{namespace}}/quota/{{quota_id}}", full_access,
                404, url=f"/superuser/{segment}/{name}/quota/0", body={"limit": "6 GiB"}),
            row("DELETE", f"/superuser/{segment}/{{namespace}}/quota/{{quota_id}}",
                full_access, 404, url=f"/superuser/{segment}/{name}/quota/0"),
        )
    ),
    # --- pull statistics
    row("GET", f"{R}/tag/{{tag}}/pull_statistics", repo("read"), 200,
        url=f"{APP_URL}/tag/v1/pull_statistics"),
    row("GET", f"{R}/manifest/{{manifestref}}/pull_statistics", repo("read"), 200,
        url=f"{MANIFEST}/pull_statistics"),
    # --- per-namespace rate limits (Berth)
    row("GET", "/superuser/ratelimits/", superuser, 200),
    row("GET", "/superuser/ratelimits/{namespace}", superuser, 200,
        url="/superuser/ratelimits/acme"),
    row("PUT", "/superuser/ratelimits/{namespace}", superuser, 200,
        url="/superuser/ratelimits/acme", body={"v2": {"caller": 1000}}),
    row("DELETE", "/superuser/ratelimits/{namespace}", superuser, 204,
        url="/superuser/ratelimits/acme"),
    row(
        "POST",
        "/entities/link/{username}",
        signed_in,
        404,
        url="/entities/link/alice",
        body={},
        note="Database authentication: no directory users to link (404)",
    ),
    # --- identity providers: team sync, robot federation
    row(
        "POST",
        f"{ACME}/team/{{teamname}}/syncing",
        both(superuser, org("admin")),
        400,
        url="/organization/acme/team/devs/syncing",
        body={"group_dn": "cn=devs"},
        note="Database authentication: no directory to sync with (400)",
    ),
    row(
        "DELETE",
        f"{ACME}/team/{{teamname}}/syncing",
        both(superuser, org("admin")),
        200,
        url="/organization/acme/team/devs/syncing",
    ),
    *(
        row(method, base + "/federation", rule, status, url=url + "/federation", body=body)
        for base, url, rule in (
            ("/user/robots/{robot_shortname}", "/user/robots/mine", U_ADMIN),
            (
                f"{ACME}/robots/{{robot_shortname}}",
                "/organization/acme/robots/reader",
                org("admin"),
            ),
        )
        for method, status, body in (
            ("GET", 200, None),
            ("POST", 200, [{"issuer": "https://ci.example", "subject": "matrix"}]),
            ("DELETE", 204, None),
        )
    ),
    *(
        row(method, path, anyone, 404, url=url, note="no OpenID Connect login service configured")
        for method, path, url in (
            ("GET", "/oauth2/{service}/login", "/oauth2/corp/login"),
            ("GET", "/oauth2/{service}/callback", "/oauth2/corp/callback"),
            ("POST", "/externallogin/{service}", "/externallogin/corp"),
        )
    ),
    row(
        "GET",
        "/oauth2/federation/robot/token",
        anyone,
        401,
        note="needs HTTP Basic robot : an OIDC token of a federated issuer",
    ),
    # --- global messages, the superuser's organizations
    row("GET", "/messages", anyone, 200),
    row(
        "POST",
        "/messages",
        superuser,
        201,
        body={"message": {"content": "hi", "media_type": "text/plain", "severity": "info"}},
    ),
    row("DELETE", "/message/{uuid}", superuser, 204, url="/message/no-such-message"),
    row("GET", "/superuser/organizations/", superuser, 200),
    row(
        "DELETE",
        "/superuser/organizations/{name}",
        superuser,
        404,
        url="/superuser/organizations/nosuchorg",
    ),
    row(
        "PUT",
        "/superuser/organizations/{name}",
        superuser,
        404,
        url="/superuser/organizations/nosuchorg",
        body={"name": "renamed"},
    ),
    row("GET", "/superuser/apptokens", superuser, 200),
    row("GET", "/superuser/config", superuser, 200),
    # --- OAuth tokens assigned to a user (FEATURE_ASSIGN_OAUTH_TOKEN)
    row("GET", "/user/assignedauthorization", U_ADMIN, 200),
    row(
        "DELETE",
        "/user/assignedauthorization/{uuid}",
        U_ADMIN,
        404,
        url="/user/assignedauthorization/none",
    ),
    row(
        "POST",
        "/oauth/authorize/assignuser",
        nobody,
        200,
        note="a browser session only: no API caller passes (401)",
    ),

    # --- notifications: the repository's (its admins), the namespace's (quota events: the
    # organization's admins, the user's own), the user's own inbox
    *[
        r
        for base, rule, url, body in (
            (f"{R}/notification/", repo("admin"), f"{APP_URL}/notification/",
             {"event": "repo_push", "method": "quay_notification", "eventConfig": {},
              "config": {"target": {"kind": "user", "name": "orgadmin"}}}),
            (f"{ACME}/notifications", org("admin"), "/organization/acme/notifications",
             {"event": "quota_warning", "method": "webhook", "eventConfig": {},
              "config": {"url": "https://hooks.example.com/quota"}}),
            ("/user/namespacenotifications", U_ADMIN, "/user/namespacenotifications",
             {"event": "quota_error", "method": "webhook", "eventConfig": {},
              "config": {"url": "https://hooks.example.com/mine"}}),
        )
        for r in (
            row("POST", base, rule, 201, url=url, body=body),
            row("GET", base, rule, 200, url=url),
            # an unknown uuid: 404 to read it, Quay's 400 to delete, reset or test it
            row("GET", base.rstrip("/") + "/{uuid}", rule, 404, url=url.rstrip("/") + "/none"),
            row("DELETE", base.rstrip("/") + "/{uuid}", rule, 400,
                url=url.rstrip("/") + "/none"),
            row("POST", base.rstrip("/") + "/{uuid}", rule, 400, url=url.rstrip("/") + "/none"),
            row("POST", base.rstrip("/") + "/{uuid}/test", rule, 400,
                url=url.rstrip("/") + "/none/test"),
        )
    ],
    row("GET", "/user/notifications", U_ADMIN, 200),
    row("GET", "/user/notifications/{uuid}", U_ADMIN, 404, url="/user/notifications/none"),
    row("PUT", "/user/notifications/{uuid}", U_ADMIN, 404, url="/user/notifications/none",
        body={"dismissed": True}),
    # --- e-mail: authorized addresses for notifications (repository admins), the
    # confirmation links (no API caller: a browser with a code), password recovery
    row("GET", f"{R}/authorizedemail/{{email}}", repo("admin"), 404,
        url=f"{APP_URL}/authorizedemail/someone@example.com"),
    row("POST", f"{R}/authorizedemail/{{email}}", repo("admin"), 200,
        url=f"{APP_URL}/authorizedemail/someone@example.com"),
    row("GET", "/authrepoemail", anyone, 400, note="no code: the HTML answer, to anyone"),
    row("GET", "/confirminvite", anyone, 302,
        note="a browser session only: every API caller is sent to sign in"),
    row("POST", "/recovery", anyone, 200, body={"email": "nobody@example.com"}),
    row("POST", "/recovery/reset", anyone, 400,
        body={"code": "not-a-code", "password": "new-password-1"}),
    row("POST", "/superusers/users/{username}/sendrecovery", superuser, 404,
        url="/superusers/users/nosuchuser/sendrecovery"),
    # --- the legacy repository tokens: gone (410) for the repository's admins
    row("GET", f"{R}/tokens/", repo("admin"), 410, url=f"{APP_URL}/tokens/"),
    row("POST", f"{R}/tokens/", repo("admin"), 410, url=f"{APP_URL}/tokens/",
        body={"friendlyName": "old"}),
    row("GET", f"{R}/tokens/{{code}}", repo("admin"), 410, url=f"{APP_URL}/tokens/abc"),
    row("PUT", f"{R}/tokens/{{code}}", repo("admin"), 410, url=f"{APP_URL}/tokens/abc",
        body={"role": "read"}),
    row("DELETE", f"{R}/tokens/{{code}}", repo("admin"), 410, url=f"{APP_URL}/tokens/abc"),
    # --- capabilities, the scanner
    row("GET", "/registry/capabilities", anyone, 200),
    row("GET", "/.well-known/app-capabilities", anyone, 200),
    row("GET", f"{R}/manifest/{{manifestref}}/security", repo("read"), 200,
        url=MANIFEST + "/security", note="registry credentials (Basic) too: robots that pull"),
    # --- the organization's proxy cache: members read it, admins change it
    row("GET", f"{ACME}/proxycache", org("member"), 200,
        url="/organization/acme/proxycache"),
    row("POST", f"{ACME}/proxycache", org("admin"), 201, url="/organization/acme/proxycache",
        body={"upstream_registry": "9.9.9.9"}),  # a public IP literal: no DNS here
    row("DELETE", f"{ACME}/proxycache", org("admin"), 201, url="/organization/acme/proxycache"),
    row("POST", f"{ACME}/validateproxycache", org("admin"), 400,
        url="/organization/acme/validateproxycache", body={"upstream_registry": "localhost:1"}),
]  # fmt: skip

# (row key, caller) -> status where Quay (or Berth, said why) differs from the rule's outcome
QUIRKS: dict[tuple[str, str], int] = {
    # Berth: a superuser account cannot delete itself (the superuser panel refuses the same)
    **{("DELETE /user/", c): 400 for c, v in CALLERS.items() if v.user in SUPERUSERS},
    # a route behind a disabled switch is 404 before the CSRF check (no OIDC login service)
    **{("POST /externallogin/{}", c): 404 for c, v in CALLERS.items() if Facts.of(v).user is None},
    # the security route also takes registry credentials (for the Container Security
    # Operator): robots that may pull read it with Basic
    **{
        ("GET /repository/{}/manifest/{}/security", c): 200
        for c, v in CALLERS.items()
        if v.how == "robot-basic"
    },
}


def expected(r: Row, caller: str) -> int | tuple[int, ...]:
    if (r.key, caller) in QUIRKS:
        return QUIRKS[(r.key, caller)]
    facts = Facts.of(CALLERS[caller])
    if r.method != "GET" and facts.user is None and r.checks_csrf:
        return 403  # CSRF: no OAuth token, no session
    if r.rule is nobody:
        return 401
    if r.rule(facts) or (r.method == "GET" and facts.reads_everything):
        return r.status
    if r.key == "GET /user/" or facts.user is None:
        return 401
    return 403


ROWS = ENDPOINTS

# -------------------------------------------------------------------------- the route table

# Quay's route gates (quay-api.md section 3) and Berth's own boolean FEATURE_ keys
ROUTE_GATES = {
    f"FEATURE_{name}"
    for name in (
        *("USER_CREATION", "DIRECT_LOGIN", "MAILING", "ASSIGN_OAUTH_TOKEN", "PROXY_CACHE"),
        *("TEAM_SYNCING", "REPO_MIRROR", "ORG_MIRROR", "QUOTA_MANAGEMENT", "EDIT_QUOTA"),
        *("SUPER_USERS", "AUTO_PRUNE", "IMMUTABLE_TAGS", "QUOTA_NOTIFICATIONS", "LOG_EXPORT"),
        *("AGGREGATED_LOG_COUNT_RETRIEVAL", "APP_SPECIFIC_TOKENS", "SIGNING"),
        *("IMAGE_PULL_STATS", "SECURITY_SCANNER", "SUPERUSER_CONFIGDUMP", "USER_INITIALIZE"),
        *("PROGRAMMATIC_BOOTSTRAP", "CHANGE_TAG_EXPIRATION"),
    )
} | {
    k
    for k, f in QuayConfig.model_fields.items()
    if k.startswith("FEATURE_") and f.annotation is bool
}


def route_keys(app: Any) -> set[str]:
    return {f"{r.method} {route_key(r.full_path)}" for r in app.state.api.routes}


def route_keys_for(tmp: Path, **config: Any) -> set[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    settings = load_settings(write_config(tmp, embedded_config(tmp, **config)), env={})
    return route_keys(create_app(settings))


# Routes that arrive without a row may be listed here for a session, with where their access
# rules are tested instead; the list may only shrink. Listed now: the build triggers' webhook
# (the trigger's token only), setup route and SCM OAuth callbacks
# (tests/integration/api/test_build_triggers.py), and the SBOM route, whose answer to a reader
# is 200 or 202 depending on whether the scan finished (test_sbom.py).
NOT_YET_IN_MATRIX: frozenset[str] = frozenset(
    {
        "GET /customtrigger/setup/{}",
        "GET /oauth2/bitbucket/callback/trigger/{}",
        "GET /oauth2/github/callback/trigger/{}",
        "GET /oauth2/gitlab/callback/trigger/{}",
        "POST /webhooks/push/trigger/{}",
        "POST /webhooks/push/{}/trigger/{}",
        "GET /repository/{}/manifest/{}/sbom",
    }
)


# FEATURE_{GITHUB,GITLAB,BITBUCKET}_BUILD need their OAuth application's keys.
TRIGGER_APPS = {
    "GITHUB_TRIGGER_CONFIG": {"CLIENT_ID": "id", "CLIENT_SECRET": "secret"},
    "GITLAB_TRIGGER_CONFIG": {"CLIENT_ID": "id", "CLIENT_SECRET": "secret"},
    "BITBUCKET_TRIGGER_CONFIG": {"CONSUMER_KEY": "key", "CONSUMER_SECRET": "secret"},
}


def test_every_route_has_a_row(tmp_path: Path) -> None:
    live = route_keys_for(tmp_path / "matrix", **MATRIX_CONFIG)
    every_gate_open = route_keys_for(
        tmp_path / "open",
        **dict.fromkeys(ROUTE_GATES, True),
        PERMANENTLY_DELETE_TAGS=True,
        **TRIGGER_APPS,
    )
    keys = [r.key for r in ROWS]
    assert len(keys) == len(set(keys)), "a route has two rows"
    missing = (live | every_gate_open) - set(keys) - NOT_YET_IN_MATRIX
    assert not NOT_YET_IN_MATRIX & set(keys), "a route has a row now: drop it from the list"
    hint = "add a row to ENDPOINTS (behind a flag: add the flag to MATRIX_CONFIG)"
    assert not missing, f"routes without a row ({hint}): {sorted(missing)}"
    stale = {r.key for r in ENDPOINTS} - live
    assert not stale, f"rows without a route: {sorted(stale)}"


def test_expectations_are_complete() -> None:
    """Every cell has an expected status and every rule lets someone through but nobody's."""
    for r in ROWS:
        outcomes = {c: expected(r, c) for c in CALLERS}
        assert len(outcomes) == len(CALLERS)
        if r.rule is not nobody:
            assert any(o == r.status for o in outcomes.values()), f"{r.key}: nobody passes"


# ------------------------------------------------------------------------------ the scenario


@dataclass
class World:
    """identity_scenario's acme plus the objects the rows act on."""

    sc: Scenario
    values: dict[str, str] = field(default_factory=dict)  # url/body placeholders
    mine: dict[str, dict[str, str]] = field(default_factory=dict)  # user -> its own objects


async def build_world(reg: Berth) -> World:
    svc = reg.services
    world = World(await build(reg))
    await add_users(reg, "carol", "dave", "doomed")
    for team in ("spare", "doomedteam"):
        await svc.teams.create_or_update("acme", team, role="member")
    for name in ("carol", "dave"):
        added = await svc.teams.add_member("acme", "spare", name, performer="orgadmin")
        if added.invited:
            await svc.teams.accept_invite(added.code, name)
    await svc.robots.create("acme", "spare", performer="orgadmin")
    await svc.permissions.set_user_permission(APP, "alice", "read")
    proto = await svc.permissions.create_prototype(
        "acme", "read", delegate_team="spare", performer="orgadmin"
    )
    app = await api_of(reg).oauth.create_application("acme", "matrixapp")
    pusher = reg.client("orgadmin", password=PASSWORD)
    old = await pusher.push_image(APP.full, "old")
    gone = await pusher.delete(f"/v2/{APP.full}/manifests/old")
    assert gone.status_code == 202, gone.text
    assert world.sc.app is not None
    world.values = {
        "client_id": app.client_id,
        "prototype": proto.id,
        "app_digest": world.sc.app.digest,
        "old_digest": old.digest,
    }
    label = {"key": "made", "value": "by-the-scenario", "media_type": "text/plain"}
    manifest = MANIFEST.format(app_digest=world.sc.app.digest)
    world.values["label"] = (await made_by_api(reg, "orgadmin", f"{manifest}/labels", label))[
        "label"
    ]["id"]
    for owner in ("/organization/acme", APP_URL):
        for kind, body in POLICIES.items():
            made = await made_by_api(reg, "orgadmin", f"{owner}/{kind}/", body)
            world.values[f"{owner.split('/')[1]}_{kind}"] = made["uuid"]
    assert svc.builds is not None
    context = await svc.builds.create_file(user_id=None, mime_type="text/plain")
    await svc.builds.put_file(context, b"FROM scratch\n")
    build_ = await svc.builds.start_build(
        None,
        namespace=APP.namespace,
        repository=APP.name,
        performer=None,
        context=BuildContext.upload(context),
        docker_tags=["matrix"],
    )
    drop = await reg.http.post(
        "/api/v1/filedrop/",
        json={"mimeType": "application/x-tar"},
        headers=bearer(await oauth_token(reg, "orgadmin")),
    )
    assert drop.status_code == 200, drop.text
    triggers = svc.build_triggers
    assert triggers is not None
    made = {}
    for key in ("trigger", "trigger_new", "trigger_doomed"):
        made[key] = (await triggers.create(APP, "custom-git", connected_user_id=None)).uuid
    await triggers.activate(
        APP,
        made["trigger"],
        {"build_source": "https://git.example.com/app.git"},
        pull_robot=None,
        performer=None,
    )
    world.values |= made
    world.values |= {
        "build_file": context,
        "build": build_.uuid,
        "drop": drop.json()["url"].split("/api/v1", 1)[1],
    }
    oauth = OAuthService(svc.db, svc.auth.fernet)
    for name in {c.user for c in CALLERS.values() if c.how == "bearer"}:
        assert name is not None
        account = await api_of(reg).accounts.get_user(name)
        world.mine[name] = {
            "apptoken": (await oauth.create_app_token(account.id, "mine")).uuid,
            "user_autoprunepolicy": (
                await made_by_api(reg, name, "/user/autoprunepolicy/", POLICIES["autoprunepolicy"])
            )["uuid"],
        }
        await svc.robots.create(name, "mine", performer=name)
    return world


async def made_by_api(reg: Berth, who: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """An object created over /api/v1 as ``who`` (what the scenario's services cannot make)."""
    resp = await reg.http.post(
        f"/api/v1{path}", json=body, headers=bearer(await oauth_token(reg, who))
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


async def _headers(reg: Berth, world: World, caller: Caller) -> dict[str, str]:
    if caller.how == "none":
        return {}
    if caller.how == "robot-basic":
        token = world.sc.tokens[str(caller.user)]
        return {"Authorization": basic(str(caller.user), token)}
    if caller.how == "robot-bearer":
        return bearer(world.sc.tokens[str(caller.user)])
    assert caller.user is not None
    assert caller.scopes is not None
    return bearer(await oauth_token(reg, caller.user, caller.scopes))


def _shape_problem(r: Row, resp: httpx.Response, facts: Facts) -> str | None:
    """A refusal must come in Quay's shape for its kind."""
    if r.prefix != "/api/v1" or resp.status_code not in (401, 403):
        return None
    body = resp.json()
    if resp.status_code == 403 and facts.user is None and r.checks_csrf:
        return None if body == CSRF_ERROR else f"not the CSRF body: {body}"
    kind = {401: "invalid_token", 403: "insufficient_scope"}[resp.status_code]
    if body.get("error_type") == kind or (resp.status_code == 403 and "message" in body):
        return None
    return f"body {body}"


async def observe(reg: Berth, world: World, who: str, rows: list[Row]) -> dict[str, str]:
    """Send every row as ``who``, in phase order; returns the wrong cells."""
    caller = CALLERS[who]
    facts = Facts.of(caller)
    headers = await _headers(reg, world, caller)
    values = {
        **world.values,
        **world.mine.get(str(caller.user), {"apptoken": "none", "user_autoprunepolicy": "none"}),
        "password": PASSWORDS.get(str(caller.user), PASSWORD),
    }
    wrong: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: r.phase):
        url = r.prefix + _fill(r.url or r.path, values)
        kw: dict[str, Any] = {"headers": headers}
        if r.body is not None:
            kw["json"] = _fill(r.body, values)
        if r.form is not None:
            kw["data"] = _fill(r.form, values)
        reg.http.cookies.clear()  # no session from an earlier row (signin, user creation)
        resp = await reg.http.request(r.method, url, **kw)
        want = expected(r, who)
        ok = resp.status_code in want if isinstance(want, tuple) else resp.status_code == want
        problem = None if not ok else _shape_problem(r, resp, facts)
        if not ok or problem:
            wrong[r.key] = f"{resp.status_code}, expected {want} ({r.rule.__name__}) " + (
                problem or resp.text[:160]
            )
    return wrong


@pytest.mark.parametrize("who", list(CALLERS))
async def test_matrix(configured, who: str) -> None:  # type: ignore[no-untyped-def]
    caller = CALLERS[who]
    config = {**MATRIX_CONFIG, "FEATURE_SUPERUSERS_FULL_ACCESS": caller.full_access}
    if caller.readonly:
        config["GLOBAL_READONLY_SUPER_USERS"] = [caller.user]
    async with configured(**config) as reg:
        live = route_keys(reg.app)
        world = await build_world(reg)
        wrong = await observe(reg, world, who, [r for r in ROWS if r.key in live])
    assert not wrong, f"{who}: {len(wrong)} wrong cells:\n" + "\n".join(
        f"  {k}: {v}" for k, v in sorted(wrong.items())
    )


# ------------------------------------------------------------------------- the credentials


async def _api_sees(reg: Berth, headers: dict[str, str]) -> tuple[int, int]:
    """(GET /user/, POST /user/apptoken) statuses: (401, 403) is how an anonymous caller fares."""
    me = await reg.http.get("/api/v1/user/", headers=headers)
    write = await reg.http.post("/api/v1/user/apptoken", headers=headers, json={"title": "t"})
    if me.status_code == 401:
        assert_problem_type(me, "invalid_token")
    if write.status_code == 403:
        assert write.json() == CSRF_ERROR
    return me.status_code, write.status_code


def assert_problem_type(resp: httpx.Response, kind: str) -> None:
    body = resp.json()
    assert (body["error_type"], body["status"]) == (kind, resp.status_code), body


async def _user_id(reg: Berth, name: str) -> int:
    account = await api_of(reg).accounts.get_user(name)
    return int(account.id)


async def test_expired_oauth_token_counts_as_anonymous(registry: Berth) -> None:
    api = api_of(registry)
    app = await api.oauth.create_application("alice", "short-lived")
    uid = await _user_id(registry, "alice")
    fresh = await api.oauth.issue_token(app, uid, frozenset(SCOPES), 60)
    expired = await api.oauth.issue_token(app, uid, frozenset(SCOPES), -1)
    assert await _api_sees(registry, bearer(fresh.token)) == (200, 200)
    assert await _api_sees(registry, bearer(expired.token)) == (401, 403)
    # reads go on as anonymous ones: public data yes, a private repository 401 (not 403)
    alice = registry.client("alice")
    await alice.push_image("alice/shown", "v1")
    await alice.push_image("alice/hidden", "v1")
    await registry.set_public("alice/shown")
    for repo, status in (("alice/shown", 200), ("alice/hidden", 401)):
        r = await registry.http.get(f"/api/v1/repository/{repo}", headers=bearer(expired.token))
        assert r.status_code == status, r.text
        r = await registry.http.get(f"/api/v1/repository/{repo}", headers=bearer(fresh.token))
        assert r.status_code == 200, r.text
    # and it is no registry password either
    login = await registry.client("$oauthtoken", password=expired.token).token(
        "repository:alice/app:pull"
    )
    assert_error(login, 401, "UNAUTHORIZED")


async def test_revoked_oauth_token_counts_as_anonymous(registry: Berth) -> None:
    token = await oauth_token(registry, "alice")
    grant = await api_of(registry).oauth.validate_token(token)
    assert grant is not None
    assert await _api_sees(registry, bearer(token)) == (200, 200)
    assert await api_of(registry).oauth.revoke_token(grant.token_uuid)
    assert await _api_sees(registry, bearer(token)) == (401, 403)
    login = await registry.client("$oauthtoken", password=token).token("repository:alice/x:pull")
    assert_error(login, 401, "UNAUTHORIZED")


async def test_disabled_users_credentials_all_stop(registry: Berth, session_client) -> None:  # type: ignore[no-untyped-def]
    """A token, a browser session and an app-specific token of a disabled user: refused."""
    token = await oauth_token(registry, "alice")
    http = session_client()
    csrf = await sign_in(http, "alice")
    oauth = OAuthService(registry.services.db, registry.services.auth.fernet)
    app_token = await oauth.create_app_token(await _user_id(registry, "alice"), "laptop")
    async with registry.services.db.write() as s:
        await s.execute(update(User).where(User.username == "alice").values(enabled=False))
    assert await _api_sees(registry, bearer(token)) == (401, 403)
    me = await http.get("/api/v1/user/")
    assert_problem_type(me, "invalid_token")
    write = await http.post("/api/v1/user/apptoken", headers={"X-CSRF-Token": csrf}, json={})
    assert write.status_code in (401, 403), write.text
    for username, password in (("$app", app_token.token_code), ("alice", PASSWORDS["alice"])):
        login = await registry.client(username, password=password).token("repository:alice/x:pull")
        assert_error(login, 401, "UNAUTHORIZED")
    fresh = session_client()
    csrf = (await fresh.get("/csrf_token")).json()["csrf_token"]
    r = await fresh.post(
        "/api/v1/signin",
        json={"username": "alice", "password": PASSWORDS["alice"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 403, r.text
    assert (r.json()["invalidCredentials"], r.json()["message"]) == (
        True,
        "User account is disabled",
    )


async def test_expired_and_revoked_app_tokens_are_refused(registry: Berth) -> None:
    oauth = OAuthService(registry.services.db, registry.services.auth.fernet)
    uid = await _user_id(registry, "alice")
    expired = await oauth.create_app_token(uid, "old", expires_in_s=-1)
    revoked = await oauth.create_app_token(uid, "gone")
    await oauth.revoke_app_token(uid, revoked.uuid)
    for made in (expired, revoked):
        login = await registry.client("$app", password=made.token_code).token(
            "repository:alice/x:pull"
        )
        assert_error(login, 401, "UNAUTHORIZED")


async def test_registry_credentials_do_not_open_the_api(registry: Berth, alice) -> None:  # type: ignore[no-untyped-def]
    """Basic (right or wrong password) and registry JWTs are no /api/v1 credentials."""
    for password in (PASSWORDS["alice"], "wrong-password"):
        auth = {"Authorization": basic("alice", password)}
        assert await _api_sees(registry, auth) == (401, 403)
    jwt = await alice.login("alice/app", "pull", "push")
    assert token_access(jwt)["alice/app"] == {"pull", "push"}
    assert await _api_sees(registry, bearer(jwt)) == (401, 403)
    forged = registry.issue_token("alice", [], ttl_s=-60)
    assert await _api_sees(registry, bearer(forged)) == (401, 403)
