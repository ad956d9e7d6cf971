import contextlib
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.oci.digest import (
    Digest,
    DigestingIterator,
    InvalidDigest,
    UnsupportedDigest,
    digest_of,
    new_hasher,
    parse_digest,
)
from tests.unit.oci.strategies import well_formed_digests

SHA256_HELLO = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
HEX = "0123456789abcdef"


def test_parse_sha256():
    d = parse_digest(SHA256_HELLO)
    assert d == Digest("sha256", SHA256_HELLO.split(":")[1])
    assert str(d) == SHA256_HELLO


def test_parse_sha512():
    hexpart = hashlib.sha512(b"hello").hexdigest()
    d = parse_digest(f"sha512:{hexpart}")
    assert (d.algorithm, d.hex) == ("sha512", hexpart)


def test_digest_is_immutable_and_hashable():
    d = parse_digest(SHA256_HELLO)
    with pytest.raises(AttributeError):
        d.hex = "00"  # type: ignore[misc]
    assert {d, parse_digest(SHA256_HELLO)} == {d}


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha256",
        "sha256:",
        ":" + "a" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "sha256:" + "A" * 64,  # uppercase hex is not canonical
        "sha256:" + "g" * 64,
        "sha512:" + "a" * 64,
        "sha256:" + "a" * 64 + "\n",  # no trailing newline sneaking past `$`
        " sha256:" + "a" * 64,
        "SHA256:" + "a" * 64,  # algorithm grammar is lowercase
        "sha256::" + "a" * 64,
        "sha256:" + "a" * 32 + "/" + "a" * 31,
        "sha+:abc",  # separator must be followed by a component
    ],
)
def test_invalid_digests(value):
    with pytest.raises(InvalidDigest) as info:
        parse_digest(value)
    assert not isinstance(info.value, UnsupportedDigest)
    assert info.value.value == value


@pytest.mark.parametrize(
    "value", ["md5:d41d8cd98f00b204e9800998ecf8427e", "blake3:abc", "multihash+base58:QmRZxt2b1"]
)
def test_well_formed_but_unsupported(value):
    with pytest.raises(UnsupportedDigest) as info:
        parse_digest(value)
    assert isinstance(info.value, InvalidDigest)
    assert info.value.algorithm == value.split(":")[0]


def test_non_string_is_invalid():
    with pytest.raises(InvalidDigest):
        parse_digest(b"sha256:" + b"a" * 64)  # type: ignore[arg-type]


@settings(max_examples=50)
@given(
    st.sampled_from([("sha256", 64), ("sha512", 128)]).flatmap(
        lambda p: st.tuples(st.just(p[0]), st.text(HEX, min_size=p[1], max_size=p[1]))
    )
)
def test_round_trip_supported(pair):
    algorithm, hexpart = pair
    text = f"{algorithm}:{hexpart}"
    assert str(parse_digest(text)) == text


@settings(max_examples=50)
@given(well_formed_digests)
def test_grammar_matches_are_parsed_or_refused_cleanly(text):
    algorithm = text.split(":", 1)[0]
    try:
        d = parse_digest(text)
    except UnsupportedDigest:
        assert algorithm not in ("sha256", "sha512")
    except InvalidDigest:
        assert algorithm in ("sha256", "sha512")
    else:
        assert str(d) == text


@settings(max_examples=50)
@given(st.text(max_size=80))
def test_arbitrary_text_only_raises_invalid_digest(text):
    with contextlib.suppress(InvalidDigest):
        parse_digest(text)


def test_digest_of_and_hashers():
    assert digest_of(b"hello") == SHA256_HELLO
    assert digest_of(b"hello", "sha512") == "sha512:" + hashlib.sha512(b"hello").hexdigest()
    assert new_hasher("sha512").name == "sha512"
    with pytest.raises(UnsupportedDigest):
        new_hasher("md5")
    with pytest.raises(UnsupportedDigest):
        digest_of(b"x", "sha1")


async def _chunks(*parts: bytes):
    for part in parts:
        yield part


async def test_digesting_iterator_passes_bytes_through_and_hashes():
    parts = [b"hel", b"", b"lo"]
    it = DigestingIterator(_chunks(*parts))
    seen = [chunk async for chunk in it]
    assert seen == parts
    assert it.size == 5
    assert it.digest() == SHA256_HELLO
    assert it.hexdigest() == SHA256_HELLO.split(":")[1]


async def test_digesting_iterator_sha512_and_empty_stream():
    it = DigestingIterator(_chunks(), "sha512")
    assert [c async for c in it] == []
    assert it.size == 0
    assert it.digest() == digest_of(b"", "sha512")


async def test_digesting_iterator_reports_progress_midway_and_closes():
    source = _chunks(b"ab", b"cd", b"ef")
    it = DigestingIterator(source)
    assert await anext(it) == b"ab"
    assert it.size == 2
    assert it.digest() == digest_of(b"ab")
    await it.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(it)


async def test_digesting_iterator_accepts_any_async_iterable():
    class Source:
        def __aiter__(self):
            return _chunks(b"x" * 10, b"y")

    it = DigestingIterator(Source())
    assert b"".join([c async for c in it]) == b"x" * 10 + b"y"
    assert it.size == 11


def test_digesting_iterator_rejects_unsupported_algorithm():
    with pytest.raises(UnsupportedDigest):
        DigestingIterator(_chunks(), "md5")
