"""Repository states (``repositories.state``).

``NORMAL`` repositories take pushes, tag changes and deletes; ``READ_ONLY`` and ``MIRROR``
ones (written by the mirror only) don't. The API may set those three. ``MARKED_FOR_DELETION``
is a deleted repository whose rows a job is still removing: hidden everywhere.
"""

from __future__ import annotations

from enum import StrEnum


class RepositoryState(StrEnum):
    NORMAL = "NORMAL"
    READ_ONLY = "READ_ONLY"
    MIRROR = "MIRROR"
    MARKED_FOR_DELETION = "MARKED_FOR_DELETION"

    @property
    def accepts_pushes(self) -> bool:
        """Pushes, tag changes and deletes are allowed (registry read-only mode aside)."""
        return self is RepositoryState.NORMAL


# The states ``PUT /repository/{repo}/changestate`` accepts, in Quay's order.
SETTABLE_STATES = (RepositoryState.NORMAL, RepositoryState.READ_ONLY, RepositoryState.MIRROR)
