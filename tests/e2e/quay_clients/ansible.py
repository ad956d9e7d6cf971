"""``infra.quay_configuration`` (v2.8.1), replayed: its API helper and the modules issue 3
checks (quay-api.md section 6.3). Module functions return what the module reports
(``changed`` plus its result) and raise ``ClientFailed`` where the module would fail.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import httpx

from tests.e2e.quay_clients.base import ClientFailed, json_of

TOKEN_IN_LOCATION = re.compile(r"access_token=(.*?)&")
WINDOW_TOKEN = re.compile(r"window.__token\s*=\s*'(.*?)';")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _error_message(body: Any) -> str:
    """``get_error_message``: ``message`` first, then the other shapes' fields."""
    if isinstance(body, dict):
        for key in ("message", "title", "error_type", "error_message", "detail", "error"):
            if body.get(key):
                return str(body[key])
    return str(body)


def _with_flat_keys(data: Any) -> Any:
    """The helper copies every key holding ``_`` without it (``tag_expiration_s`` ->
    ``tagexpirations``) for its own diffing."""
    if isinstance(data, dict):
        flat = {k: _with_flat_keys(v) for k, v in data.items()}
        flat.update({k.replace("_", ""): v for k, v in flat.items() if "_" in k})
        return flat
    if isinstance(data, list):
        return [_with_flat_keys(v) for v in data]
    return data


class QuayApi:
    """``plugins/module_utils/api_module.py`` for one module run.

    ``token`` is sent as a bearer; with ``username``/``password`` it signs in first
    (``/csrf_token``, ``/api/v1/signin``, then ``X-CSRF-Token`` on every call) and signs out
    when the run ends. With neither, the calls are anonymous.
    """

    def __init__(
        self,
        host: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host = host.rstrip("/")
        self.token = token
        self.username = username
        self.password = password
        self.csrf: str | None = None
        self.http = httpx.Client(base_url=self.host, timeout=60.0, follow_redirects=False)

    def __enter__(self) -> QuayApi:
        if self.username is not None and self.token is None:
            try:
                self.login()
            except ClientFailed:
                self.http.close()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.csrf is not None:
            self.http.post("/api/v1/signout", headers=self.headers())
        self.http.close()

    # ---- session mode ---------------------------------------------------------------------
    def login(self) -> None:
        resp = self.http.get("/csrf_token")
        csrf = (json_of(resp) or {}).get("csrf_token") if resp.status_code == 200 else None
        if not csrf:  # Quay < 3.16: scrape the home page
            found = WINDOW_TOKEN.search(self.http.get("/").text)
            if not found:
                raise ClientFailed("Cannot retrieve the CSRF token", resp)
            csrf = found.group(1)
        resp = self.http.post(
            "/api/v1/signin",
            json={"username": self.username, "password": self.password},
            headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
        )
        if resp.status_code != 200:
            raise ClientFailed(f"Cannot log in: {_error_message(json_of(resp))}", resp)
        self.csrf = resp.headers.get("x-next-csrf-token")
        if not self.csrf:
            raise ClientFailed("Cannot retrieve the X-Next-CSRF-Token header", resp)

    def headers(self, content_type: str = "application/json") -> dict[str, str]:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        return headers

    # ---- requests -------------------------------------------------------------------------
    def request(
        self,
        method: str,
        endpoint: str,
        *,
        query: dict[str, str] | None = None,
        data: Any = None,
        ok_error_codes: tuple[int, ...] = (),
    ) -> httpx.Response:
        """One call to ``/api/v1/<endpoint>``; the module's fixed failures on 401/403/405/5xx."""
        url = f"/api/v1/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        resp = self.http.request(
            method, url, json=data if data is not None else None, headers=self.headers()
        )
        code = resp.status_code
        if code in ok_error_codes:
            return resp
        if code == 401:
            raise ClientFailed(f"Authentication required for {method} {url}", resp)
        if code == 403:
            raise ClientFailed(f"You do not have permission to {method} {url}", resp)
        if code == 405:
            raise ClientFailed(f"Cannot make a {method} request to {url}", resp)
        if code >= 500:
            raise ClientFailed(f"Server error on {method} {url}: {resp.text[:300]}", resp)
        return resp

    def get_object_path(
        self,
        endpoint: str,
        *,
        ok_error_codes: tuple[int, ...] = (),
        query: dict[str, str] | None = None,
    ) -> Any:
        """GET; the object (with flattened duplicate keys) or None for 404/``ok_error_codes``."""
        missing = (404, *ok_error_codes)
        resp = self.request("GET", endpoint, query=query, ok_error_codes=missing)
        if resp.status_code in missing:
            return None
        if resp.status_code != 200:
            raise ClientFailed(f"GET {endpoint}: {_error_message(json_of(resp))}", resp)
        return _with_flat_keys(resp.json())

    def _write(self, method: str, endpoint: str, data: Any) -> Any:
        resp = self.request(method, endpoint, data=data)
        if resp.status_code not in (200, 201, 204):
            raise ClientFailed(f"{method} {endpoint}: {_error_message(json_of(resp))}", resp)
        return json_of(resp)

    def create(self, endpoint: str, data: Any) -> Any:
        return self._write("POST", endpoint, data)

    def unconditional_update(self, endpoint: str, data: Any) -> Any:
        return self._write("PUT", endpoint, data)

    def delete(self, endpoint: str) -> bool:
        """True when deleted; 400 and 404 mean "already gone" (changed=false)."""
        resp = self.request("DELETE", endpoint, ok_error_codes=(400, 404))
        if resp.status_code in (400, 404):
            return False
        if resp.status_code not in (200, 201, 202, 204):
            raise ClientFailed(f"DELETE {endpoint}: {_error_message(json_of(resp))}", resp)
        return True

    # ---- lookups ---------------------------------------------------------------------------
    def who_am_i(self) -> str:
        me = self.get_object_path("user/")
        if me is None:
            raise ClientFailed("Cannot retrieve the current user")
        return str(me["username"])

    def get_organization(self, name: str) -> Any:
        return self.get_object_path(f"organization/{name}")

    def get_account(self, name: str) -> Any:
        """A robot (org or user robot path, 400/404 = missing) or a user (entities search)."""
        if "+" in name:
            namespace, short = name.split("+", 1)
            for path in (f"organization/{namespace}/robots/{short}", f"user/robots/{short}"):
                robot = self.get_object_path(path, ok_error_codes=(400, 404))
                if robot is not None and robot["name"] == name:
                    return robot
            return None
        found = self.get_object_path(
            f"entities/{name}", query={"includeOrgs": "False", "includeTeams": "False"}
        )
        for entity in (found or {}).get("results", []):
            if entity["name"] == name:
                if entity["kind"] == "external":
                    self.create(f"entities/link/{name}", {})
                return entity
        return None

    def get_namespace(self, name: str) -> tuple[str, Any] | None:
        org = self.get_organization(name)
        if org is not None:
            return "organization", org
        account = self.get_account(name)
        if account is not None and "+" not in name:
            return "user", account
        return None


# ------------------------------------------------------------------------------------ modules


def quay_first_user(
    host: str, username: str, password: str, *, email: str | None = None, create_token: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {"username": username, "password": password}
    body["access_token"] = create_token
    if email:
        body["email"] = email
    with QuayApi(host) as api:
        resp = api.request("POST", "user/initialize", data=body, ok_error_codes=(400,))
        if resp.status_code != 200:
            raise ClientFailed(_error_message(json_of(resp)), resp)
        return {"changed": True, **resp.json()}


def _seconds(value: str) -> int:
    return int(value[:-1]) * _UNITS[value[-1]]


def quay_organization(
    api: QuayApi,
    name: str,
    *,
    email: str | None = None,
    time_machine_expiration: str | None = None,
    state: str = "present",
) -> dict[str, Any]:
    org = api.get_organization(name)
    if state == "absent":
        return {"changed": org is not None and api.delete(f"organization/{name}")}
    changes: dict[str, Any] = {}
    if org is None:
        api.create("organization/", {"name": name, **({"email": email} if email else {})})
        org = api.get_organization(name)
        changed = True
    else:
        changed = False
        if email and email != org.get("email"):
            changes["email"] = email
    if time_machine_expiration is not None:
        seconds = _seconds(time_machine_expiration)
        if seconds != org.get("tag_expiration_s"):
            changes["tag_expiration_s"] = seconds
    if changes:
        api.unconditional_update(f"organization/{name}", changes)
    return {"changed": changed or bool(changes)}


def quay_team(
    api: QuayApi,
    organization: str,
    name: str,
    *,
    role: str | None = None,
    description: str | None = None,
    members: list[str] | None = None,
    append: bool = True,
    state: str = "present",
) -> dict[str, Any]:
    org = api.get_organization(organization)
    if org is None:
        raise ClientFailed(f"The {organization} organization does not exist.")
    team = (org.get("teams") or {}).get(name)
    path = f"organization/{organization}/team/{name}"
    if state == "absent":
        if team is None:
            return {"changed": False}
        api.unconditional_update(path, {"role": "member"})  # around the last-admin-team rule
        return {"changed": api.delete(path)}
    changed = False
    wanted = {"name": name, "role": role or (team or {}).get("role") or "member"}
    if description is not None:
        wanted["description"] = description
    if team is None or any(team.get(k) != v for k, v in wanted.items() if k != "name"):
        api.unconditional_update(path, wanted)
        changed = True
    if members is not None:
        listed = api.get_object_path(f"{path}/members", query={"includePending": "True"})
        current = {m["name"] for m in listed["members"] if "name" in m}
        for member in members:
            if member not in current:
                api.unconditional_update(f"{path}/members/{member}", {})
                changed = True
        if not append:
            for extra in current - set(members):
                changed = api.delete(f"{path}/members/{extra}") or changed
    return {"changed": changed}


def quay_robot(
    api: QuayApi, name: str, *, description: str | None = None, state: str = "present"
) -> dict[str, Any]:
    namespace, short = name.split("+", 1)
    if api.get_organization(namespace) is not None:
        path = f"organization/{namespace}/robots/{short}"
    else:
        path = f"user/robots/{short}"
    robot = api.get_object_path(path, ok_error_codes=(400, 404))
    if state == "absent":
        return {"changed": robot is not None and api.delete(path)}
    if robot is not None:
        return {"changed": False, **robot}
    created = api.unconditional_update(path, {"description": description} if description else {})
    return {"changed": True, **created}


def quay_default_perm(
    api: QuayApi,
    organization: str,
    *,
    delegate_name: str,
    delegate_type: str = "user",
    role: str = "read",
    creator: str | None = None,
    state: str = "present",
) -> dict[str, Any]:
    org = api.get_organization(organization)
    if org is None:
        raise ClientFailed(f"The {organization} organization does not exist.")
    if delegate_type == "user" and api.get_account(delegate_name) is None:
        raise ClientFailed(f"The {delegate_name} user or robot account does not exist.")
    if creator is not None and api.get_account(creator) is None:
        raise ClientFailed(f"The {creator} user does not exist.")
    listing = api.get_object_path(f"organization/{organization}/prototypes")
    match = next(
        (
            p
            for p in listing["prototypes"]
            if p["delegate"]["name"] == delegate_name
            and p["delegate"]["kind"] == delegate_type
            and (p.get("activating_user") or {}).get("name") == creator
        ),
        None,
    )
    base = f"organization/{organization}/prototypes"
    if state == "absent":
        return {"changed": match is not None and api.delete(f"{base}/{match['id']}")}
    if match is None:
        body: dict[str, Any] = {"delegate": {"name": delegate_name, "kind": delegate_type}}
        body["role"] = role
        if creator:
            body["activating_user"] = {"name": creator}
        return {"changed": True, **api.create(base, body)}
    if match["role"] != role:
        return {
            "changed": True,
            **api.unconditional_update(f"{base}/{match['id']}", {"role": role}),
        }
    return {"changed": False, **match}


def _sync_permissions(
    api: QuayApi, repo: str, perms: list[dict[str, str]], *, append: bool
) -> bool:
    changed = False
    for kind in ("team", "user"):
        current = api.get_object_path(f"repository/{repo}/permissions/{kind}/")["permissions"]
        wanted = {p["name"]: p["role"] for p in perms if (p["type"] == "team") == (kind == "team")}
        for name, role in wanted.items():
            if (current.get(name) or {}).get("role") != role:
                api.unconditional_update(
                    f"repository/{repo}/permissions/{kind}/{name}", {"role": role}
                )
                changed = True
        if not append:
            for name in set(current) - set(wanted):
                changed = api.delete(f"repository/{repo}/permissions/{kind}/{name}") or changed
    return changed


def quay_repository(
    api: QuayApi,
    name: str,
    *,
    visibility: str | None = None,
    description: str | None = None,
    perms: list[dict[str, str]] | None = None,
    append: bool = True,
    state: str = "present",
) -> dict[str, Any]:
    namespace, repo_name = name.split("/", 1)
    if api.get_namespace(namespace) is None:
        raise ClientFailed(f"The {namespace} namespace does not exist.")
    repo = api.get_object_path(f"repository/{name}")
    if state == "absent":
        return {"changed": repo is not None and api.delete(f"repository/{name}")}
    changed = False
    if repo is None:
        api.create(
            "repository",
            {
                "namespace": namespace,
                "repository": repo_name,
                "repo_kind": "image",
                "description": description or "",
                "visibility": visibility or "private",
            },
        )
        changed = True
    else:
        if description is not None and description != repo.get("description"):
            api.unconditional_update(f"repository/{name}", {"description": description})
            changed = True
        if visibility is not None and (visibility == "public") != repo["is_public"]:
            api.create(f"repository/{name}/changevisibility", {"visibility": visibility})
            changed = True
    if perms is not None:
        changed = _sync_permissions(api, name, perms, append=append) or changed
    return {"changed": changed}


def _opt(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def quay_user(
    api: QuayApi,
    username: str,
    *,
    email: str | None = None,
    password: str | None = None,
    enabled: bool | None = None,
    state: str = "present",
) -> dict[str, Any]:
    path = f"superuser/users/{username}"
    user = api.get_object_path(path)
    if user is not None and user.get("super_user"):
        return {"changed": False, "warnings": [f"{username} is a superuser: not changed"]}
    if state == "absent":
        if user is None:
            return {"changed": False}
        api.request("PUT", path, data={"enabled": True, "superuser": False}, ok_error_codes=(400,))
        return {"changed": api.delete(path)}
    result: dict[str, Any] = {"changed": False}
    if user is None:
        created = api.create("superuser/users/", {"username": username, **_opt(email=email)})
        result = {"changed": True, "password": created["password"]}
        user = {"email": email, "enabled": True}
    changes: dict[str, Any] = {}
    if email is not None and email != user.get("email"):
        changes["email"] = email
    if enabled is not None and enabled != user.get("enabled"):
        changes["enabled"] = enabled
    if password is not None:
        changes["password"] = password
    if changes:
        api.unconditional_update(path, changes)
        result["changed"] = True
    return result


def quay_api_token(
    host: str, username: str, password: str, *, client_id: str, scopes: list[str]
) -> dict[str, Any]:
    """Sign in, POST ``/oauth/authorizeapp`` (implicit grant), scrape the 302 Location."""
    with QuayApi(host, username=username, password=password) as api:
        assert api.csrf is not None
        form = {
            "response_type": "token",
            "client_id": client_id,
            "redirect_uri": f"{api.host}/oauth/localapp",
            "scope": " ".join(scopes),
            "_csrf_token": api.csrf,
        }
        resp = api.http.post(
            "/oauth/authorizeapp",
            data=form,
            headers=api.headers("application/x-www-form-urlencoded"),
        )
        if resp.status_code != 302:
            raise ClientFailed(f"authorizeapp: {resp.status_code} {resp.text[:300]}", resp)
        found = TOKEN_IN_LOCATION.search(resp.headers.get("location", ""))
        if not found:
            raise ClientFailed(f"no token in {resp.headers.get('location')!r}", resp)
        return {"changed": True, "access_token": found.group(1)}


def quay_quota(
    api: QuayApi,
    organization: str,
    *,
    quota: int | None = None,
    limits: list[dict[str, Any]] | None = None,
    state: str = "present",
) -> dict[str, Any]:
    """``infra.quay_configuration.quay_quota``: the organization's quota in bytes and its
    ``limits`` (``{type: Warning|Reject, threshold_percent}``), read from the organization
    view's ``quotas[0]``."""
    org = api.get_organization(organization)
    if org is None:
        raise ClientFailed(f"The {organization} organization does not exist.")
    current = (org.get("quotas") or [None])[0]
    base = f"organization/{organization}/quota"
    if state == "absent":
        return {"changed": current is not None and api.delete(f"{base}/{current['id']}")}
    changed = False
    if current is None:
        if quota is None:
            raise ClientFailed("quota is required to create one")
        api.create(base, {"limit_bytes": quota})
        qid = api.get_object_path(base)[0]["id"]
        existing: list[dict[str, Any]] = []
        changed = True
    else:
        qid = current["id"]
        existing = list(current.get("limits") or [])
        if quota is not None and quota != current["limit_bytes"]:
            api.unconditional_update(f"{base}/{qid}", {"limit_bytes": quota})
            changed = True
    for wanted in limits or []:
        same_type = [lim for lim in existing if lim["type"] == wanted["type"]]
        body = {"type": wanted["type"], "threshold_percent": wanted["threshold_percent"]}
        if not same_type:
            api.create(f"{base}/{qid}/limit", body)
            changed = True
        elif same_type[0]["limit_percent"] != wanted["threshold_percent"]:
            api.unconditional_update(f"{base}/{qid}/limit/{same_type[0]['id']}", body)
            changed = True
    return {"changed": changed}


def quay_repository_mirror(
    api: QuayApi,
    name: str,
    *,
    external_reference: str,
    robot_username: str,
    image_tags: list[str],
    sync_interval: int = 86400,
    sync_start_date: str = "2099-01-01T00:00:00Z",
    is_enabled: bool = True,
    verify_tls: bool = True,
    external_registry_username: str | None = None,
    external_registry_password: str | None = None,
    force_sync: bool = False,
) -> dict[str, Any]:
    """``quay_repository_mirror`` (quay-api.md 6.3): GET (404 and 403: not configured);
    create with every field, once more without ``skopeo_timeout_interval`` if refused
    (Quay < 3.15); otherwise PUT what differs (not while SYNCING); ``force_sync``: sync-now
    unless SYNCING or SYNC_NOW."""
    path = f"repository/{name}/mirror"
    current = api.get_object_path(path, ok_error_codes=(403,))
    config = {
        "verify_tls": verify_tls,
        "proxy": {"http_proxy": None, "https_proxy": None, "no_proxy": None},
        "unsigned_images": False,
    }
    wanted: dict[str, Any] = {
        "is_enabled": is_enabled,
        "robot_username": robot_username,
        "external_reference": external_reference,
        "root_rule": {"rule_kind": "tag_glob_csv", "rule_value": image_tags},
        "sync_interval": sync_interval,
        "sync_start_date": sync_start_date,
        "external_registry_username": external_registry_username,
        "external_registry_config": config,
    }
    changed = False
    if current is None:
        body = {**wanted, "skopeo_timeout_interval": 300}
        if external_registry_password is not None:
            body["external_registry_password"] = external_registry_password
        try:
            api.create(path, body)
        except ClientFailed:
            body.pop("skopeo_timeout_interval")
            api.create(path, body)
        changed = True
        current = api.get_object_path(path)
    elif current.get("sync_status") != "SYNCING":
        skip = ("sync_start_date", "external_registry_config", "root_rule")
        update = {k: v for k, v in wanted.items() if k not in skip and current.get(k) != v}
        if current["root_rule"]["rule_value"] != image_tags:
            update["root_rule"] = wanted["root_rule"]
        if current["external_registry_config"]["verify_tls"] != verify_tls:
            update["external_registry_config"] = config
        if external_registry_password is not None:
            update["external_registry_password"] = external_registry_password
        if update:
            api.unconditional_update(path, update)
            changed = True
            current = api.get_object_path(path)
    if force_sync and current["sync_status"] not in ("SYNCING", "SYNC_NOW"):
        api.create(f"{path}/sync-now", {})
        changed = True
    return {"changed": changed, **current}
