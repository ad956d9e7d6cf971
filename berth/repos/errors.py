"""Repository errors (no HTTP; the /api/v1 edge maps them to Quay's answers).

A missing repository is ``berth.identity.errors.RepositoryNotFound``, a missing namespace
``berth.identity.errors.NamespaceNotFound``.
"""

from __future__ import annotations

from berth.identity.errors import InvalidRequest


class RepositoryExists(InvalidRequest):
    def __init__(self, repo: str) -> None:
        super().__init__("Repository already exists", repository=repo)


class InvalidRepositoryName(InvalidRequest):
    def __init__(self, name: str) -> None:
        super().__init__("Invalid repository name", name=name)


class InvalidRepositoryState(InvalidRequest):
    def __init__(self, state: str) -> None:
        super().__init__(f"{state} is not a valid Repository state.", state=state)
