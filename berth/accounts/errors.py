"""Account errors."""

from __future__ import annotations


class AccountError(Exception):
    pass


class InvalidUsername(AccountError):
    def __init__(self, username: str) -> None:
        super().__init__(
            f"invalid username {username!r}: 2-255 characters of a-z, 0-9 and . _ - "
            "(starting and ending with a letter or digit)"
        )


class NamespaceTaken(AccountError):
    def __init__(self, name: str) -> None:
        super().__init__(f"the name {name!r} is already taken")
        self.name = name


class InvalidPassword(AccountError):
    pass
