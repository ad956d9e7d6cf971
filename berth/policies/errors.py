"""Policy domain errors (no HTTP: /api/v1 maps ``NotFound`` to 404, ``InvalidPolicy`` and
``DuplicatePolicy`` to Quay's 400 ``invalid_request`` with the message as detail)."""

from __future__ import annotations


class PolicyError(Exception):
    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class InvalidPolicy(PolicyError):
    """A method, value or tag pattern that does not validate."""


class DuplicatePolicy(PolicyError):
    """Another policy of the same scope has exactly these values."""


class NotFound(PolicyError):
    pass


class PolicyNotFound(NotFound):
    def __init__(self, uuid: str) -> None:
        super().__init__(f"Policy {uuid} not found", uuid=uuid)


class ScopeNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown namespace or repository {name}", name=name)
