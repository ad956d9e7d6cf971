"""An LDAP directory over ldap3: admin bind, user search, user bind, filters and groups.

ldap3's synchronous strategy blocks, so every public method runs its work in a worker
thread (``anyio.to_thread``); connections bound as the admin are kept in a small pool
(LDAP_CONNECTION_POOLING, LDAP_POOL_SIZE) and a connection that failed is dropped, never
returned. User binds use a connection of their own, closed at once.

Every value that reaches a filter is escaped (RFC 4515, ``escape_filter_chars``): a user
name such as ``*)(uid=*`` is searched for literally and matches nobody.
"""

from __future__ import annotations

import math
import queue
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException, LDAPStartTLSError
from ldap3.utils.conv import escape_filter_chars

from berth.directory.errors import DirectoryRefused, DirectoryUnavailable
from berth.directory.settings import LdapSettings

T = TypeVar("T")

_RESULT_INVALID_CREDENTIALS = 49


@dataclass(frozen=True)
class DirectoryUser:
    """A user entry: its DN, its LDAP_UID_ATTR value and its LDAP_EMAIL_ATTR value."""

    dn: str
    uid: str
    email: str | None


@dataclass(frozen=True)
class DirectoryRoles:
    """What Quay's filters say of a user (LDAP_SUPERUSER_FILTER, LDAP_RESTRICTED_USER_FILTER,
    LDAP_GLOBAL_READONLY_SUPERUSER_FILTER); False where the filter is not set."""

    superuser: bool = False
    restricted: bool = False
    global_readonly_superuser: bool = False


def _first(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).strip()
    return text or None


def _all(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    return [str(v.decode() if isinstance(v, bytes) else v) for v in items]


def _ca_data(paths: tuple[Path, ...]) -> str | None:
    pems: list[str] = []
    for path in paths:
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if f.name.startswith("."):
                continue
            text = f.read_text(encoding="ascii", errors="replace")
            if "-----BEGIN CERTIFICATE-----" in text:
                pems.append(text)
    return "\n".join(pems) if pems else None


def _discard(conn: Connection) -> None:
    """Unbind and close the socket: ldap3 leaves it open when connecting failed."""
    with suppress(LDAPException, OSError):
        conn.unbind()
    sock = getattr(conn, "socket", None)
    if sock is not None:
        with suppress(OSError):
            sock.close()


class LdapDirectory:
    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        secure = settings.uri.lower().startswith("ldaps://") or settings.starttls
        tls = None
        if secure:
            tls = Tls(
                validate=ssl.CERT_REQUIRED,
                ca_certs_data=_ca_data(settings.ca_paths),
            )
        self._server = Server(
            settings.uri,
            use_ssl=settings.uri.lower().startswith("ldaps://"),
            tls=tls,
            connect_timeout=max(1, math.ceil(settings.network_timeout_s)),
            get_info=NONE,
        )
        self._pool: queue.LifoQueue[Connection] = queue.LifoQueue()
        self._pool_lock = threading.Lock()
        self._closed = False

    # ---- connections -------------------------------------------------------------------
    def _connect(self, dn: str | None, password: str | None) -> Connection:
        """An open connection bound as ``dn`` (anonymous when None); raises DirectoryRefused
        on invalid credentials, DirectoryUnavailable when the directory can't be used."""
        s = self.settings
        conn = Connection(
            self._server,
            user=dn,
            password=password,
            receive_timeout=max(1, math.ceil(s.timeout_s)),
            read_only=True,
            auto_referrals=s.follow_referrals,
            raise_exceptions=False,
        )
        try:
            conn.open()
            if s.starttls and not s.uri.lower().startswith("ldaps://"):
                try:
                    if not conn.start_tls():
                        raise LDAPStartTLSError(str(conn.result))
                except LDAPException:
                    if not s.allow_insecure_fallback:
                        raise
                    _discard(conn)
                    conn = Connection(
                        self._server,
                        user=dn,
                        password=password,
                        receive_timeout=max(1, math.ceil(s.timeout_s)),
                        read_only=True,
                        auto_referrals=s.follow_referrals,
                        raise_exceptions=False,
                    )
                    conn.open()
            if not conn.bind():
                code = (conn.result or {}).get("result")
                _discard(conn)
                if code == _RESULT_INVALID_CREDENTIALS:
                    raise DirectoryRefused("invalid credentials")
                raise DirectoryUnavailable(
                    f"the LDAP server refused the bind: {(conn.result or {}).get('description')}"
                )
        except LDAPException as e:
            _discard(conn)
            raise DirectoryUnavailable(f"the LDAP server could not be reached: {e}") from e
        return conn

    @contextmanager
    def _admin(self) -> Iterator[Connection]:
        conn: Connection | None = None
        if self.settings.pooling:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                conn = None
        if conn is None:
            try:
                conn = self._connect(self.settings.admin_dn, self.settings.admin_password)
            except DirectoryRefused as e:
                raise DirectoryUnavailable("LDAP admin DN or password is invalid") from e
        ok = False
        try:
            yield conn
            ok = True
        finally:
            keep = ok and self.settings.pooling and not self._closed and not conn.closed
            with self._pool_lock:
                if keep and self._pool.qsize() < self.settings.pool_size:
                    self._pool.put(conn)
                else:
                    _discard(conn)

    def _search(
        self,
        conn: Connection,
        base: str,
        search_filter: str,
        *,
        scope: Any = SUBTREE,
        attributes: list[str] | None = None,
        size_limit: int = 0,
    ) -> list[dict[str, Any]]:
        """Entries (``dn``, ``attributes``) of a search; DirectoryUnavailable on errors other
        than "no such object" and "size limit exceeded"."""
        try:
            conn.search(
                base,
                search_filter,
                search_scope=scope,
                attributes=attributes or [],
                size_limit=size_limit,
                time_limit=int(self.settings.timeout_s),
            )
        except LDAPException as e:
            raise DirectoryUnavailable(f"the LDAP search failed: {e}") from e
        code = (conn.result or {}).get("result", 0)
        if code not in (0, 4, 32):  # success, sizeLimitExceeded, noSuchObject
            raise DirectoryUnavailable(
                f"the LDAP search failed: {(conn.result or {}).get('description')}"
            )
        return [
            {"dn": r["dn"], "attributes": r.get("attributes", {})}
            for r in (conn.response or [])
            if r.get("type") == "searchResEntry"
        ]

    def _user_filter(self, inner: str, extra: str | None = None) -> str:
        parts = [inner]
        if self.settings.user_filter:
            parts.append(self.settings.user_filter)
        if extra:
            parts.append(extra)
        return parts[0] if len(parts) == 1 else "(&" + "".join(parts) + ")"

    def _entry_user(self, entry: dict[str, Any]) -> DirectoryUser | None:
        attrs = entry["attributes"]
        uid = _first(attrs.get(self.settings.uid_attr))
        if uid is None:
            return None
        return DirectoryUser(entry["dn"], uid, _first(attrs.get(self.settings.email_attr)))

    def _find(self, conn: Connection, login: str, *, by_email: bool) -> list[DirectoryUser]:
        s = self.settings
        value = escape_filter_chars(login)
        inner = f"({s.uid_attr}={value})"
        if by_email:
            inner = f"(|{inner}({s.email_attr}={value}))"
        found: dict[str, DirectoryUser] = {}
        for base in s.user_bases:
            for entry in self._search(
                conn,
                base,
                self._user_filter(inner),
                attributes=[s.uid_attr, s.email_attr],
                size_limit=2,
            ):
                user = self._entry_user(entry)
                if user is not None:
                    found.setdefault(user.dn.lower(), user)
        return list(found.values())

    # ---- sync operations (run in a worker thread) --------------------------------------
    def _verify(self, login: str, password: str) -> DirectoryUser:
        if not login or not password:  # an empty password would be an anonymous bind
            raise DirectoryRefused("empty user name or password")
        with self._admin() as conn:
            users = self._find(conn, login, by_email=True)
        if len(users) != 1:
            raise DirectoryRefused("no such user" if not users else "more than one user matches")
        user = users[0]
        _discard(self._connect(user.dn, password))
        return user

    def _lookup(self, username: str) -> DirectoryUser | None:
        with self._admin() as conn:
            users = [u for u in self._find(conn, username, by_email=False) if u.uid == username]
        return users[0] if len(users) == 1 else None

    def _roles(self, user: DirectoryUser) -> DirectoryRoles:
        s = self.settings
        with self._admin() as conn:

            def matches(flt: str | None) -> bool:
                if not flt:
                    return False
                inner = f"({s.uid_attr}={escape_filter_chars(user.uid)})"
                return bool(self._search(conn, user.dn, self._user_filter(inner, flt), scope=BASE))

            return DirectoryRoles(
                superuser=matches(s.superuser_filter),
                restricted=matches(s.restricted_user_filter),
                global_readonly_superuser=matches(s.global_readonly_superuser_filter),
            )

    def _search_users(self, prefix: str, limit: int) -> list[DirectoryUser]:
        s = self.settings
        if not prefix:
            return []
        value = escape_filter_chars(prefix)
        inner = f"(|({s.uid_attr}={value}*)({s.email_attr}={value}*))"
        out: dict[str, DirectoryUser] = {}
        with self._admin() as conn:
            for base in s.user_bases:
                for entry in self._search(
                    conn,
                    base,
                    self._user_filter(inner),
                    attributes=[s.uid_attr, s.email_attr],
                    size_limit=limit,
                ):
                    user = self._entry_user(entry)
                    if user is not None:
                        out.setdefault(user.dn.lower(), user)
        return sorted(out.values(), key=lambda u: u.uid)[:limit]

    def _group_members(self, group_dn: str) -> list[DirectoryUser]:
        """The users of a group: those whose LDAP_MEMBEROF_ATTR names it (Quay's way, for
        directories with a memberOf attribute), and those its ``member`` /
        ``uniqueMember`` / ``memberUid`` values name (plain OpenLDAP groups). Only users
        inside the user bases and LDAP_USER_FILTER count. Raises DirectoryRefused when the
        group does not exist."""
        s = self.settings
        out: dict[str, DirectoryUser] = {}
        attrs = [s.uid_attr, s.email_attr]
        with self._admin() as conn:
            group = self._search(
                conn,
                group_dn,
                "(objectClass=*)",
                scope=BASE,
                attributes=["member", "uniqueMember", "memberUid"],
            )
            if not group:
                raise DirectoryRefused(f"no such group: {group_dn}")
            inner = f"({s.memberof_attr}={escape_filter_chars(group_dn)})"
            for base in s.user_bases:
                for entry in self._search(conn, base, self._user_filter(inner), attributes=attrs):
                    user = self._entry_user(entry)
                    if user is not None:
                        out.setdefault(user.dn.lower(), user)
            values = group[0]["attributes"]
            bases = [b.lower() for b in s.user_bases]
            for dn in _all(values.get("member")) + _all(values.get("uniqueMember")):
                if dn.lower() in out or not any(dn.lower().endswith(b) for b in bases):
                    continue
                for entry in self._search(
                    conn,
                    dn,
                    self._user_filter("(objectClass=*)"),
                    scope=BASE,
                    attributes=attrs,
                ):
                    user = self._entry_user(entry)
                    if user is not None:
                        out.setdefault(user.dn.lower(), user)
            for uid in _all(values.get("memberUid")):
                for user in self._find(conn, uid, by_email=False):
                    out.setdefault(user.dn.lower(), user)
        return sorted(out.values(), key=lambda u: u.uid)

    def _close(self) -> None:
        self._closed = True
        while True:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                return
            _discard(conn)

    # ---- the async face ----------------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args)

    async def verify(self, login: str, password: str) -> DirectoryUser:
        """The user whose uid (or e-mail) is ``login``, inside LDAP_USER_FILTER, after a
        successful bind with ``password``. DirectoryRefused or DirectoryUnavailable."""
        return await self._run(self._verify, login, password)

    async def lookup(self, username: str) -> DirectoryUser | None:
        """The user whose uid is exactly ``username`` (inside LDAP_USER_FILTER), or None."""
        return await self._run(self._lookup, username)

    async def roles(self, user: DirectoryUser) -> DirectoryRoles:
        return await self._run(self._roles, user)

    async def search(self, prefix: str, limit: int = 20) -> list[DirectoryUser]:
        """Users whose uid or e-mail starts with ``prefix`` (for entity search)."""
        return await self._run(self._search_users, prefix, limit)

    async def group_members(self, group_dn: str) -> list[DirectoryUser]:
        return await self._run(self._group_members, group_dn)

    async def ping(self) -> None:
        """Bind as the admin once (DirectoryUnavailable when that fails)."""

        def bind() -> None:
            with self._admin():
                pass

        await self._run(bind)

    async def close(self) -> None:
        await self._run(self._close)
