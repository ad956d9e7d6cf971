"""Errors of the identity domain (organizations, teams, robots, permissions).

No HTTP here: the /api/v1 edge maps ``NotFound`` to 404 (or Quay's quirks), ``InvalidRequest``
to 400 and ``Forbidden`` to 403. Every error carries a Quay-like ``message``.
"""

from __future__ import annotations

from berth.oci.names import NAMESPACE_RE


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


NAME_RULE = "Namespace must match expression ^([a-z0-9]+(?:[._-][a-z0-9]+)*)$"
NAME_LENGTH_RULE = "Namespace must be between 2 and 255 characters in length"


def name_problem(name: str) -> str:
    """Quay's reason for refusing a namespace or team name."""
    if not 2 <= len(name) <= 255 and NAMESPACE_RE.fullmatch(name):
        return NAME_LENGTH_RULE
    return NAME_RULE


class InvalidOrganizationName(InvalidRequest):
    def __init__(self, name: str) -> None:
        super().__init__(f"Invalid namespace {name}: {name_problem(name)}", name=name)


class NameTaken(InvalidRequest):
    def __init__(self, name: str) -> None:
        super().__init__("A user or organization with this name already exists", name=name)


class EmailTaken(InvalidRequest):
    def __init__(self, email: str) -> None:
        super().__init__(f"Email has already been used: {email}", email=email)


class EmailRequired(InvalidRequest):
    def __init__(self) -> None:
        super().__init__("Email address is required")


class InvalidEmail(InvalidRequest):
    def __init__(self, email: str) -> None:
        super().__init__(f"Invalid email address: {email}", email=email)


class LastOrganizationAdmin(InvalidRequest):
    def __init__(self, org: str, member: str) -> None:
        super().__init__(
            "Cannot remove user as they are the only organization admin",
            organization=org,
            member=member,
        )


class InvalidTagExpiration(InvalidRequest):
    def __init__(self, value: int) -> None:
        super().__init__("Invalid tag expiration option", tag_expiration_s=value)
