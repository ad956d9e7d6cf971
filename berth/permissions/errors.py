"""Permission errors (see berth.orgs.errors for the base classes)."""

from __future__ import annotations

from berth.orgs.errors import InvalidRequest, NotFound


class RepositoryNotFound(NotFound):
    def __init__(self, repo: str) -> None:
        super().__init__(f"Unknown repository {repo}", repository=repo)


class InvalidRole(InvalidRequest):
    def __init__(self, role: str) -> None:
        super().__init__(f"Invalid role {role}: must be read, write or admin", role=role)


class OwnerMustBeAdmin(InvalidRequest):
    def __init__(self) -> None:
        super().__init__("Namespace owner must always be admin.")


class PermissionNotFound(InvalidRequest):
    """Quay answers 400 for a missing permission."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} does not have permission for repo.")


class InvalidDelegate(InvalidRequest):
    pass


class PrototypeNotFound(NotFound):
    def __init__(self, prototype_id: str) -> None:
        super().__init__("Unknown prototype", prototype=prototype_id)
