"""Git sources: which URLs a custom git trigger may use, and the SSRF guard on them."""

from __future__ import annotations

import pytest

from berth.outbound import AddressPolicy, AllowList
from berth.outbound.git import GitSourceError, check_literal, parse_git_url


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port"),
    [
        ("https://git.example.com/team/app.git", "https", "git.example.com", 443),
        ("http://10.0.0.5:8080/app.git", "http", "10.0.0.5", 8080),
        ("ssh://git@git.example.com:2222/app.git", "ssh", "git.example.com", 2222),
        ("git://git.example.com/app.git", "git", "git.example.com", 9418),
        ("git@github.com:octo-org/hello-world.git", "ssh", "github.com", 22),
    ],
)
def test_git_urls(url: str, scheme: str, host: str, port: int) -> None:
    source = parse_git_url(url)
    assert (source.scheme, source.host, source.port) == (scheme, host, port)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc",
        "/srv/repos/app.git",
        "../app.git",
        "ext::sh -c touch% /tmp/x",
        "-uhelp",
        "ftp://example.com/app.git",
        "https:///nohost",
        "https://user:secret@git.example.com/app.git",
        "",
    ],
)
def test_local_and_other_transports_are_refused(url: str) -> None:
    with pytest.raises(GitSourceError):
        parse_git_url(url)


def test_the_guard_refuses_metadata_and_private_literals() -> None:
    policy = AddressPolicy()
    for url in ("http://169.254.169.254/x.git", "http://metadata.google.internal/x.git"):
        with pytest.raises(GitSourceError):
            check_literal(parse_git_url(url), policy)
    with pytest.raises(GitSourceError):
        check_literal(parse_git_url("http://127.0.0.1:9/x.git"), policy)
    allowed = AddressPolicy(AllowList.parse(["127.0.0.1"]))
    check_literal(parse_git_url("http://127.0.0.1:9/x.git"), allowed)
    with pytest.raises(GitSourceError):  # always refused, whatever the allow list says
        check_literal(parse_git_url("http://169.254.169.254/x.git"), allowed)
