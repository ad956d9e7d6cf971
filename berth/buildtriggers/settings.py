"""The build triggers' configuration section: which trigger services are on and the OAuth
applications of the SCM ones (Quay's keys).

* ``FEATURE_BUILD_SUPPORT``: triggers at all (the routes answer 404 without it).
* ``FEATURE_GITHUB_BUILD`` + ``GITHUB_TRIGGER_CONFIG`` (``CLIENT_ID``, ``CLIENT_SECRET``,
  ``GITHUB_ENDPOINT`` default ``https://github.com/``, ``API_ENDPOINT`` default
  ``https://api.github.com/``, ``ORG_RESTRICT``, ``ALLOWED_ORGANIZATIONS``).
* ``FEATURE_GITLAB_BUILD`` + ``GITLAB_TRIGGER_CONFIG`` (``CLIENT_ID``, ``CLIENT_SECRET``,
  ``GITLAB_ENDPOINT`` default ``https://gitlab.com/``).
* ``FEATURE_BITBUCKET_BUILD`` + ``BITBUCKET_TRIGGER_CONFIG`` (``CONSUMER_KEY``,
  ``CONSUMER_SECRET``).

Custom git triggers need only FEATURE_BUILD_SUPPORT. Built once by ``berth.config``
(``settings.build_triggers``); ``parse_scm_configs`` reports every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class ScmApp:
    """An OAuth application on GitHub, GitLab or Bitbucket (``client_id`` is Bitbucket's
    consumer key)."""

    service: str
    client_id: str
    client_secret: str
    endpoint: str  # the site users authorize on (trailing slash)
    api_endpoint: str
    org_restrict: bool = False
    allowed_organizations: tuple[str, ...] = ()

    @property
    def authorize_url(self) -> str:
        if self.service == "github":
            return self.endpoint + "login/oauth/authorize"
        if self.service == "gitlab":
            return self.endpoint + "oauth/authorize"
        return self.endpoint + "site/oauth2/authorize"

    @property
    def token_url(self) -> str:
        if self.service == "github":
            return self.endpoint + "login/oauth/access_token"
        if self.service == "gitlab":
            return self.endpoint + "oauth/token"
        return self.endpoint + "site/oauth2/access_token"


@dataclass(frozen=True, slots=True)
class BuildTriggerSettings:
    enabled: bool = False
    github: ScmApp | None = None
    gitlab: ScmApp | None = None
    bitbucket: ScmApp | None = None

    def app(self, service: str) -> ScmApp | None:
        return {"github": self.github, "gitlab": self.gitlab, "bitbucket": self.bitbucket}.get(
            service
        )

    @property
    def services(self) -> tuple[str, ...]:
        """The trigger services one may set up."""
        if not self.enabled:
            return ()
        scm = tuple(s for s in ("github", "gitlab", "bitbucket") if self.app(s) is not None)
        return ("custom-git", *scm)


_DEFAULTS = {
    "github": ("https://github.com/", "https://api.github.com/"),
    "gitlab": ("https://gitlab.com/", ""),
    "bitbucket": ("https://bitbucket.org/", "https://api.bitbucket.org/2.0/"),
}


def _url(value: Any, key: str, problems: list[str]) -> str | None:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
        problems.append(f"{key}: an http(s) URL")
        return None
    return value if value.endswith("/") else value + "/"


def _scm_app(service: str, key: str, block: Any, problems: list[str]) -> ScmApp | None:
    if not isinstance(block, Mapping):
        problems.append(f"{key}: required (a mapping) with FEATURE_{service.upper()}_BUILD")
        return None
    id_key, secret_key = (
        ("CONSUMER_KEY", "CONSUMER_SECRET")
        if service == "bitbucket"
        else ("CLIENT_ID", "CLIENT_SECRET")
    )
    client_id, secret = block.get(id_key), block.get(secret_key)
    for name, value in ((id_key, client_id), (secret_key, secret)):
        if not isinstance(value, str) or not value:
            problems.append(f"{key}.{name}: required")
    site, api = _DEFAULTS[service]
    endpoint_key = {"github": "GITHUB_ENDPOINT", "gitlab": "GITLAB_ENDPOINT"}.get(service)
    endpoint = (
        _url(block.get(endpoint_key, site), f"{key}.{endpoint_key}", problems)
        if endpoint_key
        else site
    )
    api_endpoint = api
    if service == "github":
        api_endpoint = _url(block.get("API_ENDPOINT", api), f"{key}.API_ENDPOINT", problems) or api
    elif service == "gitlab" and endpoint:
        api_endpoint = endpoint + "api/v4/"
    allowed = block.get("ALLOWED_ORGANIZATIONS") or []
    if not isinstance(allowed, list) or not all(isinstance(o, str) for o in allowed):
        problems.append(f"{key}.ALLOWED_ORGANIZATIONS: a list of organization names")
        allowed = []
    if not isinstance(client_id, str) or not isinstance(secret, str) or endpoint is None:
        return None
    return ScmApp(
        service,
        client_id,
        secret,
        endpoint,
        api_endpoint,
        bool(block.get("ORG_RESTRICT", False)),
        tuple(allowed),
    )


def build_trigger_settings(
    *,
    build_support: bool,
    features: Mapping[str, bool],
    blocks: Mapping[str, Any],
    problems: list[str],
) -> BuildTriggerSettings:
    """``features``: service -> FEATURE_<SERVICE>_BUILD; ``blocks``: service -> its
    ``<SERVICE>_TRIGGER_CONFIG`` (or None). Problems are appended to ``problems``."""
    apps: dict[str, ScmApp | None] = {}
    for service in ("github", "gitlab", "bitbucket"):
        key = f"{service.upper()}_TRIGGER_CONFIG"
        apps[service] = (
            _scm_app(service, key, blocks.get(service), problems)
            if build_support and features.get(service)
            else None
        )
    return BuildTriggerSettings(build_support, apps["github"], apps["gitlab"], apps["bitbucket"])
