import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.oci.names import (
    InvalidName,
    is_digest,
    is_valid_namespace,
    is_valid_repository,
    is_valid_tag,
    referrers_tag,
    split_repository,
)
from tests.unit.oci.strategies import repository_names, tags, well_formed_digests

ALNUM = set(string.ascii_lowercase + string.digits)


def _reference_component_ok(component: str) -> bool:
    """Hand-written check of one path component, independent of the regex."""
    if not component or component[0] not in ALNUM or component[-1] not in ALNUM:
        return False
    i = 0
    while i < len(component):
        if component[i] in ALNUM:
            i += 1
            continue
        j = i
        while j < len(component) and component[j] not in ALNUM:
            j += 1
        sep = component[i:j]
        if not (sep in (".", "_", "__") or set(sep) == {"-"}):
            return False
        i = j
    return True


def _reference_repository_ok(name: str) -> bool:
    return 0 < len(name) <= 255 and all(_reference_component_ok(c) for c in name.split("/"))


@pytest.mark.parametrize(
    "name",
    [
        "busybox",
        "library/busybox",
        "my-org/app",
        "my--org/app",
        "a/b/c/d",
        "org/app.v2",
        "org/under_score",
        "org/double__underscore",
        "0/9",
        "a" * 255,
    ],
)
def test_valid_repositories(name):
    assert is_valid_repository(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Library/busybox",
        "org/App",
        "org/app-",
        "-org/app",
        "org//app",
        "/org/app",
        "org/app/",
        "org/a___b",
        "org/a..b",
        "org/a._b",
        "org/a b",
        "org/app\n",
        "org/app:latest",
        "org/ápp",
        "a" * 256,
    ],
)
def test_invalid_repositories(name):
    assert not is_valid_repository(name)


@settings(max_examples=50)
@given(st.text(alphabet="ab0._-/A", max_size=40))
def test_repository_regex_agrees_with_hand_written_grammar(name):
    assert is_valid_repository(name) == _reference_repository_ok(name)


@settings(max_examples=50)
@given(repository_names)
def test_repository_grammar_round_trip(name):
    assert is_valid_repository(name) == (len(name) <= 255)


def test_split_repository():
    assert split_repository("org/app") == ("org", "app")
    assert split_repository("org/team/app") == ("org", "team/app")


def test_split_repository_requires_a_namespace():
    with pytest.raises(InvalidName) as info:
        split_repository("busybox")
    assert "namespace" in str(info.value)
    assert info.value.name == "busybox"


@pytest.mark.parametrize("name", ["", "Org/app", "org/app/", "a" * 200 + "/" + "b" * 60])
def test_split_repository_refuses_invalid_names(name):
    with pytest.raises(InvalidName) as info:
        split_repository(name)
    assert "namespace" not in info.value.reason


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_internal", "1", "A-b_c.d", "x" * 128])
def test_valid_tags(tag):
    assert is_valid_tag(tag)


@pytest.mark.parametrize("tag", ["", ".hidden", "-dash", "x" * 129, "a/b", "a:b", "tag\n", "é"])
def test_invalid_tags(tag):
    assert not is_valid_tag(tag)


@settings(max_examples=50)
@given(tags)
def test_tag_grammar_round_trip(tag):
    assert is_valid_tag(tag)


def test_is_digest():
    assert is_digest("sha256:" + "a" * 64)
    assert is_digest("sha512:" + "0" * 128)
    assert not is_digest("latest")
    assert not is_digest("sha256:short")
    assert not is_digest("md5:d41d8cd98f00b204e9800998ecf8427e")  # well-formed, unusable
    assert not is_digest("sha256" + "a" * 64)


@pytest.mark.parametrize("name", ["ab", "my-org", "my.org", "my_org", "org1", "a" * 255])
def test_valid_namespaces(name):
    assert is_valid_namespace(name)


@pytest.mark.parametrize(
    "name", ["a", "", "My-org", "my--org", "my__org", "-org", "org-", "my/org", "a" * 256]
)
def test_invalid_namespaces(name):
    assert not is_valid_namespace(name)


def test_referrers_tag_sha256():
    hexpart = "a" * 64
    assert referrers_tag(f"sha256:{hexpart}") == f"sha256-{hexpart}"


def test_referrers_tag_sha512_keeps_64_hex_digits():
    hexpart = "0123456789abcdef" * 8
    assert referrers_tag(f"sha512:{hexpart}") == f"sha512-{hexpart[:64]}"


def test_referrers_tag_replaces_characters_tags_cannot_hold():
    assert referrers_tag("multihash+base58:QmRZ=x") == "multihash-base58-QmRZ-x"
    assert referrers_tag("a" * 40 + ":b") == "a" * 32 + "-b"


@settings(max_examples=50)
@given(well_formed_digests)
def test_referrers_tag_is_always_a_valid_tag(digest):
    assert is_valid_tag(referrers_tag(digest))
