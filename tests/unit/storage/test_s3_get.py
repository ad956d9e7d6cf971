"""The blob GET client (berth.storage.s3_get) against a loopback server that answers what a
misbehaving S3 endpoint could: bodies cut short, chunked or connection-delimited bodies, a
garbled status line, silence. Each fails with a transport error (which the S3 driver maps
to StorageUnavailable) and no connection is kept that still holds part of an answer."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from berth.storage.s3_get import IDLE_SPARES, MAX_QUEUED, GetPool, ProtocolError

CHUNK = 64 * 1024
Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Answer], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(answer: Answer) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await answer(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/bucket/key?X-Amz-Signature=abc"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def _pool(read_timeout: float = 5.0) -> GetPool:
    return GetPool(
        limit=4, connect_timeout=2, read_timeout=read_timeout, tls=None, chunk_size=CHUNK
    )


async def _body(pool: GetPool, url: str, headers: dict[str, str] | None = None) -> bytes:
    resp = await pool.get(url, headers or {})
    try:
        return b"".join([chunk async for chunk in resp.chunks()])
    finally:
        resp.release()


async def test_keep_alive_bodies_in_full_chunks_and_the_request_sent(serve) -> None:
    data = bytes(range(256)) * 1000  # 256,000 bytes: 3 full chunks and a partial one
    seen: list[bytes] = []

    async def answer(reader, writer) -> None:
        for _ in range(2):  # two requests on one connection
            seen.append(await _request(reader))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data))
            for i in range(0, len(data), 10_000):  # in small writes
                writer.write(data[i : i + 10_000])
                await writer.drain()

    url = await serve(answer)
    pool = _pool()
    try:
        for _ in range(2):
            resp = await pool.get(url, {"Range": "bytes=0-"})
            assert resp.status == 200
            chunks = [chunk async for chunk in resp.chunks()]
            resp.release()
            assert b"".join(chunks) == data
            assert [len(c) for c in chunks] == [CHUNK] * 3 + [len(data) - 3 * CHUNK]
    finally:
        pool.close()
    assert len(seen) == 2, "the second GET reused the connection"
    first = seen[0].decode()
    assert first.startswith("GET /bucket/key?X-Amz-Signature=abc HTTP/1.1\r\n")
    assert "Range: bytes=0-\r\n" in first
    assert "Accept-Encoding: identity\r\n" in first


def _once(answer: bytes, linger_s: float = 0) -> Answer:
    """A server side that reads one request, writes ``answer``, waits, and hangs up."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.write(answer)
        await writer.drain()
        await asyncio.sleep(linger_s)

    return handle


@pytest.fixture
async def pool() -> AsyncIterator[GetPool]:
    gets = _pool()
    yield gets
    gets.close()


async def test_a_body_cut_short_fails_and_the_connection_is_dropped(serve, pool) -> None:
    url = await serve(_once(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 70_000))
    with pytest.raises(ConnectionResetError, match="30000 bytes early"):
        await _body(pool, url)
    assert not any(pool._idle.values())


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "chunked"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x status line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "bad Content-Length"),
    ],
)
async def test_answers_this_client_does_not_understand(
    serve, pool, head: bytes, message: str
) -> None:
    url = await serve(_once(head, linger_s=1))
    with pytest.raises(ProtocolError, match=message):
        await _body(pool, url)


async def test_a_body_ended_by_the_connection_closing(serve, pool) -> None:
    url = await serve(_once(b"HTTP/1.0 200 OK\r\n\r\n" + b"y" * 100_000))
    assert await _body(pool, url) == b"y" * 100_000
    assert not any(pool._idle.values()), "a connection-delimited answer is not reused"


async def test_silence_times_out_and_a_closed_idle_connection_is_replaced(serve, pool) -> None:
    impatient = _pool(read_timeout=0.3)
    try:
        with pytest.raises(TimeoutError):
            await _body(impatient, await serve(_once(b"", linger_s=5)))
    finally:
        impatient.close()

    # Answers one request, then hangs up: the kept-alive connection closes while idle.
    url = await serve(_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    assert await _body(pool, url) == b"ok"
    await asyncio.sleep(0.1)
    assert await _body(pool, url) == b"ok"


async def test_transient_chunks_are_the_read_buffers_and_stay_intact_until_the_next(
    serve, pool
) -> None:
    """A transient read hands out the buffers the socket was read into (a shorter last chunk
    is copied). With a consumer slower than the server (the reads pause), every buffer still
    holds its own bytes when it is handed out, and the connection cycles through a bounded
    ring of buffers."""
    data = os.urandom(20 * CHUNK + 123)

    async def answer(reader, writer) -> None:
        for _ in range(2):
            await _request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
            await writer.drain()
        await reader.read()  # keep the connection open until the client closes it

    url = await serve(answer)
    for _ in range(2):
        buffers: set[int] = set()
        resp = await pool.get(url, {}, transient=True)
        copied: list[bytes] = []
        while (chunk := await resp.next_chunk()) is not None:
            if len(copied) < 20:
                assert type(chunk) is bytearray
                buffers.add(id(chunk))
            else:
                assert type(chunk) is bytes
                assert len(chunk) == 123
            copied.append(bytes(chunk))  # what the HTTP server does before asking for more
            await asyncio.sleep(0.002)  # the server is ahead: chunks queue, reading pauses
        resp.release()
        assert b"".join(copied) == data
        assert len(buffers) <= MAX_QUEUED + 2, "filling, queued, held: the ring is bounded"
    (conn,) = pool._idle[next(iter(pool._idle))]
    assert conn.held is None
    assert len(conn.spare) <= IDLE_SPARES, "an idle connection keeps few spare buffers"


async def test_transient_reads_of_small_bodies_hand_out_copies(serve, pool) -> None:
    async def answer(reader, writer) -> None:
        for i in range(5):
            await _request(reader)
            body = b"config-%d" % i
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
        await reader.read()

    url = await serve(answer)
    buffers: set[int] = set()
    for i in range(5):
        resp = await pool.get(url, {}, transient=True)
        chunks = [chunk async for chunk in resp.chunks()]
        resp.release()
        assert chunks == [b"config-%d" % i]
        assert type(chunks[0]) is bytes
        (conn,) = pool._idle[next(iter(pool._idle))]
        buffers.update(id(b) for b in [conn.buf, *conn.spare])
    assert len(buffers) == 1, "no buffer is allocated for a body shorter than a chunk"


async def test_plain_reads_hand_out_bytes_the_caller_may_keep(serve, pool) -> None:
    data = os.urandom(3 * CHUNK)
    url = await serve(_once(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data) + data))
    resp = await pool.get(url, {})
    kept = [chunk async for chunk in resp.chunks()]
    resp.release()
    assert all(type(chunk) is bytes for chunk in kept)
    assert b"".join(kept) == data
