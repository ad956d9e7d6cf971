"""The pull log's buffer: bounded, and kept when the database refuses a flush."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from berth.audit.services import Performer
from berth.registry.pulls import PullLog, _rows


class RefusingDb:
    """A database whose write units fail (down, or read-only for a moment)."""

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Any]:
        raise ConnectionError("database unavailable")
        yield  # pragma: no cover


def _pull(log: PullLog, n: int = 1) -> None:
    for i in range(n):
        log.record("alice", "app", Performer("alice", 1), None, tag=f"t{i}")


async def test_a_full_buffer_drops_new_pulls_and_counts_them() -> None:
    log = PullLog(RefusingDb(), max_buffer=3)  # type: ignore[arg-type]
    _pull(log, 5)
    assert (log.pending, log.dropped) == (3, 2)


async def test_a_refused_flush_keeps_the_batch_for_the_next() -> None:
    log = PullLog(RefusingDb(), max_buffer=10)  # type: ignore[arg-type]
    _pull(log, 4)
    with pytest.raises(ConnectionError):
        await log.flush()
    assert log.pending == 4
    await log.stop()  # shutdown swallows the error: what could not be written is lost
    assert log.pending == 4


async def test_pulls_keep_their_time_and_become_quays_row_at_flush() -> None:
    log = PullLog(RefusingDb())  # type: ignore[arg-type]
    for agent in ("skopeo", "skopeo", "podman"):
        log.record(
            "alice", "app", Performer("alice", 1, "10.0.0.1"), {"user-agent": agent},
            tag="v1", manifest_digest="sha256:" + "a" * 64,
        )  # fmt: skip
    rows = _rows(log._buffer, {("alice", "app"): (7, 9)})
    assert [r[:8] for r in rows] == [
        ("pull_repo", 7, "alice", 9, "app", 1, "alice", "10.0.0.1")
    ] * 3
    metas = [orjson.loads(r[8]) for r in rows]
    assert metas[0] == {
        "repo": "app", "namespace": "alice", "user-agent": "skopeo",
        "tag": "v1", "manifest_digest": "sha256:" + "a" * 64,
    }  # fmt: skip
    assert metas[1] == metas[0]  # the same pull twice: one metadata, two rows
    assert metas[2]["user-agent"] == "podman"
    assert [r[9] for r in rows] == [p[6] for p in log._buffer]  # each keeps its own time
    assert all(r[9] > 0 for r in rows)
