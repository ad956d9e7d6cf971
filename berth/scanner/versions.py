"""Each ecosystem's version ordering: ``compare(scheme, a, b)`` is -1, 0 or 1.

deb uses univers' Debian ordering (epochs, ``~``, ``+``), pep440 uses ``packaging``, semver
(npm) uses univers' semver, maven univers' Maven ordering (ComparableVersion's rules); apk is
our own (univers refuses ``_git``, ``_cvs``, ``_svn`` and ``_hg``, which Alpine uses). A
version that does not parse raises ``ValueError``: the matcher then leaves that advisory
undetermined rather than guessing.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from packaging.version import InvalidVersion, Version
from univers.versions import DebianVersion, MavenVersion, RpmVersion, SemverVersion

SCHEMES = ("deb", "apk", "rpm", "pep440", "semver", "maven")

_APK = re.compile(
    r"^(?P<nums>\d+(?:\.\d+)*)(?P<letter>[a-z]?)"
    r"(?P<suffixes>(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)"
    r"(?:~[0-9a-f]+)?(?:-r(?P<rev>\d+))?$"
)
_APK_SUFFIX = re.compile(r"_(alpha|beta|pre|rc|cvs|svn|git|hg|p)(\d*)")
# apk-tools' order: pre-releases, then the release itself (no suffix), then post-releases.
_APK_RANK = {
    "alpha": 0,
    "beta": 1,
    "pre": 2,
    "rc": 3,
    "": 4,
    "cvs": 5,
    "svn": 6,
    "git": 7,
    "hg": 8,
    "p": 9,
}


def _apk_num(i: int, s: str) -> tuple[int, Any]:
    # apk compares a later component with a leading zero as a fraction (1.01 < 1.1).
    if i > 0 and len(s) > 1 and s[0] == "0":
        return (0, s.rstrip("0") or "0")
    return (1, int(s))


@lru_cache(maxsize=65536)
def apk_key(v: str) -> tuple[Any, ...]:
    m = _APK.match(v.strip())
    if not m:
        raise ValueError(f"not an apk version: {v!r}")
    nums = tuple(_apk_num(i, s) for i, s in enumerate(m.group("nums").split(".")))
    found = _APK_SUFFIX.findall(m.group("suffixes"))
    suffixes = (*((_APK_RANK[name], int(n or 0)) for name, n in found), (_APK_RANK[""], 0))
    return (nums, m.group("letter"), suffixes, int(m.group("rev") or 0))


@lru_cache(maxsize=65536)
def _deb(v: str) -> Any:
    try:
        return DebianVersion(v)
    except Exception as e:
        raise ValueError(f"not a Debian version: {v!r}") from e


@lru_cache(maxsize=65536)
def _rpm(v: str) -> Any:
    try:
        return RpmVersion(v)
    except Exception as e:
        raise ValueError(f"not an rpm version: {v!r}") from e


@lru_cache(maxsize=65536)
def _pep440(v: str) -> Version:
    try:
        return Version(v)
    except InvalidVersion as e:
        raise ValueError(f"not a PEP 440 version: {v!r}") from e


@lru_cache(maxsize=65536)
def _semver(v: str) -> Any:
    try:
        return SemverVersion(v.lstrip("v"))
    except Exception as e:
        raise ValueError(f"not a semantic version: {v!r}") from e


@lru_cache(maxsize=65536)
def _maven(v: str) -> Any:
    try:
        return MavenVersion(v)
    except Exception as e:
        raise ValueError(f"not a Maven version: {v!r}") from e


def _key(scheme: str, v: str) -> Any:
    if scheme == "deb":
        return _deb(v)
    if scheme == "apk":
        return apk_key(v)
    if scheme == "rpm":
        return _rpm(v)
    if scheme == "pep440":
        return _pep440(v)
    if scheme == "semver":
        return _semver(v)
    if scheme == "maven":
        return _maven(v)
    raise ValueError(f"unknown version scheme {scheme!r}")


def compare(scheme: str, a: str, b: str) -> int:
    ka, kb = _key(scheme, a), _key(scheme, b)
    return -1 if ka < kb else (1 if ka > kb else 0)
