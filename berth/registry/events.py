"""What the registry core tells the features that react to its writes (notifications today).

The core never imports a feature: the composition root hands the registry a
``PushListener`` (``berth.notifications.hooks.PushNotifier``), and the push path calls it
inside the manifest write's transaction, after the ``push_repo`` usage-log entry, so
whatever the listener enqueues (delivery jobs) commits or rolls back with the push. The
listener runs on the push's hot path: it must cost at most one indexed query when nothing
listens, and use only Core statements (the unit may be a ``FastUnit``).
"""

from __future__ import annotations

from typing import Protocol

from berth.audit.services import Performer
from berth.db.fast import Unit
from berth.registry.repositories import RepoRow


class PushListener(Protocol):
    async def tag_pushed(
        self, s: Unit, repo: RepoRow, tag: str, digest: str, performer: Performer | None
    ) -> None:
        """A push pointed ``tag`` of ``repo`` at the manifest ``digest`` (in ``s``)."""
        ...


class NoListener:
    async def tag_pushed(
        self, s: Unit, repo: RepoRow, tag: str, digest: str, performer: Performer | None
    ) -> None:
        return None


class Listeners:
    """Several listeners, called in order in the same unit (the composition root builds it
    only when more than one feature listens)."""

    def __init__(self, *listeners: PushListener) -> None:
        self.listeners = listeners

    async def tag_pushed(
        self, s: Unit, repo: RepoRow, tag: str, digest: str, performer: Performer | None
    ) -> None:
        for listener in self.listeners:
            await listener.tag_pushed(s, repo, tag, digest, performer)
