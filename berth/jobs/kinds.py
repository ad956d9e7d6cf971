"""What a job is: a named kind with a typed payload, a lane and a number of attempts.

Each feature's ``tasks.py`` declares its kinds next to their handlers::

    @dataclass(frozen=True)
    class DeleteRepository:
        repository_id: int

    DELETE_REPOSITORY = JobKind("delete_repository", DeleteRepository, lane=Lane.LONG)

and enqueues with the kind object, never a bare string:
``await enqueue(s, DELETE_REPOSITORY, DeleteRepository(repository_id=7))``. The composition
root binds each kind to its handler (``DELETE_REPOSITORY.bind(handler)``). The kind's
``name`` is what the jobs table stores: renaming one strands the rows already queued.

A payload is a frozen dataclass of JSON values (ids, names, numbers): jobs take ids, never
ORM objects, and must be idempotent, since a job may run again after a crash.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

P = TypeVar("P")


class Lane(enum.StrEnum):
    """Each lane has its own claim loop and concurrency: a long job never delays a quick one."""

    QUICK = "quick"  # deliveries: webhooks, e-mail, Slack
    LONG = "long"  # garbage collection, prunes, deletes, purges, mirrors, scans
    BUILD = "build"  # Dockerfile builds: minutes each, so they never hold up a GC pass


DEFAULT_LANES: dict[Lane, int] = {Lane.QUICK: 4, Lane.LONG: 1, Lane.BUILD: 1}


@dataclass(frozen=True)
class NoPayload:
    """The payload of a job that needs none (a sweep)."""


class JobKind(Generic[P]):
    """A kind of job: its stored ``name``, its payload type, its lane, its attempts."""

    def __init__(
        self, name: str, payload: type[P], *, lane: Lane = Lane.LONG, max_attempts: int = 5
    ) -> None:
        if not dataclasses.is_dataclass(payload):
            raise TypeError(f"job {name}: the payload type must be a dataclass")
        if max_attempts < 1:
            raise ValueError(f"job {name}: max_attempts must be at least 1")
        self.name = name
        self.payload = payload
        self.lane = lane
        self.max_attempts = max_attempts

    def __repr__(self) -> str:
        return f"JobKind({self.name!r}, {self.payload.__name__}, lane={self.lane.value})"

    def to_json(self, payload: P) -> dict[str, Any]:
        if not isinstance(payload, self.payload):
            raise TypeError(
                f"job {self.name}: payload must be {self.payload.__name__}, "
                f"not {type(payload).__name__}"
            )
        return dataclasses.asdict(payload)  # type: ignore[call-overload, no-any-return]  # P: a dataclass, not expressible as a bound

    def from_json(self, data: dict[str, Any]) -> P:
        """The stored payload as its dataclass; unknown keys are dropped (a row written by
        an older release), a missing one raises TypeError (the job fails)."""
        names = {f.name for f in dataclasses.fields(self.payload)}  # type: ignore[arg-type]  # a dataclass type (see to_json)
        return self.payload(**{k: v for k, v in data.items() if k in names})

    def bind(self, handler: Callable[[P], Awaitable[Any]]) -> Binding[P]:
        return Binding(self, handler)


@dataclass(frozen=True)
class Binding(Generic[P]):
    """A kind and the handler that runs it (dependencies already bound)."""

    kind: JobKind[P]
    handler: Callable[[P], Awaitable[Any]]

    async def run(self, data: dict[str, Any]) -> Any:
        return await self.handler(self.kind.from_json(data))


@dataclass(frozen=True)
class Schedule(Generic[P]):
    """Enqueue ``kind`` every ``every_s`` seconds (deduplicated across replicas); without a
    payload, the kind's payload type is built with no arguments."""

    kind: JobKind[P]
    every_s: float
    payload: P | None = None

    def __post_init__(self) -> None:
        if self.payload is None:
            object.__setattr__(self, "payload", self.kind.payload())
