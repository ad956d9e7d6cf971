"""The usage-logs service: pages, aggregates, exports and rotation, in Quay's shapes.

The /api/v1 logs routes resolve who may read what and call one method here; the entries
come from the ``LogsModel`` store (``berth.usagelogs.store``). What Quay shows for an entry:
``kind``, ``metadata``, ``ip``, ``datetime`` (RFC 2822), ``performer`` (``{kind: "user",
name, is_robot, avatar}``; robots are users with ``is_robot``, a token's pulls show its
user or robot, with ``oauth_token_id`` or Quay's token metadata) and ``namespace``
(``{kind: "org"|"user", name, avatar}``).

Paging: a ``next_page`` token is the keyset cursor sealed with the secret key (two days;
one that cannot be opened, tampered or expired, is the first page, as in Quay), and
``ACTION_LOG_MAX_PAGE`` caps how many pages a walk may go.

Exports: the API call validates, counts (over the limit: refused with a message) and
enqueues the job in the transaction that writes ``export_logs_success``; the job streams
one JSON document (Quay's ``{export_id, details, logs: [..., {"terminator": true}]}``)
into storage, then tells the callback URL (Quay's payload, through the outbound client and
its SSRF guard) and/or the e-mail address (``LogsExportedMailer``) where to download it.
The link (``/exportedlogs/<token>``) works for ``EXPORT_ACTION_LOGS_SECONDS``; the job that
wrote the file enqueues its deletion (``DELETE_LOG_EXPORT``) for a minute after that.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any

import orjson
from cryptography.fernet import InvalidToken
from sqlalchemy import select

from berth.audit.services import Performer, record
from berth.auth.tokens import fernet_for
from berth.db.base import now_ms
from berth.db.session import Database
from berth.identity.avatars import avatar
from berth.identity.models import User
from berth.jobs import NoPayload, enqueue
from berth.namespaces.models import ORG_KIND, Namespace
from berth.outbound import OutboundClients, OutboundError
from berth.registry.models import Repository
from berth.storage.base import BlobStorage
from berth.usagelogs.errors import (
    AggregateRangeTooLong,
    ExportTooLarge,
    InvalidDateRange,
    InvalidExport,
    UnknownScope,
)
from berth.usagelogs.mail import LogsExportedMailer
from berth.usagelogs.settings import UsageLogSettings
from berth.usagelogs.store import (
    CLOSE_MS,
    DAY_MS,
    ArchivedFile,
    Cursor,
    LogFilter,
    LogsModel,
    StoredEntry,
)
from berth.usagelogs.tasks import DELETE_LOG_EXPORT, EXPORT_LOGS, DeleteLogExport, ExportLogs

log = logging.getLogger(__name__)

LOGS_PER_PAGE = 20
PAGE_TOKEN_TTL_S = 2 * 86400
AGGREGATE_MAX = timedelta(weeks=4)
#: Quay's service-key kinds, hidden from a user's own logs.
SERVICE_LEVEL_LOG_KINDS = frozenset(
    {
        "service_key_create", "service_key_approve", "service_key_delete",
        "service_key_modify", "service_key_extend", "service_key_rotate",
    }
)  # fmt: skip
EXPORT_BATCH = 1000
#: How far back the hourly sweep counts closed days (an aggregate spans under four weeks).
SWEEP_DAYS = 32
SWEEP_INTERVAL_S = 3600
#: An export's file outlives its link by this much, so a download under way finishes.
EXPORT_FILE_GRACE_S = 60


# ---- dates -----------------------------------------------------------------------------


def _parse_day(value: str | None) -> datetime | None:
    """Quay's ``%m/%d/%Y`` (UTC); anything else is "not given"."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%m/%d/%Y").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class DateRange:
    start: datetime
    end: datetime

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


def date_range(
    starttime: str | None, endtime: str | None, now: datetime | None = None
) -> DateRange:
    """Quay's ``starttime``/``endtime``: ``MM/DD/YYYY`` UTC days, a missing or malformed one
    defaults to now-1d / now, and the end day is inclusive (one day is added). An end before
    the start raises InvalidDateRange."""
    now = now or datetime.now(UTC)
    start = _parse_day(starttime) or (now - timedelta(days=1))
    end = (_parse_day(endtime) or now) + timedelta(days=1)
    if end < start:
        raise InvalidDateRange("Invalid time span selected")
    return DateRange(start, end)


def format_ms(ms: int) -> str:
    return formatdate(ms / 1000)


# ---- scopes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogScope:
    """Whose logs: a repository's, a namespace's (organization or the caller's own), or
    everything (superuser). ``exclude_kinds``: Quay hides service-key kinds from users."""

    namespace: str | None = None
    repository: str | None = None
    exclude_kinds: frozenset[str] = frozenset()

    @classmethod
    def of_repository(cls, namespace: str, repository: str) -> LogScope:
        return cls(namespace, repository)

    @classmethod
    def of_namespace(cls, namespace: str, *, own: bool = False) -> LogScope:
        return cls(namespace, None, SERVICE_LEVEL_LOG_KINDS if own else frozenset())

    @classmethod
    def everything(cls) -> LogScope:
        return cls()


@dataclass(frozen=True)
class _Resolved:
    namespace_id: int | None
    namespace: str | None
    repository_id: int | None
    repository: str | None


@dataclass(frozen=True)
class LogsPage:
    start_time: str
    end_time: str
    logs: list[dict[str, Any]]
    next_page: str | None


# ---- the service -----------------------------------------------------------------------


class UsageLogService:
    def __init__(
        self,
        db: Database,
        store: LogsModel,
        storage: BlobStorage,
        outbound: OutboundClients,
        settings: UsageLogSettings,
        *,
        secret_key: str,
        base_url: str,
        mailer: LogsExportedMailer | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.storage = storage
        self.outbound = outbound
        self.settings = settings
        self.base_url = base_url
        self.mailer = mailer
        self._pages = fernet_for("berth-logs-page:" + secret_key)
        self._links = fernet_for("berth-logs-export:" + secret_key)

    # ---- reading -------------------------------------------------------------------------
    async def _resolve(self, scope: LogScope) -> _Resolved:
        if scope.namespace is None:
            return _Resolved(None, None, None, None)
        async with self.db.read() as s:
            ns_id = (
                await s.execute(select(Namespace.id).where(Namespace.name == scope.namespace))
            ).scalar_one_or_none()
            if ns_id is None:
                raise UnknownScope("namespace not found")
            repo_id = None
            if scope.repository is not None:
                repo_id = (
                    await s.execute(
                        select(Repository.id).where(
                            Repository.namespace_id == ns_id, Repository.name == scope.repository
                        )
                    )
                ).scalar_one_or_none()
                if repo_id is None:
                    raise UnknownScope("repository not found")
        return _Resolved(ns_id, scope.namespace, repo_id, scope.repository)

    async def _filter(
        self, scope: LogScope, span: DateRange, performer: str | None
    ) -> tuple[LogFilter, _Resolved]:
        where = await self._resolve(scope)
        performer_id = None
        if performer:
            async with self.db.read() as s:
                found = (
                    await s.execute(select(User.id).where(User.username == performer))
                ).scalar_one_or_none()
            # Unknown performer: nothing matches (Quay's table model fails on an assert).
            performer_id = found if found is not None else -1
        return (
            LogFilter(
                span.start_ms,
                span.end_ms,
                namespace_id=where.namespace_id if where.repository_id is None else None,
                repository_id=where.repository_id,
                performer_id=performer_id,
                performer_name=performer if performer_id != -1 else None,
                exclude_kinds=scope.exclude_kinds,
            ),
            where,
        )

    async def page(
        self,
        scope: LogScope,
        span: DateRange,
        *,
        performer: str | None = None,
        next_page: str | None = None,
    ) -> LogsPage:
        """One page of entries, newest first (raises UnknownScope)."""
        where, _ = await self._filter(scope, span, performer)
        if where.performer_id == -1:  # an unknown performer: nothing to read
            return LogsPage(format_ms(span.start_ms), format_ms(span.end_ms), [], None)
        cursor, number = self._open_token(next_page)
        page = await self.store.lookup(where, cursor, LOGS_PER_PAGE)
        token = None
        max_page = self.settings.max_page
        if page.next is not None and (max_page is None or number + 1 < max_page):
            token = self._seal_token(page.next, number + 1)
        return LogsPage(
            format_ms(span.start_ms),
            format_ms(span.end_ms),
            await self.views(page.entries),
            token,
        )

    async def aggregate(
        self, scope: LogScope, span: DateRange, *, performer: str | None = None
    ) -> list[dict[str, Any]]:
        """``[{kind, count, datetime}]``: entries per kind per UTC day."""
        if span.end - span.start >= AGGREGATE_MAX:
            raise AggregateRangeTooLong("Invalid date range for logs")
        where, _ = await self._filter(scope, span, performer)
        if where.performer_id == -1:
            return []
        return [
            {"kind": c.kind, "count": c.count, "datetime": format_ms(c.day_ms)}
            for c in await self.store.aggregate(where)
        ]

    def _seal_token(self, cursor: Cursor, number: int) -> str:
        data = {"c": cursor.created_at, "i": cursor.id, "p": number}
        return self._pages.encrypt(orjson.dumps(data)).decode()

    def _open_token(self, token: str | None) -> tuple[Cursor | None, int]:
        if not token:
            return None, 0
        try:
            data: Any = orjson.loads(self._pages.decrypt(token.encode(), ttl=PAGE_TOKEN_TTL_S))
            return Cursor(int(data["c"]), int(data["i"])), int(data["p"])
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None, 0

    async def views(self, entries: list[StoredEntry]) -> list[dict[str, Any]]:
        """Quay's view of each entry (performer and namespace with their avatars)."""
        performer_ids = {e.performer_id for e in entries if e.performer_id is not None}
        # Entries a registry token wrote name their performer without its id.
        names = {e.performer for e in entries if e.performer_id is None and e.performer}
        namespace_ids = {e.namespace_id for e in entries if e.namespace_id is not None}
        users: dict[int | str, tuple[str | None, str]] = {}
        spaces: dict[int, tuple[str, str | None]] = {}
        async with self.db.read() as s:
            if performer_ids:
                rows = await s.execute(
                    select(User.id, User.email, User.kind).where(User.id.in_(performer_ids))
                )
                users = {i: (email, kind) for i, email, kind in rows}
            if names:
                named = await s.execute(
                    select(User.username, User.email, User.kind).where(User.username.in_(names))
                )
                users.update({n: (email, kind) for n, email, kind in named})
            if namespace_ids:
                found = await s.execute(
                    select(Namespace.id, Namespace.kind, Namespace.email, User.email)
                    .outerjoin(User, User.namespace_id == Namespace.id)
                    .where(Namespace.id.in_(namespace_ids))
                )
                spaces = {
                    i: (kind, org_mail or user_mail) for i, kind, org_mail, user_mail in found
                }
        return [_view(e, users, spaces) for e in entries]

    # ---- refused registry actions ----------------------------------------------------------
    def audits_refusal(self, kind: str) -> bool:
        """Whether ACTION_LOG_AUDIT_PULL/PUSH/DELETE_FAILURES ask to log ``kind``."""
        conf = self.settings
        return (
            (kind == "pull_repo_failed" and conf.audit_pull_failures)
            or (kind == "push_repo_failed" and conf.audit_push_failures)
            or (kind == "delete_tag_failed" and conf.audit_delete_failures)
        )

    async def record_refusal(
        self,
        kind: str,
        namespace: str,
        repository: str,
        reference: str | None,
        performer: Performer,
        message: str,
    ) -> None:
        """Log a registry pull, push or delete refused for want of access, as Quay's
        ``log_unauthorized`` does: metadata ``namespace``, ``repo``, the ``tag`` or
        ``manifest_digest`` asked for, and ``message`` ("Namespace does not exist",
        "Repository does not exist", or the refusal's); the entry belongs to the namespace
        and repository when they exist."""
        meta: dict[str, Any] = {"namespace": namespace, "repo": repository}
        if reference:
            meta["manifest_digest" if reference.startswith("sha256:") else "tag"] = reference
        async with self.db.write() as s:
            ns_id = (
                await s.execute(select(Namespace.id).where(Namespace.name == namespace))
            ).scalar_one_or_none()
            repo_id = None
            if ns_id is not None:
                repo_id = (
                    await s.execute(
                        select(Repository.id).where(
                            Repository.namespace_id == ns_id, Repository.name == repository
                        )
                    )
                ).scalar_one_or_none()
            if ns_id is None:
                meta["message"] = "Namespace does not exist"
            elif repo_id is None:
                meta["message"] = "Repository does not exist"
            else:
                meta["message"] = message
            record(
                s, kind, namespace if ns_id is not None else None, performer,
                repository if repo_id is not None else None, meta,
                namespace_id=ns_id, repository_id=repo_id,
            )  # fmt: skip

    # ---- export --------------------------------------------------------------------------
    async def queue_export(
        self,
        scope: LogScope,
        starttime: str | None,
        endtime: str | None,
        *,
        callback_url: str | None,
        callback_email: str | None,
        performer: Performer,
    ) -> str:
        """Validate, count and enqueue an export; its ``export_id``. Raises InvalidExport or
        ExportTooLarge (a failure is logged as ``export_logs_failure``), UnknownScope."""
        where = await self._resolve(scope)
        meta: dict[str, Any] = {"url": callback_url or None, "email": callback_email or None}
        if where.repository is not None:
            meta["repo"] = where.repository
        try:
            if callback_url and not callback_url.startswith(("https://", "http://")):
                raise InvalidExport("Invalid callback URL")
            if callback_email and "@" not in callback_email:
                raise InvalidExport("Invalid callback e-mail")
            try:
                span = date_range(starttime, endtime)
            except InvalidDateRange as e:
                raise InvalidExport(e.message) from e
            filt = LogFilter(
                span.start_ms,
                span.end_ms,
                namespace_id=where.namespace_id if where.repository_id is None else None,
                repository_id=where.repository_id,
            )
            total = await self.store.count(filt)
            limit = self.settings.export_max_entries
            if total > limit:
                raise ExportTooLarge(
                    f"The selected time span holds {total} log entries, more than the "
                    f"{limit} an export may hold; choose a shorter time span"
                )
        except (InvalidExport, ExportTooLarge) as e:
            async with self.db.write() as s:
                record(
                    s, "export_logs_failure", where.namespace, performer, where.repository,
                    {**meta, "error": e.message}, namespace_id=where.namespace_id,
                    repository_id=where.repository_id,
                )  # fmt: skip
            raise
        export_id = str(uuid.uuid4())
        payload = ExportLogs(
            export_id=export_id,
            namespace_id=where.namespace_id,
            namespace_name=where.namespace,
            repository_id=where.repository_id,
            repository_name=where.repository,
            start_time=span.start.strftime("%m/%d/%Y"),
            end_time=span.end.strftime("%m/%d/%Y"),
            start_ms=span.start_ms,
            end_ms=span.end_ms,
            callback_url=callback_url or None,
            callback_email=callback_email or None,
        )
        async with self.db.write() as s:
            await enqueue(s, EXPORT_LOGS, payload)
            record(
                s, "export_logs_success", where.namespace, performer, where.repository,
                {**meta, "export_id": export_id}, namespace_id=where.namespace_id,
                repository_id=where.repository_id,
            )  # fmt: skip
        return export_id

    async def run_export(self, job: ExportLogs) -> str:
        """The export job: write the document, then report (the status Quay reports)."""
        where = LogFilter(
            job.start_ms,
            job.end_ms,
            namespace_id=job.namespace_id if job.repository_id is None else None,
            repository_id=job.repository_id,
        )
        url: str | None = None
        status = "success"
        if await self.store.count(where) > self.settings.export_max_entries:
            status = "failed"  # grew past the limit since the request: no half file
            log.warning("log export %s: over the entry limit, not written", job.export_id)
        else:
            digest, _size = await self._store_stream(self._document(job, where))
            url = self.export_link(digest, job.export_id)
            # The file goes once its link has expired (a minute later: no download is cut).
            async with self.db.write() as s:
                await enqueue(
                    s,
                    DELETE_LOG_EXPORT,
                    DeleteLogExport(job.export_id, digest),
                    delay_s=self.settings.export_link_ttl_s + EXPORT_FILE_GRACE_S,
                )
        await self._report(job, status, url)
        return status

    async def _document(self, job: ExportLogs, where: LogFilter) -> AsyncIterator[bytes]:
        details = {
            "start_time": format_ms(job.start_ms),
            "end_time": format_ms(job.end_ms),
            "namespace": job.namespace_name,
            "repository": job.repository_name,
        }
        head = {"export_id": job.export_id, "details": details}
        yield orjson.dumps(head)[:-1] + b', "logs": ['
        async for entries in self.store.iterate(where, EXPORT_BATCH):
            views = await self.views(entries)
            yield b"".join(orjson.dumps(v) + b"," for v in views)
        yield b'{"terminator": true}]}'

    async def _store_stream(self, parts: AsyncIterator[bytes]) -> tuple[str, int]:
        """Stream ``parts`` into storage as one content-addressed file; (digest, size)."""
        upload_id = f"logexport-{uuid.uuid4().hex}"
        state = await self.storage.create_upload(upload_id)
        h = hashlib.sha256()

        async def chunks() -> AsyncIterator[bytes]:
            async for part in parts:
                h.update(part)
                yield part

        try:
            state, size = await self.storage.append_upload(upload_id, state, 0, chunks())
            digest = "sha256:" + h.hexdigest()
            await self.storage.commit_upload(upload_id, state, digest, verify=False)
        except BaseException:
            await self.storage.abort_upload(upload_id, state)
            raise
        return digest, size

    async def delete_export(self, job: DeleteLogExport) -> None:
        """The export's file, deleted after its link expired (the link answers 404 then)."""
        await self.storage.delete_blob(job.digest)
        log.info("log export %s: file deleted after its link expired", job.export_id)

    def export_link(self, digest: str, export_id: str) -> str:
        token = self._links.encrypt(orjson.dumps({"d": digest, "e": export_id})).decode()
        return f"{self.base_url}/exportedlogs/{token}"

    async def exported_file(self, token: str) -> AsyncIterator[bytes] | None:
        """The bytes of an export while its link lives (None: expired, tampered, gone)."""
        try:
            data: Any = orjson.loads(
                self._links.decrypt(token.encode(), ttl=self.settings.export_link_ttl_s)
            )
            digest = str(data["d"])
            await self.storage.stat_blob(digest)
        except Exception:
            return None
        return self._read(digest)

    async def _read(self, digest: str) -> AsyncIterator[bytes]:
        async for chunk in self.storage.read_blob(digest):
            yield bytes(chunk)

    async def _report(self, job: ExportLogs, status: str, url: str | None) -> None:
        if job.callback_url:
            body = {
                "export_id": job.export_id,
                "start_time": job.start_time,
                "end_time": job.end_time,
                "namespace": job.namespace_name,
                "repository": job.repository_name,
                "exported_data_url": url,
                "status": status,
            }
            try:
                r = await self.outbound.client().post(job.callback_url, json=body, retry=True)
            except OutboundError as e:
                # Refused by the SSRF guard or unreachable: Quay logs and drops the callback.
                log.warning("log export %s: callback not delivered: %s", job.export_id, e)
            else:
                if r.status_code != 200:
                    raise RuntimeError(
                        f"log export {job.export_id}: callback answered {r.status_code}; "
                        "retrying later"
                    )
        if job.callback_email:
            if self.mailer is None:
                log.warning(
                    "log export %s: no mail sender configured; %s is not told", job.export_id,
                    job.callback_email,
                )  # fmt: skip
            else:
                await self.mailer.send_logs_exported(
                    job.callback_email,
                    export_id=job.export_id,
                    status=status,
                    exported_data_url=url,
                    expires_in_s=self.settings.export_link_ttl_s,
                )

    # ---- day counts ----------------------------------------------------------------------
    async def sweep_days(self, _payload: NoPayload | None = None) -> int:
        """Count each closed UTC day of the last ``SWEEP_DAYS`` not counted yet (oldest
        first), for every filter without a performer: the first aggregate of a month then
        reads kept counts instead of the month's entries. The number of days counted."""
        closed = (now_ms() - CLOSE_MS) // DAY_MS * DAY_MS
        done = 0
        for day in range(closed - SWEEP_DAYS * DAY_MS, closed, DAY_MS):
            if await self.store.sweep_day(day):
                done += 1
        if done:
            log.info("usage logs: counted %d closed days for the aggregates", done)
        return done

    # ---- rotation ------------------------------------------------------------------------
    async def rotate(self, _payload: NoPayload | None = None) -> list[ArchivedFile]:
        """Move entries older than ACTION_LOG_ROTATION_THRESHOLD into archive files."""
        cutoff = now_ms() - self.settings.rotation_threshold_s * 1000

        async def write(data: bytes) -> str:
            digest = "sha256:" + hashlib.sha256(data).hexdigest()

            async def one() -> AsyncIterator[bytes]:
                yield data

            await self.storage.write_blob(digest, one())
            return digest

        files = await self.store.rotate(
            cutoff, self.settings.rotation_batch, self.settings.archive_path, write
        )
        if files:
            log.info(
                "log rotation: %d entries into %d archive files",
                sum(f.entries for f in files),
                len(files),
            )
        return files

    async def archive_bytes(self, name: str) -> bytes | None:
        """The content of one archive file (None: no such file)."""
        for f in await self.store.archives():
            if f.name == name:
                return b"".join([bytes(c) async for c in self.storage.read_blob(f.digest)])
        return None


def _view(
    e: StoredEntry,
    users: dict[int | str, tuple[str | None, str]],
    spaces: dict[int, tuple[str, str | None]],
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "kind": e.kind,
        "metadata": e.metadata,
        "ip": e.ip,
        "datetime": format_ms(e.created_at),
    }
    if e.performer:
        key: int | str = e.performer_id if e.performer_id is not None else e.performer
        email, kind = users.get(key, (None, ""))
        is_robot = kind == "robot" or (not kind and "+" in e.performer)
        view["performer"] = {
            "kind": "user",
            "name": e.performer,
            "is_robot": is_robot,
            "avatar": avatar(e.performer, email, "robot" if is_robot else "user"),
        }
    if e.namespace:
        kind, email = spaces.get(e.namespace_id or 0, ("user", None))
        ns_kind = "org" if kind == ORG_KIND else "user"
        view["namespace"] = {
            "kind": ns_kind,
            "name": e.namespace,
            "avatar": avatar(e.namespace, email, ns_kind),
        }
    return view
