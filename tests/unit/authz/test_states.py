"""Repository states: which accept pushes, which the API may set."""

from __future__ import annotations

import pytest

from berth.authz import SETTABLE_STATES, RepositoryState


@pytest.mark.parametrize(
    ("state", "pushes"),
    [
        (RepositoryState.NORMAL, True),
        (RepositoryState.READ_ONLY, False),
        (RepositoryState.MIRROR, False),
        (RepositoryState.MARKED_FOR_DELETION, False),
    ],
)
def test_only_normal_accepts_pushes(state: RepositoryState, pushes: bool) -> None:
    assert state.accepts_pushes is pushes
    assert RepositoryState(state.value) is state  # stored as its name


def test_settable_states_in_quays_order() -> None:
    assert [s.value for s in SETTABLE_STATES] == ["NORMAL", "READ_ONLY", "MIRROR"]
    assert "READ_ONLY" in SETTABLE_STATES
    assert "MARKED_FOR_DELETION" not in SETTABLE_STATES
