"""The event catalogue: every event a notification can watch, with Quay's payloads, event
configs and filters.

Each ``Event`` knows:

* ``name`` and ``title`` (Quay's ``event`` values, e.g. ``repo_push``);
* ``scope``: ``repository`` events belong to a repository's notifications, ``namespace``
  events (quota) to a namespace's;
* ``check_config``: validates the ``eventConfig`` given at creation (raises
  ``InvalidEventConfig``) and returns the stored form;
* ``applies``: the filter, deciding from the event config and the payload whether one
  notification fires (vulnerability level, build ref regex, expiry days);
* ``summary``: the one-line text used for e-mail subjects, Slack and the bell;
* ``sample``: the payload a "test notification" sends.

Payload builders (``repo_push_data``, ``build_data``, ``vulnerability_data``, ...) return
Quay's documented payloads (seed 002 12.1) given the repository's URLs (``RepoRef``); the
features that produce events (pushes, builds, mirroring, scanning, quotas) build their data
with them and hand it to ``NotificationService.notify``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from berth.notifications.errors import InvalidEventConfig, UnknownEvent

Data = dict[str, Any]

# Quay's PRIORITY_LEVELS: lower index = more severe. vulnerability_found's eventConfig
# ``level`` is an index (as a string); a vulnerability fires when its index <= level.
PRIORITY_LEVELS: dict[str, int] = {
    "Defcon1": 0,
    "Critical": 1,
    "High": 2,
    "Medium": 3,
    "Low": 4,
    "Negligible": 5,
    "Unknown": 6,
}

LEVEL_COLORS = {"info": "#439FE0", "success": "good", "warning": "warning", "error": "danger"}


@dataclass(frozen=True)
class RepoRef:
    """What every repository payload starts with: names and URLs."""

    namespace: str
    name: str
    host: str  # SERVER_HOSTNAME: docker_url is host/ns/name
    base_url: str  # scheme://host: the homepage

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.name}"

    def base(self) -> Data:
        return {
            "repository": self.path,
            "namespace": self.namespace,
            "name": self.name,
            "docker_url": f"{self.host}/{self.path}",
            "homepage": f"{self.base_url}/repository/{self.path}",
        }


# ---- payload builders -------------------------------------------------------------------
def repo_push_data(repo: RepoRef, updated_tags: list[str]) -> Data:
    return {**repo.base(), "updated_tags": list(updated_tags)}


def image_expiry_data(repo: RepoRef, tags: list[str], days: int) -> Data:
    return {**repo.base(), "tags": list(tags), "expiring_in": f"{days} days"}


def vulnerability_data(
    repo: RepoRef,
    tags: list[str],
    *,
    vuln_id: str,
    description: str,
    link: str,
    priority: str,
    has_fix: bool,
) -> Data:
    if priority not in PRIORITY_LEVELS:
        raise ValueError(f"unknown priority {priority!r}: one of {', '.join(PRIORITY_LEVELS)}")
    return {
        **repo.base(),
        "tags": list(tags),
        "vulnerability": {
            "id": vuln_id,
            "description": description,
            "link": link,
            "priority": priority,
            "has_fix": has_fix,
        },
    }


def build_data(
    repo: RepoRef,
    *,
    build_id: str,
    docker_tags: list[str],
    build_name: str | None = None,
    trigger_kind: str | None = None,
    trigger_id: str | None = None,
    trigger_metadata: Mapping[str, Any] | None = None,
    is_manual: bool = False,
    manual_user: str | None = None,
    image_id: str | None = None,
    manifest_digests: list[str] | None = None,
    error_message: str | None = None,
) -> Data:
    """Quay's build payload (all build_* events); optional keys appear only when given."""
    data: Data = {
        **repo.base(),
        "build_id": build_id,
        "docker_tags": list(docker_tags),
        "repo": repo.name,
        "trigger_metadata": dict(trigger_metadata or {}),
        "is_manual": is_manual,
        "manual_user": manual_user,
        "homepage": f"{repo.base_url}/repository/{repo.path}/build/{build_id}",
    }
    optional = {
        "build_name": build_name,
        "trigger_kind": trigger_kind,
        "trigger_id": trigger_id,
        "image_id": image_id,
        "manifest_digests": manifest_digests,
        "error_message": error_message,
    }
    data.update({k: v for k, v in optional.items() if v is not None})
    return data


def mirror_data(repo: RepoRef, *, message: str, tags: list[str] | None = None) -> Data:
    return {**repo.base(), "message": message, "tags": list(tags or [])}


def quota_data(
    namespace: str,
    *,
    used_bytes: int,
    quota_bytes: int,
    threshold_percent: int,
    limit_type: str,
) -> Data:
    """Berth's quota payload (Quay documents none): the namespace, its usage and the limit
    that was crossed (``Warning`` or ``Reject``)."""
    percent = round(100 * used_bytes / quota_bytes, 1) if quota_bytes else 0.0
    return {
        "namespace": namespace,
        "used_bytes": used_bytes,
        "quota_bytes": quota_bytes,
        "percent_used": percent,
        "threshold_percent": threshold_percent,
        "limit_type": limit_type,
    }


# ---- the catalogue ----------------------------------------------------------------------
def _no_config(_config: Mapping[str, Any]) -> Data:
    return {}


def _always(_config: Mapping[str, Any], _data: Mapping[str, Any]) -> bool:
    return True


def _level_config(config: Mapping[str, Any]) -> Data:
    level = config.get("level")
    if level is None:
        raise InvalidEventConfig("Missing level for vulnerability_found event")
    try:
        index = int(str(level))
    except ValueError as e:
        raise InvalidEventConfig(f"Invalid vulnerability level {level!r}") from e
    if index not in PRIORITY_LEVELS.values():
        raise InvalidEventConfig(f"Invalid vulnerability level {level!r}")
    return {"level": str(index)}


def _level_applies(config: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    priority = (data.get("vulnerability") or {}).get("priority")
    index = PRIORITY_LEVELS.get(str(priority), PRIORITY_LEVELS["Unknown"])
    return index <= int(config.get("level", PRIORITY_LEVELS["Unknown"]))


def _days_config(config: Mapping[str, Any]) -> Data:
    days = config.get("days")
    try:
        value = int(days)  # type: ignore[arg-type]  # checked below
    except (TypeError, ValueError) as e:
        raise InvalidEventConfig("repo_image_expiry needs a number of days") from e
    if value < 1:
        raise InvalidEventConfig("repo_image_expiry needs a number of days of at least 1")
    return {"days": value}


def _ref_config(config: Mapping[str, Any]) -> Data:
    regex = config.get("ref-regex")
    if not regex:
        return {}
    try:
        re.compile(str(regex))
    except re.error as e:
        raise InvalidEventConfig(f"Invalid ref-regex: {e}") from e
    return {"ref-regex": str(regex)}


def _ref_applies(config: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    regex = config.get("ref-regex")
    if not regex:
        return True
    ref = (data.get("trigger_metadata") or {}).get("ref")
    return ref is not None and re.match(str(regex), str(ref)) is not None


Summary = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class Event:
    name: str
    title: str
    summary: Summary
    level: str = "info"
    scope: str = "repository"
    check_config: Callable[[Mapping[str, Any]], Data] = _no_config
    applies: Callable[[Mapping[str, Any], Mapping[str, Any]], bool] = _always
    sample: Data = field(default_factory=dict)


def _repo(d: Mapping[str, Any]) -> str:
    return str(d.get("repository", ""))


def _tags(d: Mapping[str, Any], key: str) -> str:
    return ", ".join(str(t) for t in d.get(key) or [])


_SAMPLE_REPO = RepoRef("namespace", "repository", "registry.example.com", "https://example.com")
_SAMPLE_BUILD = build_data(
    _SAMPLE_REPO,
    build_id="296ec063-5f86-4706-a469-f0a400bf9df2",
    docker_tags=["latest"],
    build_name="b7f7d2b",
    trigger_kind="github",
    trigger_metadata={"ref": "refs/heads/main", "commit": "b7f7d2b948aacbe844ee"},
)

EVENTS: dict[str, Event] = {
    e.name: e
    for e in (
        Event(
            "repo_push",
            "Push to Repository",
            lambda d: f"Repository {_repo(d)} updated",
            sample=repo_push_data(_SAMPLE_REPO, ["latest", "foo"]),
        ),
        Event(
            "repo_image_expiry",
            "Image expiry trigger",
            lambda d: f"Tags {_tags(d, 'tags')} in {_repo(d)} expire in {d.get('expiring_in')}",
            level="warning",
            check_config=_days_config,
            sample=image_expiry_data(_SAMPLE_REPO, ["latest", "v1"], 1),
        ),
        Event(
            "vulnerability_found",
            "Package Vulnerability Found",
            lambda d: (
                f"{(d.get('vulnerability') or {}).get('priority')} vulnerability "
                f"{(d.get('vulnerability') or {}).get('id')} found in {_repo(d)}"
            ),
            level="error",
            check_config=_level_config,
            applies=_level_applies,
            sample=vulnerability_data(
                _SAMPLE_REPO,
                ["latest"],
                vuln_id="CVE-FAKE-CVE",
                description="A futurist vulnerability",
                link="https://security-tracker.debian.org/tracker/CVE-FAKE-CVE",
                priority="Critical",
                has_fix=True,
            ),
        ),
        Event(
            "build_queued",
            "Dockerfile Build Queued",
            lambda d: f"Build queued for repository {_repo(d)}",
            check_config=_ref_config,
            applies=_ref_applies,
            sample=_SAMPLE_BUILD,
        ),
        Event(
            "build_start",
            "Dockerfile Build Started",
            lambda d: f"Build started for repository {_repo(d)}",
            check_config=_ref_config,
            applies=_ref_applies,
            sample=_SAMPLE_BUILD,
        ),
        Event(
            "build_success",
            "Dockerfile Build Successfully Completed",
            lambda d: f"Build succeeded for repository {_repo(d)}",
            level="success",
            check_config=_ref_config,
            applies=_ref_applies,
            sample={**_SAMPLE_BUILD, "image_id": "sha256:0339f178f26ae24930e9ad32751d68"},
        ),
        Event(
            "build_failure",
            "Dockerfile Build Failed",
            lambda d: f"Build failed for repository {_repo(d)}",
            level="error",
            check_config=_ref_config,
            applies=_ref_applies,
            sample={**_SAMPLE_BUILD, "error_message": "This is a fake error message"},
        ),
        Event(
            "build_cancelled",
            "Dockerfile Build Cancelled",
            lambda d: f"Build cancelled for repository {_repo(d)}",
            level="warning",
            check_config=_ref_config,
            applies=_ref_applies,
            sample=_SAMPLE_BUILD,
        ),
        Event(
            "repo_mirror_sync_started",
            "Repository Mirror Started",
            lambda d: f"Repository mirror started for {_repo(d)}",
            sample=mirror_data(_SAMPLE_REPO, message="TEST NOTIFICATION"),
        ),
        Event(
            "repo_mirror_sync_success",
            "Repository Mirror Success",
            lambda d: f"Repository mirror succeeded for {_repo(d)}",
            level="success",
            sample=mirror_data(_SAMPLE_REPO, message="TEST NOTIFICATION", tags=["latest"]),
        ),
        Event(
            "repo_mirror_sync_failed",
            "Repository Mirror Unsuccessful",
            lambda d: f"Repository mirror failed for {_repo(d)}",
            level="error",
            sample=mirror_data(_SAMPLE_REPO, message="TEST NOTIFICATION"),
        ),
        Event(
            "quota_warning",
            "Quota Warning",
            lambda d: (
                f"Namespace {d.get('namespace')} uses {d.get('percent_used')}% of its quota "
                f"(warning at {d.get('threshold_percent')}%)"
            ),
            level="warning",
            scope="namespace",
            sample=quota_data(
                "namespace",
                used_bytes=850,
                quota_bytes=1000,
                threshold_percent=80,
                limit_type="Warning",
            ),
        ),
        Event(
            "quota_error",
            "Quota Error",
            lambda d: (
                f"Namespace {d.get('namespace')} reached {d.get('percent_used')}% of its quota: "
                "pushes are refused"
            ),
            level="error",
            scope="namespace",
            sample=quota_data(
                "namespace",
                used_bytes=1000,
                quota_bytes=1000,
                threshold_percent=100,
                limit_type="Reject",
            ),
        ),
    )
}


def get_event(name: str) -> Event:
    try:
        return EVENTS[name]
    except KeyError:
        raise UnknownEvent(name) from None


def sample_data(event: Event, repo: RepoRef | None, namespace: str) -> Data:
    """The test payload of ``event`` for a real repository (or namespace)."""
    data = dict(event.sample)
    if repo is not None and "repository" in data:
        data.update(repo.base())
        if "build_id" in data:
            data["repo"] = repo.name
            data["homepage"] = f"{repo.base_url}/repository/{repo.path}/build/{data['build_id']}"
    if event.scope == "namespace":
        data["namespace"] = namespace
    return data
