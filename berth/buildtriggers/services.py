"""Build triggers: set up, activate, analyze, enable/disable, delete and start them, and
turn a push webhook into a build.

Quay's flow: a trigger is created inactive (``create``: the custom-git setup route or an
SCM's OAuth callback), then ``activate`` checks its config (the source, the Dockerfile
path and context, the ``branchtag_regex`` filter, the tag templates) and stores it with a
new deploy key pair and webhook token. The deploy key's private half and the token are
Fernet-encrypted under DATABASE_SECRET_KEY; the private key is never shown, the token
only inside the webhook URL an admin reads (Quay's ``credentials``).

A push (``handle_webhook``) is authenticated (``berth.buildtriggers.webhooks``), parsed into
Quay's trigger metadata (``payloads``), filtered (``[skip build]``, ``branchtag_regex``),
tagged (``templates``) and handed to the build service as a git context at the pushed
commit. ``start`` does the same for a manual run: Quay's ``commit_sha`` for custom git, or a
branch/tag (``refs``, ``branch_name``) resolved with ``git ls-remote`` through the SSRF
guard. Writes are one unit of work each with Quay's usage-log entry
(``setup_repo_trigger``, ``toggle_repo_trigger``, ``delete_repo_trigger``).
"""

from __future__ import annotations

import builtins
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, record
from berth.builds.types import BuildContext, BuildRecord
from berth.buildtriggers import payloads, templates
from berth.buildtriggers.errors import (
    InvalidTriggerRequest,
    RepositoryNotNormal,
    RobotNotAllowed,
    RobotNotFound,
    ServiceUnavailable,
    SourceUnreachable,
    TriggerNotFound,
    WebhookForbidden,
)
from berth.buildtriggers.keys import generate_ssh_keypair
from berth.buildtriggers.models import BuildTrigger
from berth.buildtriggers.settings import BuildTriggerSettings
from berth.buildtriggers.webhooks import TOKEN_USER, WebhookRefused, authenticate
from berth.db.session import Database
from berth.identity.models import User
from berth.namespaces.models import Namespace
from berth.outbound import AddressPolicy, OutboundClients, OutboundError
from berth.outbound import git as gitsource
from berth.registry.models import Repository
from berth.registry.repositories import RepoName, RepoRow, find_repository

_SCM_SOURCE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
_SHA = re.compile(r"^[A-Fa-f0-9]{7,40}$")
_REF_NAME = re.compile(r"^[^\s~^:?*\[\\]+$")
# Quay's names in the config; the aliases are accepted on activation.
_ALIASES = {
    "tag_with_branch_or_tag": "default_tag_from_ref",
    "tag_with_latest": "latest_for_default_branch",
    "ref_regex": "branchtag_regex",
    "ref-regex": "branchtag_regex",
}


class BuildStarter(Protocol):
    """The build service as triggers use it (``berth.builds.services.BuildService``)."""

    async def start_build(
        self,
        session: AsyncSession | None,
        *,
        namespace: str,
        repository: str,
        performer: Performer | None,
        context: BuildContext,
        docker_tags: Sequence[str],
        subdirectory: str = "",
        dockerfile_path: str = "Dockerfile",
        pull_robot: str | None = None,
        trigger_uuid: str | None = None,
        trigger_metadata: dict[str, Any] | None = None,
        manual_user: str | None = None,
    ) -> BuildRecord: ...

    async def list_builds(
        self,
        namespace: str,
        repository: str,
        *,
        limit: int = 5,
        since_ms: int | None = None,
        trigger_uuid: str | None = None,
    ) -> builtins.list[BuildRecord]: ...


@dataclass(frozen=True)
class TriggerView:
    uuid: str
    service: str
    is_active: bool
    build_source: str | None
    repository_url: str | None
    config: dict[str, Any]  # with ``credentials`` when active; no secrets but the URL's token
    enabled: bool
    disabled_reason: str | None
    pull_robot: str | None
    namespace: str
    repository: str


@dataclass(frozen=True)
class WebhookResult:
    """``build`` when one was started; ``skipped`` says why not otherwise."""

    build: BuildRecord | None = None
    skipped: str | None = None


@dataclass
class _Loaded:
    row: BuildTrigger
    repo: RepoRow
    pull_robot: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _git_url_of(service: str, source: str, endpoint: str | None) -> str:
    """The SSH clone URL of an SCM trigger's ``owner/repo``."""
    if service == "custom-git":
        return source
    host = urlsplit(endpoint).hostname if endpoint else None
    host = host or {"github": "github.com", "gitlab": "gitlab.com"}.get(service, "bitbucket.org")
    return f"git@{host}:{source}.git"


def _path(config: Mapping[str, Any], key: str, default: str) -> str:
    value = config.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise InvalidTriggerRequest(f"{key}: a path is a string")
    parts = [p for p in value.strip().split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidTriggerRequest(f"{key}: `..` is not allowed in {value!r}")
    return "/" + "/".join(parts)


class BuildTriggerService:
    def __init__(
        self,
        db: Database,
        fernet: Fernet,
        settings: BuildTriggerSettings,
        *,
        policy: AddressPolicy,
        base_url: str,
        builds: BuildStarter | None,
        outbound: OutboundClients | None = None,
    ) -> None:
        self.db = db
        self.fernet = fernet
        self.settings = settings
        self.policy = policy
        self.base_url = base_url
        self.builds = builds
        self.outbound = outbound

    # ---- secrets ---------------------------------------------------------------------------
    def _seal(self, value: str) -> str:
        return self.fernet.encrypt(value.encode()).decode()

    def _open(self, value: str | None) -> str | None:
        return self.fernet.decrypt(value.encode()).decode() if value else None

    def webhook_url(self, row: BuildTrigger) -> str | None:
        token = self._open(row.webhook_secret)
        if token is None:
            return None
        parts = urlsplit(self.base_url)
        return (
            f"{parts.scheme}://{TOKEN_USER}:{token}@{parts.netloc}/webhooks/push/trigger/{row.uuid}"
        )

    # ---- views -----------------------------------------------------------------------------
    def _repository_url(self, row: BuildTrigger) -> str | None:
        source = row.config.get("build_source")
        if not source or row.service == "custom-git":
            return None
        app = self.settings.app(row.service)
        site = (
            app.endpoint
            if app
            else {
                "github": "https://github.com/",
                "gitlab": "https://gitlab.com/",
                "bitbucket": "https://bitbucket.org/",
            }[row.service]
        )
        return f"{site}{source}"

    def _view(self, loaded: _Loaded) -> TriggerView:
        row = loaded.row
        config = dict(row.config)
        if row.activated:
            config["credentials"] = [
                {"name": "SSH Public Key", "value": row.public_key or ""},
                {"name": "Webhook Endpoint URL", "value": self.webhook_url(row) or ""},
            ]
        return TriggerView(
            uuid=row.uuid,
            service=row.service,
            is_active=row.activated,
            build_source=config.get("build_source"),
            repository_url=self._repository_url(row),
            config=config,
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            pull_robot=loaded.pull_robot,
            namespace=loaded.repo.namespace,
            repository=loaded.repo.name,
        )

    # ---- lookups ---------------------------------------------------------------------------
    async def _repo(self, s: AsyncSession, repo: RepoName) -> RepoRow:
        found = await find_repository(s, repo)
        if found is None:
            raise TriggerNotFound("")
        return found

    async def _robot_name(self, s: AsyncSession, robot_id: int | None) -> str | None:
        if robot_id is None:
            return None
        return (await s.execute(select(User.username).where(User.id == robot_id))).scalar()

    async def _load(self, s: AsyncSession, repo: RepoName, trigger_uuid: str) -> _Loaded:
        found = await self._repo(s, repo)
        row = (
            await s.execute(
                select(BuildTrigger).where(
                    BuildTrigger.uuid == trigger_uuid, BuildTrigger.repository_id == found.id
                )
            )
        ).scalar_one_or_none()
        if row is None:
            raise TriggerNotFound(trigger_uuid)
        return _Loaded(row, found, await self._robot_name(s, row.pull_robot_id))

    def _log(
        self, s: AsyncSession, kind: str, loaded: _Loaded, performer: Performer | None, **meta: Any
    ) -> None:
        repo = loaded.repo
        metadata = {
            "repo": repo.name,
            "namespace": repo.namespace,
            "trigger_id": loaded.row.uuid,
            "service": loaded.row.service,
            **meta,
        }
        record(
            s, kind, repo.namespace, performer, repo.name, metadata,
            namespace_id=repo.namespace_id, repository_id=repo.id,
        )  # fmt: skip

    # ---- create, list, get -------------------------------------------------------------------
    async def create(
        self,
        repo: RepoName,
        service: str,
        *,
        connected_user_id: int | None,
        auth_token: str | None = None,
    ) -> TriggerView:
        """A new, inactive trigger (the setup page activates it)."""
        if service not in self.settings.services:
            raise ServiceUnavailable(f"Build triggers of {service} are not enabled")
        async with self.db.write() as s:
            found = await self._repo(s, repo)
            row = BuildTrigger(
                uuid=str(uuid.uuid4()),
                repository_id=found.id,
                service=service,
                connected_user_id=connected_user_id,
                config={},
                activated=False,
                enabled=True,
                auth_token=self._seal(auth_token) if auth_token else None,
            )
            s.add(row)
            await s.flush()
            return self._view(_Loaded(row, found))

    def callback_url(self, service: str, repo: RepoName) -> str:
        return f"{self.base_url}/oauth2/{service}/callback/trigger/{repo.full}"

    async def connect(
        self, repo: RepoName, service: str, code: str, *, connected_user_id: int
    ) -> TriggerView:
        """An SCM's OAuth callback: exchange ``code`` for an access token at the service
        (through the outbound client) and create the trigger with it (encrypted)."""
        app = self.settings.app(service)
        if app is None or self.outbound is None:
            raise ServiceUnavailable(f"Build triggers of {service} are not enabled")
        try:
            form = {
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "code": code,
                "grant_type": "authorization_code",
                "redirect_uri": self.callback_url(service, repo),
            }
            r = await self.outbound.client().post(
                app.token_url,
                content=urlencode(form),
                headers={
                    "Accept": "application/json",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            token = r.json().get("access_token") if r.status_code == 200 else None
        except (OutboundError, ValueError) as e:
            raise SourceUnreachable(f"Could not reach {service}: {e}") from e
        if not isinstance(token, str) or not token:
            raise InvalidTriggerRequest(f"{service} did not grant access (status {r.status_code})")
        return await self.create(
            repo, service, connected_user_id=connected_user_id, auth_token=token
        )

    async def list(self, repo: RepoName) -> builtins.list[TriggerView]:
        async with self.db.read() as s:
            found = await self._repo(s, repo)
            rows = (
                await s.execute(
                    select(BuildTrigger)
                    .where(BuildTrigger.repository_id == found.id)
                    .order_by(BuildTrigger.id)
                )
            ).scalars()
            return [
                self._view(_Loaded(r, found, await self._robot_name(s, r.pull_robot_id)))
                for r in rows
            ]

    async def views(self, trigger_uuids: Sequence[str]) -> dict[str, TriggerView]:
        """The triggers of these uuids (the builds routes show each build's trigger);
        deleted ones are left out."""
        if not trigger_uuids:
            return {}
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(BuildTrigger, Namespace.name, Repository.name)
                    .join(Repository, Repository.id == BuildTrigger.repository_id)
                    .join(Namespace, Namespace.id == Repository.namespace_id)
                    .where(BuildTrigger.uuid.in_(set(trigger_uuids)))
                )
            ).all()
            out = {}
            for row, ns, name in rows:
                repo = await self._repo(s, RepoName(ns, name))
                robot = await self._robot_name(s, row.pull_robot_id)
                out[row.uuid] = self._view(_Loaded(row, repo, robot))
            return out

    async def get(self, repo: RepoName, trigger_uuid: str) -> TriggerView:
        async with self.db.read() as s:
            return self._view(await self._load(s, repo, trigger_uuid))

    # ---- config ----------------------------------------------------------------------------
    def check_config(self, service: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """The config to store, or InvalidTriggerRequest with what is wrong."""
        if not isinstance(config, Mapping):
            raise InvalidTriggerRequest("config: an object")
        given = {_ALIASES.get(k, k): v for k, v in config.items() if k != "credentials"}
        source = given.get("build_source")
        if service == "custom-git":
            try:
                parsed = gitsource.parse_git_url(source)
                gitsource.check_literal(parsed, self.policy)
            except gitsource.GitSourceError as e:
                raise InvalidTriggerRequest(str(e)) from e
        elif not isinstance(source, str) or not _SCM_SOURCE.match(source):
            raise InvalidTriggerRequest("build_source: the repository as owner/name")
        out: dict[str, Any] = {
            "build_source": source,
            "dockerfile_path": _path(given, "dockerfile_path", "/Dockerfile"),
            "context": _path(given, "context", "/"),
        }
        if out["dockerfile_path"] == "/":
            raise InvalidTriggerRequest("dockerfile_path: names a file")
        regex = given.get("branchtag_regex")
        if regex not in (None, ""):
            if not isinstance(regex, str):
                raise InvalidTriggerRequest("branchtag_regex: a regular expression (string)")
            try:
                re.compile(regex)
            except re.error as e:
                raise InvalidTriggerRequest(f"Invalid branch/tag regular expression: {e}") from e
            out["branchtag_regex"] = regex
        for key in ("default_tag_from_ref", "latest_for_default_branch"):
            value = given.get(key, True)
            if not isinstance(value, bool):
                raise InvalidTriggerRequest(f"{key}: true or false")
            out[key] = value
        try:
            out["tag_templates"] = list(templates.check_all(given.get("tag_templates")))
        except templates.InvalidTemplate as e:
            raise InvalidTriggerRequest(str(e)) from e
        for key in ("master_branch", "default_branch"):
            value = given.get(key)
            if isinstance(value, str) and value and _REF_NAME.match(value):
                out["default_branch"] = value
        return out

    # ---- activate, analyze, toggle, delete ---------------------------------------------------
    async def activate(
        self,
        repo: RepoName,
        trigger_uuid: str,
        config: Mapping[str, Any],
        *,
        pull_robot: str | None,
        performer: Performer | None,
    ) -> TriggerView:
        """Quay's answers: 400 already active or a bad config, robot 404/403."""
        async with self.db.write() as s:
            loaded = await self._load(s, repo, trigger_uuid)
            row = loaded.row
            if row.activated:
                raise InvalidTriggerRequest("Trigger config is not sufficient for activation.")
            cleaned = self.check_config(row.service, config)
            if pull_robot:
                robot = (
                    await s.execute(select(User.id, User.kind).where(User.username == pull_robot))
                ).first()
                if robot is None or robot.kind != "robot":
                    raise RobotNotFound(f"Could not find robot {pull_robot}")
                if pull_robot.split("+", 1)[0] != loaded.repo.namespace:
                    raise RobotNotAllowed(pull_robot)
                row.pull_robot_id = robot.id
                loaded.pull_robot = pull_robot
            public, private = generate_ssh_keypair(f"berth-trigger-{row.uuid}")
            row.public_key = public
            row.private_key = self._seal(private)
            row.webhook_secret = self._seal(secrets.token_urlsafe(30))
            row.config = cleaned
            row.activated = True
            self._log(
                s, "setup_repo_trigger", loaded, performer,
                pull_robot=loaded.pull_robot, config=cleaned,
            )  # fmt: skip
            return self._view(loaded)

    async def analyze(
        self, repo: RepoName, trigger_uuid: str, config: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Quay's analysis shape, without reading the Dockerfile (that needs the source):
        ``{"status": "warning", "message": ...}`` for a config that would be accepted,
        ``{"status": "error", "message": ...}`` otherwise."""
        async with self.db.read() as s:
            loaded = await self._load(s, repo, trigger_uuid)
        try:
            cleaned = self.check_config(loaded.row.service, config)
        except InvalidTriggerRequest as e:
            return {"status": "error", "message": e.message}
        return {
            "status": "warning",
            "message": (
                f"Berth reads the Dockerfile ({cleaned['dockerfile_path']}) when it builds; "
                "a private base image needs a pull robot with read access to it."
            ),
            "is_admin": True,
            "namespace": loaded.repo.namespace,
            "name": loaded.repo.name,
            "robots": [],
        }

    async def set_enabled(
        self, repo: RepoName, trigger_uuid: str, enabled: bool, *, performer: Performer | None
    ) -> TriggerView:
        async with self.db.write() as s:
            loaded = await self._load(s, repo, trigger_uuid)
            if not loaded.row.activated:
                raise InvalidTriggerRequest("Cannot update an unactivated trigger")
            loaded.row.enabled = enabled
            loaded.row.disabled_reason = None if enabled else "user_toggled"
            self._log(s, "toggle_repo_trigger", loaded, performer, enabled=enabled)
            return self._view(loaded)

    async def delete(
        self, repo: RepoName, trigger_uuid: str, *, performer: Performer | None
    ) -> None:
        async with self.db.write() as s:
            loaded = await self._load(s, repo, trigger_uuid)
            if loaded.row.activated:  # Quay logs only active triggers' deletion
                self._log(s, "delete_repo_trigger", loaded, performer)
            await s.delete(loaded.row)

    # ---- starting builds -------------------------------------------------------------------
    def _git_url(self, row: BuildTrigger) -> str:
        app = self.settings.app(row.service)
        return _git_url_of(
            row.service, str(row.config.get("build_source")), app.endpoint if app else None
        )

    async def _start(
        self,
        loaded: _Loaded,
        metadata: dict[str, Any],
        *,
        performer: Performer | None,
        manual_user: str | None,
    ) -> BuildRecord:
        if self.builds is None:
            raise ServiceUnavailable("Builds are not enabled (FEATURE_BUILD_SUPPORT)")
        row = loaded.row
        config = row.config
        tags = templates.determine_tags(templates.options_from(config), metadata)
        context = str(config.get("context", "/")).strip("/")
        dockerfile = str(config.get("dockerfile_path", "/Dockerfile")).strip("/")
        return await self.builds.start_build(
            None,
            namespace=loaded.repo.namespace,
            repository=loaded.repo.name,
            performer=performer,
            context=BuildContext.git(
                str(metadata.get("git_url") or self._git_url(row)),
                metadata.get("ref"),
                str(metadata["commit"]),
                self._open(row.private_key),
            ),
            docker_tags=tags,
            subdirectory=context,
            dockerfile_path=dockerfile or "Dockerfile",
            pull_robot=loaded.pull_robot,
            trigger_uuid=row.uuid,
            trigger_metadata=metadata,
            manual_user=manual_user,
        )

    def _check_runnable(self, loaded: _Loaded) -> None:
        if loaded.repo.state != "NORMAL":
            raise RepositoryNotNormal("Repository is currently in read only or mirror mode")

    async def start(
        self,
        repo: RepoName,
        trigger_uuid: str,
        run_parameters: Mapping[str, Any],
        *,
        performer: Performer | None,
    ) -> BuildRecord:
        """A manual run (Quay's ``manuallyStartBuildTrigger``): ``commit_sha``, or a
        branch/tag (``refs: {kind, name}``, ``branch_name``) resolved with git ls-remote;
        the default branch when none is named (SCM triggers)."""
        async with self.db.read() as s:
            loaded = await self._load(s, repo, trigger_uuid)
        row = loaded.row
        if not row.enabled:
            raise InvalidTriggerRequest("Trigger is not enabled.")
        if not row.activated:
            raise InvalidTriggerRequest("Trigger is not active.")
        self._check_runnable(loaded)
        git_url = self._git_url(row)
        default_branch = row.config.get("default_branch")
        refs = run_parameters.get("refs")
        ref: str | None = None
        if isinstance(refs, Mapping) and refs.get("name"):
            kind = "tags" if refs.get("kind") == "tag" else "heads"
            ref = f"refs/{kind}/{refs['name']}"
        elif isinstance(run_parameters.get("branch_name"), str) and run_parameters["branch_name"]:
            ref = f"refs/heads/{run_parameters['branch_name']}"
        sha = run_parameters.get("commit_sha")
        if sha is not None and (not isinstance(sha, str) or not _SHA.match(sha)):
            raise InvalidTriggerRequest("commit_sha: a commit SHA (7 to 40 hex digits)")
        if sha is None and ref is None:
            if row.service == "custom-git":
                raise InvalidTriggerRequest("missing required parameter")
            ref = f"refs/heads/{default_branch or 'master'}"
        if ref is not None and not _REF_NAME.match(ref):
            raise InvalidTriggerRequest(f"Invalid ref {ref!r}")
        if sha is None and ref is not None:
            try:
                source = gitsource.parse_git_url(git_url)
                sha = await gitsource.ls_remote(
                    source, self.policy, self._open(row.private_key), ref
                )
            except gitsource.GitSourceError as e:
                raise SourceUnreachable(f"Could not read {ref} from the repository: {e}") from e
            if sha is None:
                raise InvalidTriggerRequest(f"Could not find {ref} in the repository")
        metadata: dict[str, Any] = {"commit": sha, "git_url": git_url}
        if ref is not None:
            metadata["ref"] = ref
            if default_branch:
                metadata["default_branch"] = default_branch
        user = performer.name if performer else None
        return await self._start(loaded, metadata, performer=performer, manual_user=user)

    async def handle_webhook(
        self, trigger_uuid: str, headers: Mapping[str, str], body: bytes
    ) -> WebhookResult:
        """A push: WebhookForbidden (403) without the trigger's token, InvalidTriggerRequest
        (400) for a trigger not active or disabled or a payload that is not one,
        TriggerNotFound (404); ``skipped`` when the push builds nothing."""
        async with self.db.read() as s:
            row = (
                await s.execute(select(BuildTrigger).where(BuildTrigger.uuid == trigger_uuid))
            ).scalar_one_or_none()
            if row is None:
                raise TriggerNotFound(trigger_uuid)
            repo = await self._load_repo_by_id(s, row.repository_id)
            loaded = _Loaded(row, repo, await self._robot_name(s, row.pull_robot_id))
        secret = self._open(row.webhook_secret)
        if secret is None:
            raise WebhookForbidden("The trigger is not active")
        try:
            authenticate(headers, body, secret)
        except WebhookRefused as e:
            raise WebhookForbidden(str(e)) from e
        self._check_runnable(loaded)
        event = (headers.get("x-github-event") or "").lower()
        if event == "ping":
            return WebhookResult(skipped="GitHub ping")
        if event and event != "push":
            return WebhookResult(skipped=f"GitHub {event} event")
        gitlab_event = headers.get("x-gitlab-event")
        if gitlab_event and gitlab_event not in ("Push Hook", "Tag Push Hook"):
            return WebhookResult(skipped=f"GitLab {gitlab_event}")
        payload = _payload(headers, body)
        try:
            metadata = payloads.parse(
                row.service,
                payload,
                git_url=row.config.get("build_source"),
                default_branch=row.config.get("default_branch"),
            )
        except payloads.Skip as e:
            return WebhookResult(skipped=str(e))
        except payloads.InvalidPayload as e:
            raise InvalidTriggerRequest(str(e)) from e
        if row.service != "custom-git" and not metadata.get("git_url"):
            metadata["git_url"] = self._git_url(row)
        reason = payloads.skip_reason(metadata, row.config)
        if reason is not None:
            return WebhookResult(skipped=reason)
        if not row.enabled:
            raise InvalidTriggerRequest(
                "This build trigger is currently disabled. Please re-enable to continue."
            )
        build = await self._start(loaded, metadata, performer=None, manual_user=None)
        return WebhookResult(build=build)

    async def builds_of(
        self, repo: RepoName, trigger_uuid: str, *, limit: int = 5
    ) -> builtins.list[BuildRecord]:
        """The builds the trigger started, newest first (Quay's default limit: 5)."""
        async with self.db.read() as s:
            await self._load(s, repo, trigger_uuid)
        if self.builds is None:
            return []
        return await self.builds.list_builds(
            repo.namespace, repo.name, limit=limit, trigger_uuid=trigger_uuid
        )

    async def _load_repo_by_id(self, s: AsyncSession, repository_id: int) -> RepoRow:
        found = (
            await s.execute(
                select(Namespace.name, Repository.name)
                .join(Namespace, Namespace.id == Repository.namespace_id)
                .where(Repository.id == repository_id)
            )
        ).first()
        if found is None:
            raise TriggerNotFound("")
        return await self._repo(s, RepoName(found[0], found[1]))


def _payload(headers: Mapping[str, str], body: bytes) -> Any:
    if not body:
        raise InvalidTriggerRequest("Missing expected payload")
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode(errors="replace"))
        if "payload" not in form:
            raise InvalidTriggerRequest("Missing expected payload")
        body = form["payload"][0].encode()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise InvalidTriggerRequest(f"Invalid JSON payload: {e}") from e
