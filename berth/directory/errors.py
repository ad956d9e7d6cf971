"""Directory errors (no HTTP here; the caller turns them into sign-in answers)."""

from __future__ import annotations


class DirectoryError(Exception):
    """Base class."""


class DirectoryUnavailable(DirectoryError):
    """The directory could not be reached, timed out, or refused the admin bind."""


class DirectoryRefused(DirectoryError):
    """The user is unknown, outside LDAP_USER_FILTER, or the password is wrong."""


class DirectoryConfigError(DirectoryError):
    """LDAP_* keys that cannot work (reported by ``load_settings``)."""
