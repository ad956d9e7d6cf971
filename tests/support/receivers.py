"""Real servers that receive what Berth sends: an HTTP receiver for webhooks and Slack
messages, and an SMTP server (aiosmtpd) that keeps every e-mail.

Both run in a thread of their own (their own event loop), so sync end-to-end tests and
async in-process tests use them alike, and a receiver that hangs never blocks the test's
loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import orjson
from aiohttp import web
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], Any], *, timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy (then return it); fail after
    ``timeout`` seconds (a bound against hanging forever, not a performance assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def async_wait_for(
    check: Callable[[], Any], *, limit_s: float = 30.0, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + limit_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class HttpReceiver:
    """POSTs to any path are recorded. ``answers[path]``: statuses to answer in turn (then
    200); a path in ``hang`` waits until ``release()`` (or the client gives up)."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    hanging: int = 0  # requests waiting in a hang right now
    _loop: asyncio.AbstractEventLoop | None = None
    _release: asyncio.Event | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def release(self) -> None:
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        path = request.path
        if path in self.hang:
            assert self._release is not None
            self.hanging += 1
            try:
                await self._release.wait()
            finally:
                self.hanging -= 1
        with self._lock:
            queue = self.answers.get(path)
            status = queue.pop(0) if queue else 200
            self.received.append(Received(path, dict(request.headers), body))
        return web.Response(status=status, text="ok" if status < 300 else "no")


@contextlib.contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(port=free_port())
    ready = threading.Event()
    stop: list[Callable[[], None]] = []

    def serve() -> None:
        loop = asyncio.new_event_loop()
        receiver._loop = loop
        asyncio.set_event_loop(loop)

        async def main() -> None:
            receiver._release = asyncio.Event()
            done = asyncio.Event()
            stop.append(lambda: loop.call_soon_threadsafe(done.set))
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", receiver._handle)
            runner = web.AppRunner(app, shutdown_timeout=0.5)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
            ready.set()
            await done.wait()
            receiver._release.set()
            await runner.cleanup()

        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=serve, name="http-receiver", daemon=True)
    thread.start()
    assert ready.wait(10), "the HTTP receiver did not start"
    try:
        yield receiver
    finally:
        stop[0]()
        thread.join(10)


class _Collect:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self.sink.lock:
            self.sink.messages.append(msg)
        return "250 Message accepted for delivery"


@dataclass
class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps every message."""

    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]

    def config(self) -> dict[str, Any]:
        """Berth's config keys for this server."""
        return {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": self.port,
            "MAIL_USE_TLS": False,
            "MAIL_DEFAULT_SENDER": "registry@example.com",
        }


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


@contextlib.contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = Controller(_Collect(sink), hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
