"""Errors of the identity domain (organizations, teams, robots, permissions).

No HTTP here: the /api/v1 edge maps ``NotFound`` to 404 (or Quay's quirks), ``InvalidRequest``
to 400 and ``Forbidden`` to 403. Every error carries a Quay-like ``message``.
"""

from __future__ import annotations


class IdentityError(Exception):
    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class NotFound(IdentityError):
    pass


class InvalidRequest(IdentityError):
    pass


class Forbidden(IdentityError):
    pass


class NamespaceNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown namespace {name}", namespace=name)


class OrganizationNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown organization {name}", organization=name)


class UserNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown user {name}", username=name)


class InvalidOrganizationName(InvalidRequest):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"Invalid namespace {name}: 2-255 characters of a-z, 0-9 and . _ - "
            "(starting and ending with a letter or digit)",
            name=name,
        )


class NameTaken(InvalidRequest):
    def __init__(self, name: str) -> None:
        super().__init__("A user or organization with this name already exists", name=name)


class EmailTaken(InvalidRequest):
    def __init__(self, email: str) -> None:
        super().__init__("This email address is already in use", email=email)


class InvalidTagExpiration(InvalidRequest):
    def __init__(self, value: int) -> None:
        super().__init__("Invalid tag expiration option", tag_expiration_s=value)
