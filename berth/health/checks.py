"""What Quay's config tool checks before a deployment starts, as one call: the database, the
storage (a write, a read and a delete), Redis, SMTP and LDAP. Each failure is named with what
to fix; ``berth config validate FILE --connect`` prints them and ``berth serve`` refuses to
start on them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import smtplib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from berth.health.services import ping_redis
from berth.storage.factory import create_storage

__all__ = ["Outcome", "check_connections"]

TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Outcome:
    service: str  # database | storage | redis | smtp | ldap
    ok: bool
    message: str  # what was checked, or what failed and how to fix it

    def __str__(self) -> str:
        return f"{self.service}: {self.message}"


async def check_connections(
    *,
    db_url: str,
    storage_driver: str,
    storage_args: Mapping[str, Any],
    redis_options: Mapping[str, Any] | None,
    raw: Mapping[str, Any],
    timeout_s: float = TIMEOUT_S,
) -> list[Outcome]:
    """Every applicable check, in order; ``raw`` is the parsed config.yaml (for the SMTP and
    LDAP keys, which only these checks read)."""
    checks: list[tuple[str, Callable[[], Awaitable[str]]]] = [
        ("database", lambda: _database(db_url)),
        ("storage", lambda: _storage(storage_driver, storage_args)),
    ]
    if redis_options is not None:
        checks.append(("redis", lambda: _redis(redis_options, timeout_s)))
    if raw.get("FEATURE_MAILING") and raw.get("MAIL_SERVER"):
        checks.append(("smtp", lambda: asyncio.to_thread(_smtp, raw, timeout_s)))
    if raw.get("AUTHENTICATION_TYPE") == "LDAP" or raw.get("LDAP_URI"):
        checks.append(("ldap", lambda: asyncio.to_thread(_ldap, raw, timeout_s)))
    outcomes = []
    for service, check in checks:
        try:
            message = await asyncio.wait_for(check(), timeout_s * 2)
            outcomes.append(Outcome(service, True, message))
        except TimeoutError:
            outcomes.append(Outcome(service, False, f"no answer within {timeout_s * 2:g} s"))
        except Exception as e:
            outcomes.append(Outcome(service, False, _explain(service, e)))
    return outcomes


# ---- the checks ----------------------------------------------------------------------------
def _not_yet(path: Path) -> str | None:
    """For a path ``berth serve`` creates: None when it exists; else whether it can be."""
    if path.exists():
        return None
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not os.access(ancestor, os.W_OK):
        raise PermissionError(f"cannot create {path}: {ancestor} is not writable by this user")
    return f"{path} does not exist yet: berth serve creates it"


async def _database(db_url: str) -> str:
    if db_url.startswith("sqlite"):
        later = _not_yet(Path(db_url.split("///", 1)[-1]))
        if later:
            return later
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db_url, pool_pre_ping=False)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    return f"connected ({_where(db_url)})"


async def _storage(driver: str, args: Mapping[str, Any]) -> str:
    if driver == "LocalStorage":
        later = _not_yet(Path(str(args.get("storage_path", ""))))
        if later:
            return later
    storage = create_storage(driver, args)
    body = b"berth config validate --connect " + secrets.token_bytes(16)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    try:
        await storage.write_blob(digest, chunks())
        got = b"".join([bytes(c) async for c in storage.read_blob(digest)])
        await storage.delete_blob(digest)
    finally:
        await storage.close()
    if got != body:
        raise RuntimeError("the object read back differs from the object written")
    return f"wrote, read and deleted a test object ({driver})"


async def _redis(options: Mapping[str, Any], timeout_s: float) -> str:
    await ping_redis(options, timeout_s)
    return f"PING answered ({options.get('host', 'localhost')}:{options.get('port', 6379)})"


def _smtp(raw: Mapping[str, Any], timeout_s: float) -> str:
    host = str(raw["MAIL_SERVER"])
    port = int(raw.get("MAIL_PORT") or 587)
    with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
        smtp.ehlo()
        if raw.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if raw.get("MAIL_USE_AUTH") or raw.get("MAIL_USERNAME"):
            smtp.login(str(raw.get("MAIL_USERNAME", "")), str(raw.get("MAIL_PASSWORD", "")))
    return f"connected to {host}:{port}"


def _ldap(raw: Mapping[str, Any], timeout_s: float) -> str:
    uri = str(raw.get("LDAP_URI") or "")
    if not uri:
        raise ValueError("LDAP_URI is not set: AUTHENTICATION_TYPE LDAP needs it")
    parts = urlsplit(uri)
    if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
        raise ValueError(f"LDAP_URI {uri!r} is not ldap://host[:port] or ldaps://host[:port]")
    port = parts.port or (636 if parts.scheme == "ldaps" else 389)
    with socket.create_connection((parts.hostname, port), timeout=timeout_s) as sock:
        if parts.scheme == "ldaps":
            ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname).close()
    return f"reachable at {parts.hostname}:{port} (the bind itself is not tried)"


# ---- what a failure means ----------------------------------------------------------------------
def _where(db_url: str) -> str:
    if db_url.startswith("sqlite"):
        return db_url.split("///", 1)[-1]
    parts = urlsplit(db_url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def _explain(service: str, e: BaseException) -> str:
    text = str(e) or type(e).__name__
    low = text.lower()
    name = type(e).__name__
    if service == "database":
        if "password authentication failed" in low or name == "InvalidPasswordError":
            return f"the password was refused ({text}): fix the password in DB_URI"
        if "does not exist" in low:
            return f"{text}: create it, or fix the database name in DB_URI"
        if isinstance(e, OSError) or "connect call failed" in low or "refused" in low:
            return (
                f"cannot connect ({text}): is the database server running, and are DB_URI's "
                "host and port right?"
            )
        return f"{text}: check DB_URI"
    if service == "storage":
        if "InvalidAccessKeyId" in text or "SignatureDoesNotMatch" in text or "403" in text:
            return (
                f"the credentials were refused ({_short(text)}): fix s3_access_key / "
                "s3_secret_key in DISTRIBUTED_STORAGE_CONFIG"
            )
        if "NoSuchBucket" in text or "bucket does not exist" in low:
            return f"the bucket does not exist ({_short(text)}): create it, or fix s3_bucket"
        if "connect" in low or "unavailable" in low or isinstance(e, OSError):
            return (
                f"cannot reach the storage ({_short(text)}): check endpoint_url / host "
                "in DISTRIBUTED_STORAGE_CONFIG"
            )
        if isinstance(e, PermissionError) or "permission" in low:
            return f"cannot write ({text}): let the server's user write to storage_path"
        return f"{_short(text)}: check DISTRIBUTED_STORAGE_CONFIG"
    if service == "redis":
        if "auth" in low or "password" in low or "NOAUTH" in text or "WRONGPASS" in text:
            return f"the password was refused ({text}): fix the Redis password in the config"
        return (
            f"cannot connect ({text}): is Redis running, and are the Redis host and port "
            "in the config right?"
        )
    if service == "smtp":
        if isinstance(e, smtplib.SMTPAuthenticationError):
            return f"the login was refused ({text}): fix MAIL_USERNAME / MAIL_PASSWORD"
        return f"cannot talk to the mail server ({text}): check MAIL_SERVER and MAIL_PORT"
    if service == "ldap":
        return f"{text}: check LDAP_URI"
    return text


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "..."
