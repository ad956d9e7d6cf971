"""Tiny real servers on 127.0.0.1 for the outbound client's tests: an HTTP(S) origin that
counts connections and replays scripted replies, a forward/CONNECT proxy, and a throwaway CA."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # accept the request, never answer


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


class _Base:
    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            await self.handle(reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        await asyncio.sleep(0)


class Origin(_Base):
    """An HTTP/1.1 origin: replies are taken in order; the last one repeats."""

    def __init__(self, *replies: Reply) -> None:
        super().__init__()
        self.replies = list(replies) or [Reply()]
        self.requests: list[Seen] = []
        self.server_names: list[str | None] = []

    def tls_context(self, cert: Path, key: Path) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)

        def remember(_sock: object, name: str | None, _ctx: object) -> None:
            self.server_names.append(name)

        context.sni_callback = remember
        return context

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            got = await _read_head(reader)
            if got is None:
                return
            request_line, headers = got
            method, target, _version = request_line.split(" ", 2)
            length = int(headers.get("content-length", "0"))
            body = await reader.readexactly(length) if length else b""
            self.requests.append(Seen(method, target, headers, body))
            reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
            if reply.hang:
                await asyncio.sleep(3600)
            head = f"HTTP/1.1 {reply.status} X\r\ncontent-length: {len(reply.body)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
            writer.write(head.encode() + b"\r\n" + reply.body)
            await writer.drain()


class Proxy(_Base):
    """A forward proxy (absolute-form GET) and CONNECT tunnel that sends every destination
    to 127.0.0.1 on the destination's port, and records the request lines it got."""

    def __init__(self) -> None:
        super().__init__()
        self.request_lines: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got = await _read_head(reader)
        if got is None:
            return
        request_line, headers = got
        self.request_lines.append(request_line)
        method, target, version = request_line.split(" ", 2)
        if method == "CONNECT":
            port = int(target.rsplit(":", 1)[1])
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
        else:
            url = target.removeprefix("http://")
            authority, _, path = url.partition("/")
            port = int(authority.rsplit(":", 1)[1]) if ":" in authority else 80
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            lines = [f"{method} /{path} {version}"]
            lines += [f"{k}: {v}" for k, v in headers.items() if k != "proxy-connection"]
            up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()
            with contextlib.suppress(ConnectionError):
                await up_writer.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()
