"""Notifications: create, list, get, delete, reset and test a repository's (or, for quota
events, a namespace's) notifications; the e-mail addresses a repository may mail; users'
in-app notifications; password recovery by e-mail.

Each write is one unit of work with its usage-log entry (Quay's ``add_repo_notification``,
``delete_repo_notification``, ``reset_repo_notification``). A test enqueues one delivery of
the event's sample payload, like a real event. Secrets of a method's config (webhook and
Slack URLs, the signing secret) are stored Fernet-encrypted under DATABASE_SECRET_KEY and
shown masked (``masked_url``, ``********``).
"""

from __future__ import annotations

import builtins  # annotations after the ``list`` method name builtins.list
import hashlib
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, record
from berth.db.session import Database
from berth.identity.models import Team, User
from berth.jobs import enqueue_core
from berth.namespaces.models import ORG_KIND, Namespace
from berth.notifications.errors import (
    InvalidCode,
    InvalidMethodConfig,
    InvalidNotification,
    MailingDisabled,
    NotificationNotFound,
    ScopeNotFound,
    UnknownMethod,
)
from berth.notifications.events import RepoRef, get_event, sample_data
from berth.notifications.hooks import cache_key, enqueue_delivery
from berth.notifications.methods import RETIRED, Method, masked_url, methods
from berth.notifications.models import AuthorizedEmail, Notification, UserNotification
from berth.notifications.settings import NotificationSettings
from berth.notifications.tasks import SEND_EMAIL, SendEmail
from berth.registry.cache import NoCache, ReadCache
from berth.registry.models import Repository
from berth.registry.repositories import RepoName, RepoRow, find_repository

ENCRYPTED_PREFIX = "fernet:"
MASK = "********"


@dataclass(frozen=True)
class Scope:
    """Whose notifications: a repository (``namespace/repository``) or a namespace."""

    namespace: str
    repository: str | None = None

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.repository}" if self.repository else self.namespace


@dataclass(frozen=True)
class NotificationView:
    uuid: str
    title: str | None
    event: str
    method: str
    config: dict[str, Any]  # secrets masked
    event_config: dict[str, Any]
    number_of_failures: int


@dataclass(frozen=True)
class AuthorizedEmailView:
    email: str
    repository: str
    namespace: str
    confirmed: bool
    code: str


@dataclass(frozen=True)
class UserNotificationView:
    uuid: str
    organization: str | None
    kind: str
    created_at: int
    metadata: dict[str, Any]
    dismissed: bool


@dataclass(frozen=True)
class RecoveryResult:
    """Quay's answer: ``sent`` (mailed, or nothing to mail: the answer does not tell), or
    ``org`` for an organization's address (organizations have no password)."""

    status: str
    orgemail: str | None = None
    orgname: str | None = None


def _fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


class NotificationService:
    def __init__(
        self,
        db: Database,
        fernet: Fernet,
        settings: NotificationSettings,
        *,
        check_url: Callable[..., str],
        host: str,
        base_url: str,
        cache: ReadCache[Any] | None = None,
    ) -> None:
        self.cache: ReadCache[Any] = cache if cache is not None else NoCache()
        self.db = db
        self.fernet = fernet
        self.settings = settings
        self.methods: dict[str, Method] = methods(check_url)
        self.host = host
        self.base_url = base_url

    # ---- configs: sealed at rest, masked when shown -------------------------------------
    def seal(self, method: Method, config: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(config)
        for key in method.secret_keys:
            if isinstance(out.get(key), str):
                out[key] = ENCRYPTED_PREFIX + self.fernet.encrypt(out[key].encode()).decode()
        return out

    def open(self, config: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(config)
        for key, value in config.items():
            if isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX):
                token = value.removeprefix(ENCRYPTED_PREFIX).encode()
                out[key] = self.fernet.decrypt(token).decode()
        return out

    def _view(self, row: Notification) -> NotificationView:
        config = self.open(row.config)
        if isinstance(config.get("url"), str):
            config["url"] = masked_url(config["url"])
        if "secret" in config:
            config["secret"] = MASK
        return NotificationView(
            row.uuid,
            row.title,
            row.event,
            row.method,
            config,
            dict(row.event_config or {}),
            row.number_of_failures,
        )

    # ---- scopes ---------------------------------------------------------------------------
    async def _scope(self, s: AsyncSession, scope: Scope) -> tuple[Namespace, RepoRow | None]:
        ns = (
            await s.execute(select(Namespace).where(Namespace.name == scope.namespace))
        ).scalar_one_or_none()
        if ns is None:
            raise ScopeNotFound(f"No namespace {scope.namespace}")
        if scope.repository is None:
            return ns, None
        repo = await find_repository(s, RepoName(scope.namespace, scope.repository))
        if repo is None:
            raise ScopeNotFound(f"No repository {scope.path}")
        return ns, repo

    def _scoped(self, ns: Namespace, repo: RepoRow | None) -> Any:
        cond = Notification.namespace_id == ns.id
        if repo is None:
            return cond & Notification.repository_id.is_(None)
        return cond & (Notification.repository_id == repo.id)

    async def _get(self, s: AsyncSession, scope: Scope, notification_uuid: str) -> Notification:
        ns, repo = await self._scope(s, scope)
        row = (
            await s.execute(
                select(Notification).where(
                    self._scoped(ns, repo), Notification.uuid == notification_uuid
                )
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotificationNotFound(notification_uuid)
        return row

    def _log(
        self,
        s: AsyncSession,
        kind: str,
        scope: Scope,
        row: Notification,
        performer: Performer | None,
    ) -> None:
        meta = {
            "repo": scope.repository,
            "namespace": scope.namespace,
            "notification_id": row.uuid,
            "event": row.event,
            "method": row.method,
        }
        record(
            s, kind, scope.namespace, performer, scope.repository, meta,
            namespace_id=row.namespace_id, repository_id=row.repository_id,
        )  # fmt: skip

    # ---- notifications ----------------------------------------------------------------
    def method(self, name: str) -> Method:
        if name in RETIRED:
            raise InvalidMethodConfig(RETIRED[name])
        found = self.methods.get(name)
        if found is None:
            raise UnknownMethod(name)
        if name == "email" and not self.settings.mailing:
            raise InvalidMethodConfig("E-mail notifications need FEATURE_MAILING")
        return found

    async def create(
        self,
        scope: Scope,
        *,
        event: str,
        method: str,
        config: Mapping[str, Any],
        event_config: Mapping[str, Any],
        title: str | None = None,
        performer: Performer | None = None,
    ) -> NotificationView:
        """Raises UnknownEvent, UnknownMethod, InvalidMethodConfig, InvalidEventConfig,
        InvalidNotification (an event of the other scope) or ScopeNotFound."""
        ev = get_event(event)
        if (ev.scope == "namespace") != (scope.repository is None):
            where = "a namespace" if scope.repository is None else "a repository"
            raise InvalidNotification(f"Event {event} cannot be used on {where}")
        m = self.method(method)
        cleaned = m.check_config(config)
        checked_event_config = ev.check_config(event_config)
        async with self.db.write() as s:
            ns, repo = await self._scope(s, scope)
            if method == "email":
                await self._check_email(s, ns, repo, cleaned["email"])
            elif method == "quay_notification":
                await self._check_target(s, ns, cleaned["target"])
            row = Notification(
                uuid=str(uuid.uuid4()),
                namespace_id=ns.id,
                repository_id=repo.id if repo else None,
                event=event,
                method=method,
                title=title or None,
                config=self.seal(m, cleaned),
                event_config=checked_event_config,
                number_of_failures=0,
            )
            s.add(row)
            await s.flush()
            self._log(s, "add_repo_notification", scope, row, performer)
            view = self._view(row)
        self.changed(row.repository_id)
        return view

    async def _check_email(
        self, s: AsyncSession, ns: Namespace, repo: RepoRow | None, email: str
    ) -> None:
        if repo is None:
            owner = (await s.execute(select(User.email).where(User.namespace_id == ns.id))).scalar()
            if email.lower() not in {(ns.email or "").lower(), (owner or "").lower()}:
                raise InvalidMethodConfig(
                    "A namespace notification can only e-mail the namespace's own address"
                )
            return
        confirmed = (
            await s.execute(
                select(AuthorizedEmail.confirmed).where(
                    AuthorizedEmail.repository_id == repo.id,
                    func.lower(AuthorizedEmail.email) == email.lower(),
                )
            )
        ).scalar()
        if not confirmed:
            raise InvalidMethodConfig(
                f"The e-mail address {email} has not been authorized to receive notifications "
                "for this repository"
            )

    async def _check_target(
        self, s: AsyncSession, ns: Namespace, target: Mapping[str, str]
    ) -> None:
        kind, name = target["kind"], target["name"]
        if kind == "user":
            found = (await s.execute(select(User.kind).where(User.username == name))).scalar()
            if found is None:
                raise InvalidMethodConfig(f"Unknown user {name}")
            if found != "user":
                raise InvalidMethodConfig("Robot accounts cannot receive notifications")
        elif kind == "team":
            team = (
                await s.execute(
                    select(Team.id).where(Team.namespace_id == ns.id, Team.name == name)
                )
            ).scalar()
            if team is None:
                raise InvalidMethodConfig(f"Unknown team {name}")
        elif name != ns.name or ns.kind != ORG_KIND:
            raise InvalidMethodConfig(
                "The notification can only go to the repository's own organization"
            )

    async def list(self, scope: Scope) -> list[NotificationView]:
        async with self.db.read() as s:
            ns, repo = await self._scope(s, scope)
            rows = (
                await s.execute(
                    select(Notification).where(self._scoped(ns, repo)).order_by(Notification.id)
                )
            ).scalars()
            return [self._view(r) for r in rows]

    async def get(self, scope: Scope, notification_uuid: str) -> NotificationView:
        async with self.db.read() as s:
            return self._view(await self._get(s, scope, notification_uuid))

    async def delete(
        self, scope: Scope, notification_uuid: str, *, performer: Performer | None = None
    ) -> NotificationView:
        async with self.db.write() as s:
            row = await self._get(s, scope, notification_uuid)
            view = self._view(row)
            self._log(s, "delete_repo_notification", scope, row, performer)
            await s.delete(row)
        self.changed(row.repository_id)
        return view

    async def reset(
        self, scope: Scope, notification_uuid: str, *, performer: Performer | None = None
    ) -> NotificationView:
        """Failures back to 0: a disabled notification delivers again."""
        async with self.db.write() as s:
            row = await self._get(s, scope, notification_uuid)
            row.number_of_failures = 0
            self._log(s, "reset_repo_notification", scope, row, performer)
            view = self._view(row)
        self.changed(row.repository_id)
        return view

    async def test(self, scope: Scope, notification_uuid: str) -> str:
        """Enqueue a delivery of the event's sample payload; its delivery id."""
        async with self.db.write() as s:
            row = await self._get(s, scope, notification_uuid)
            repo = (
                RepoRef(scope.namespace, scope.repository, self.host, self.base_url)
                if scope.repository
                else None
            )
            data = sample_data(get_event(row.event), repo, scope.namespace)
            return await enqueue_delivery(s, row.id, row.event, data)

    # ---- authorized e-mail addresses ---------------------------------------------------
    def _require_mailing(self) -> None:
        if not self.settings.mailing:
            raise MailingDisabled()

    async def authorized_email(self, repo: RepoName, email: str) -> AuthorizedEmailView | None:
        async with self.db.read() as s:
            _ns, row = await self._scope(s, Scope(repo.namespace, repo.name))
            assert row is not None
            found = (
                await s.execute(
                    select(AuthorizedEmail).where(
                        AuthorizedEmail.repository_id == row.id,
                        func.lower(AuthorizedEmail.email) == email.lower(),
                    )
                )
            ).scalar_one_or_none()
            return self._email_view(found, repo) if found else None

    def _email_view(self, row: AuthorizedEmail, repo: RepoName) -> AuthorizedEmailView:
        return AuthorizedEmailView(row.email, repo.name, repo.namespace, row.confirmed, row.code)

    async def authorize_email(self, repo: RepoName, email: str) -> AuthorizedEmailView:
        """Record the address (if new) and mail it a confirmation link (if unconfirmed)."""
        self._require_mailing()
        async with self.db.write() as s:
            _ns, row = await self._scope(s, Scope(repo.namespace, repo.name))
            assert row is not None
            found = (
                await s.execute(
                    select(AuthorizedEmail).where(
                        AuthorizedEmail.repository_id == row.id,
                        func.lower(AuthorizedEmail.email) == email.lower(),
                    )
                )
            ).scalar_one_or_none()
            if found is None:
                found = AuthorizedEmail(
                    repository_id=row.id,
                    email=email,
                    code=secrets.token_urlsafe(32),
                    confirmed=False,
                )
                s.add(found)
                await s.flush()
            if not found.confirmed:
                await self.mail(
                    s,
                    email,
                    "authorize_email",
                    {
                        "repository": repo.full,
                        "email": email,
                        "confirm_url": f"{self.base_url}/authrepoemail?code={found.code}",
                    },
                )
            return self._email_view(found, repo)

    async def confirm_email(self, code: str) -> AuthorizedEmailView:
        async with self.db.write() as s:
            row = (
                await s.execute(select(AuthorizedEmail).where(AuthorizedEmail.code == code))
            ).scalar_one_or_none()
            if row is None:
                raise InvalidCode("Invalid confirmation code")
            row.confirmed = True
            names = (
                await s.execute(
                    select(Namespace.name, Repository.name)
                    .join(Repository, Repository.namespace_id == Namespace.id)
                    .where(Repository.id == row.repository_id)
                )
            ).one()
            return self._email_view(row, RepoName(names[0], names[1]))

    async def mail(self, s: AsyncSession, to: str, template: str, context: dict[str, Any]) -> None:
        """Enqueue an e-mail in ``s`` (nothing when FEATURE_MAILING is off)."""
        if self.settings.mailing:
            await enqueue_core(s, SEND_EMAIL, SendEmail(to, template, context))

    # ---- in-app notifications of a user ------------------------------------------------
    def _user_view(self, row: UserNotification) -> UserNotificationView:
        return UserNotificationView(
            row.uuid, row.organization, row.kind, row.created_at, dict(row.meta), row.dismissed
        )

    async def user_notifications(
        self, user_id: int, *, page: int = 1, limit: int = 10
    ) -> tuple[builtins.list[UserNotificationView], bool]:
        """Newest first, ``limit`` per page; and whether there are more."""
        page, limit = max(page, 1), min(max(limit, 1), 100)
        async with self.db.read() as s:
            rows = list(
                (
                    await s.execute(
                        select(UserNotification)
                        .where(UserNotification.user_id == user_id)
                        .order_by(UserNotification.created_at.desc(), UserNotification.id.desc())
                        .offset((page - 1) * limit)
                        .limit(limit + 1)
                    )
                ).scalars()
            )
        return [self._user_view(r) for r in rows[:limit]], len(rows) > limit

    async def user_notification(self, user_id: int, notification_uuid: str) -> UserNotificationView:
        async with self.db.read() as s:
            return self._user_view(await self._user_row(s, user_id, notification_uuid))

    async def _user_row(
        self, s: AsyncSession, user_id: int, notification_uuid: str
    ) -> UserNotification:
        row = (
            await s.execute(
                select(UserNotification).where(
                    UserNotification.user_id == user_id, UserNotification.uuid == notification_uuid
                )
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotificationNotFound(notification_uuid)
        return row

    async def dismiss(
        self, user_id: int, notification_uuid: str, *, dismissed: bool = True
    ) -> UserNotificationView:
        async with self.db.write() as s:
            row = await self._user_row(s, user_id, notification_uuid)
            row.dismissed = dismissed
            return self._user_view(row)

    # ---- password recovery ---------------------------------------------------------------
    async def request_recovery(self, email: str) -> RecoveryResult:
        """Mail a one-time reset link to the user with this address."""
        self._require_mailing()
        async with self.db.write() as s:
            org = (
                await s.execute(
                    select(Namespace.name, Namespace.email).where(
                        Namespace.kind == ORG_KIND, func.lower(Namespace.email) == email.lower()
                    )
                )
            ).first()
            if org is not None:
                return RecoveryResult("org", orgemail=org[1], orgname=org[0])
            user = (
                await s.execute(
                    select(User).where(
                        User.kind == "user",
                        User.enabled.is_(True),
                        func.lower(User.email) == email.lower(),
                    )
                )
            ).scalar_one_or_none()
            if user is not None and user.email is not None:
                await self._mail_recovery(s, user, user.email)
        return RecoveryResult("sent")

    async def send_recovery(self, username: str) -> str:
        """A superuser's ``sendrecovery``: mail the user a reset link; the address.
        ScopeNotFound for an unknown user, InvalidCode for one without an address."""
        self._require_mailing()
        async with self.db.write() as s:
            user = (
                await s.execute(select(User).where(User.username == username, User.kind == "user"))
            ).scalar_one_or_none()
            if user is None:
                raise ScopeNotFound(f"No user {username}")
            if not user.email:
                raise InvalidCode(f"User {username} has no e-mail address")
            await self._mail_recovery(s, user, user.email)
            return user.email

    async def _mail_recovery(self, s: AsyncSession, user: User, email: str) -> None:
        token = self.fernet.encrypt(
            orjson.dumps({"u": user.id, "h": _fingerprint(user.password_hash)})
        ).decode()
        await self.mail(
            s,
            email,
            "recovery",
            {
                "username": user.username,
                "recovery_url": f"{self.base_url}/recovery?code={token}",
                "lifetime_minutes": self.settings.recovery_token_lifetime_s // 60,
            },
        )

    async def recovery_user(self, code: str) -> int:
        """The user id a recovery code is for; InvalidCode when unknown, expired or used
        (the password changed since it was sent)."""
        try:
            data = orjson.loads(
                self.fernet.decrypt(code.encode(), ttl=self.settings.recovery_token_lifetime_s)
            )
            user_id = int(data["u"])
        except (InvalidToken, ValueError, KeyError, TypeError, orjson.JSONDecodeError) as e:
            raise InvalidCode("Invalid or expired recovery code") from e
        async with self.db.read() as s:
            password_hash = (
                await s.execute(
                    select(User.password_hash).where(User.id == user_id, User.enabled.is_(True))
                )
            ).first()
        if password_hash is None or _fingerprint(password_hash[0]) != data.get("h"):
            raise InvalidCode("Invalid or expired recovery code")
        return user_id

    def changed(self, repository_id: int | None) -> None:
        """After a commit that changed which of a repository's notifications are live."""
        if repository_id is not None:
            self.cache.invalidate(cache_key(repository_id))

    async def reset_failures(self, notification_id: int, repository_id: int | None) -> None:
        async with self.db.write() as s:
            await s.execute(
                update(Notification)
                .where(Notification.id == notification_id)
                .values(number_of_failures=0)
            )
        self.changed(repository_id)

    async def count_failure(self, notification_id: int, repository_id: int | None) -> None:
        async with self.db.write() as s:
            await s.execute(
                update(Notification)
                .where(Notification.id == notification_id)
                .values(number_of_failures=Notification.number_of_failures + 1)
            )
        self.changed(repository_id)
