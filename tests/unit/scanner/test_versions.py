"""Version ordering vectors per scheme (written for Berth)."""

from __future__ import annotations

import pytest

from berth.scanner.versions import compare

CASES = [
    # apk: suffix order, revisions, letters, _git snapshots (univers refuses these)
    ("apk", "1.0_alpha1", "1.0_beta1", -1),
    ("apk", "1.0_beta2", "1.0_pre1", -1),
    ("apk", "1.0_pre1", "1.0_rc1", -1),
    ("apk", "1.0_rc1", "1.0", -1),
    ("apk", "1.0", "1.0_cvs1", -1),
    ("apk", "1.0_svn1", "1.0_git20230101", -1),
    ("apk", "1.0_git20230101-r0", "1.0_hg1", -1),
    ("apk", "1.0_hg1", "1.0_p1", -1),
    ("apk", "1.0_p1", "1.0_p2", -1),
    ("apk", "1.0-r1", "1.0-r10", -1),
    ("apk", "1.0-r9", "1.0.1-r0", -1),
    ("apk", "1.2", "1.2a", -1),
    ("apk", "1.2.10", "1.2.9", 1),
    ("apk", "3.1.4-r1", "3.1.4-r1", 0),
    ("apk", "1.01", "1.1", -1),
    # deb: epoch, tilde, plus, binNMU, backports
    ("deb", "1:1.0-1", "2.0-1", 1),
    ("deb", "1.0~rc1-1", "1.0-1", -1),
    ("deb", "3.0.11-1~deb12u2", "3.0.11-1~deb12u3", -1),
    ("deb", "5.2.15-2+b8", "5.2.15-2", 1),
    ("deb", "7.88.1-10+deb12u5", "7.88.1-10", 1),
    ("deb", "1.2-1~bpo12+1", "1.2-1", -1),
    # PEP 440
    ("pep440", "2.0rc1", "2.0", -1),
    ("pep440", "2.0.post1", "2.0", 1),
    ("pep440", "1.0", "1.0.0", 0),
    # npm semver
    ("semver", "1.2.3-beta.1", "1.2.3", -1),
    ("semver", "4.17.20", "4.17.21", -1),
]


@pytest.mark.parametrize(("scheme", "a", "b", "expected"), CASES)
def test_ordering(scheme: str, a: str, b: str, expected: int) -> None:
    assert compare(scheme, a, b) == expected
    assert compare(scheme, b, a) == -expected


@pytest.mark.parametrize(
    ("scheme", "v"),
    [("apk", "1.0-rx"), ("apk", "abc"), ("pep440", "not a version"), ("semver", "x.y")],
)
def test_unparseable_versions_raise(scheme: str, v: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        compare(scheme, v, "1.0")
