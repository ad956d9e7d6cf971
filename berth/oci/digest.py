"""Content digests: parsing, hashing and a hashing pass-through for byte streams.

Grammar (OCI image spec, descriptor.md):

    digest    := algorithm ":" encoded
    algorithm := [a-z0-9]+ ([+._-] [a-z0-9]+)*
    encoded   := [a-zA-Z0-9=_-]+

Berth supports the two registered algorithms, sha256 (64 lowercase hex digits)
and sha512 (128 lowercase hex digits).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _hashlib import HASH

__all__ = [
    "DIGEST_RE",
    "SUPPORTED_ALGORITHMS",
    "Digest",
    "DigestingIterator",
    "InvalidDigest",
    "UnsupportedDigest",
    "digest_of",
    "new_hasher",
    "parse_digest",
]

DIGEST_RE = re.compile(r"([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)")

# algorithm -> exact form of its encoded part
_ENCODED_RE: dict[str, re.Pattern[str]] = {
    "sha256": re.compile(r"[a-f0-9]{64}"),
    "sha512": re.compile(r"[a-f0-9]{128}"),
}
SUPPORTED_ALGORITHMS: frozenset[str] = frozenset(_ENCODED_RE)


class InvalidDigest(ValueError):
    """The string is not a digest (or a sha256/sha512 digest with a malformed hex part)."""

    def __init__(self, value: object, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"invalid digest {value!r}: {reason}")


class UnsupportedDigest(InvalidDigest):
    """A well-formed digest whose algorithm Berth does not implement."""

    def __init__(self, value: object, algorithm: str) -> None:
        self.algorithm = algorithm
        super().__init__(value, f"unsupported digest algorithm {algorithm!r}")


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def split_well_formed(value: str) -> tuple[str, str]:
    """Split a digest that matches the generic grammar; any algorithm is accepted."""
    if not isinstance(value, str):
        raise InvalidDigest(value, "not a string")
    m = DIGEST_RE.fullmatch(value)
    if m is None:
        raise InvalidDigest(value, "expected <algorithm>:<encoded>")
    return m.group(1), m.group(2)


def parse_digest(value: str) -> Digest:
    algorithm, encoded = split_well_formed(value)
    pattern = _ENCODED_RE.get(algorithm)
    if pattern is None:
        raise UnsupportedDigest(value, algorithm)
    if pattern.fullmatch(encoded) is None:
        length = 64 if algorithm == "sha256" else 128
        raise InvalidDigest(value, f"{algorithm} needs exactly {length} lowercase hex digits")
    return Digest(algorithm, encoded)


def new_hasher(algorithm: str) -> HASH:
    """A fresh hashlib object for a supported algorithm."""
    if algorithm == "sha256":
        return hashlib.sha256()
    if algorithm == "sha512":
        return hashlib.sha512()
    raise UnsupportedDigest(algorithm, str(algorithm))


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return f"{algorithm}:{hasher.hexdigest()}"


class DigestingIterator:
    """Pass chunks of an async byte stream through unchanged, hashing and counting them.

    ``size``, ``hexdigest()`` and ``digest()`` describe what has been yielded so far,
    so they are the whole stream's once iteration is complete.
    """

    __slots__ = ("_hasher", "_iterator", "_source", "algorithm", "size")

    def __init__(self, source: AsyncIterable[bytes], algorithm: str = "sha256") -> None:
        self._hasher = new_hasher(algorithm)
        self._source = source
        self._iterator: AsyncIterator[bytes] | None = None
        self.algorithm = algorithm
        self.size = 0

    def __aiter__(self) -> DigestingIterator:
        return self

    async def __anext__(self) -> bytes:
        if self._iterator is None:
            self._iterator = aiter(self._source)
        chunk = await anext(self._iterator)
        self._hasher.update(chunk)
        self.size += len(chunk)
        return chunk

    async def aclose(self) -> None:
        """Close the wrapped iterator if it supports closing (async generators do)."""
        target: Any = self._iterator if self._iterator is not None else self._source
        close = getattr(target, "aclose", None)
        if close is not None:
            await close()

    def hexdigest(self) -> str:
        return self._hasher.hexdigest()

    def digest(self) -> str:
        return f"{self.algorithm}:{self._hasher.hexdigest()}"
