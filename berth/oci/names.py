"""Repository names, namespaces, tags and references.

Repository names and tags follow the OCI distribution spec v1.1. Berth, like Quay,
keeps every repository under a namespace (an organization or a user), so a name needs
at least two path components: ``<namespace>/<repository>``.
"""

from __future__ import annotations

import re

from berth.oci.digest import InvalidDigest, parse_digest, split_well_formed

__all__ = [
    "MAX_NAMESPACE_LENGTH",
    "MAX_REPOSITORY_LENGTH",
    "MAX_TAG_LENGTH",
    "NAMESPACE_RE",
    "REPOSITORY_RE",
    "TAG_RE",
    "InvalidName",
    "is_digest",
    "is_valid_namespace",
    "is_valid_repository",
    "is_valid_tag",
    "referrers_tag",
    "split_repository",
]

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
NAMESPACE_RE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")

MAX_REPOSITORY_LENGTH = 255
MAX_TAG_LENGTH = 128
MIN_NAMESPACE_LENGTH = 2
MAX_NAMESPACE_LENGTH = 255

# referrers tag schema: truncation limits and the characters a tag may hold
_REFERRERS_ALG_LIMIT = 32
_REFERRERS_ENCODED_LIMIT = 64
_NOT_TAG_CHAR = re.compile(r"[^a-zA-Z0-9._-]")


class InvalidName(ValueError):
    """A repository name that Berth cannot serve."""

    def __init__(self, name: object, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"invalid repository name {name!r}: {reason}")


def is_valid_repository(name: str) -> bool:
    """OCI grammar and total length <= 255 (a namespace is not required here)."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_REPOSITORY_LENGTH
        and REPOSITORY_RE.fullmatch(name) is not None
    )


def split_repository(name: str) -> tuple[str, str]:
    """``"org/team/app"`` -> ``("org", "team/app")``; raise InvalidName otherwise."""
    if not isinstance(name, str):
        raise InvalidName(name, "not a string")
    if len(name) > MAX_REPOSITORY_LENGTH:
        raise InvalidName(name, f"longer than {MAX_REPOSITORY_LENGTH} characters")
    if REPOSITORY_RE.fullmatch(name) is None:
        raise InvalidName(
            name,
            "path components must be lowercase letters and digits, "
            "separated by '.', '_', '__' or dashes",
        )
    namespace, sep, rest = name.partition("/")
    if not sep:
        raise InvalidName(
            name, f"a namespace is required, e.g. 'myorg/{name}' (namespace/repository)"
        )
    return namespace, rest


def is_valid_tag(tag: str) -> bool:
    return isinstance(tag, str) and TAG_RE.fullmatch(tag) is not None


def is_digest(reference: str) -> bool:
    """True when the reference is a digest Berth can address (sha256 or sha512)."""
    if not isinstance(reference, str) or ":" not in reference:
        return False
    try:
        parse_digest(reference)
    except InvalidDigest:
        return False
    return True


def is_valid_namespace(name: str) -> bool:
    """Quay's rule for organization and user names."""
    return (
        isinstance(name, str)
        and MIN_NAMESPACE_LENGTH <= len(name) <= MAX_NAMESPACE_LENGTH
        and NAMESPACE_RE.fullmatch(name) is not None
    )


def referrers_tag(digest: str) -> str:
    """The referrers tag schema's tag for a subject digest (distribution spec v1.1).

    ``<alg>-<encoded>`` with the algorithm truncated to 32 characters, the encoded part
    to 64, and characters a tag may not contain replaced by ``-``: ``sha256:abc..`` ->
    ``sha256-abc..``; a sha512 digest keeps the first 64 hex digits.
    Raises InvalidDigest if the value is not a well-formed digest.
    """
    algorithm, encoded = split_well_formed(digest)
    tag = f"{algorithm[:_REFERRERS_ALG_LIMIT]}-{encoded[:_REFERRERS_ENCODED_LIMIT]}"
    return _NOT_TAG_CHAR.sub("-", tag)
