"""Push payloads of GitHub, GitLab and Bitbucket (their documented formats, in
tests/support/triggerpayloads) and Quay's custom-git format, into trigger metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from berth.buildtriggers import payloads

FIXTURES = Path(__file__).parents[2] / "support" / "triggerpayloads"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def test_github_push() -> None:
    meta = payloads.parse("github", fixture("github_push"), git_url=None, default_branch=None)
    assert meta == {
        "commit": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
        "ref": "refs/heads/main",
        "default_branch": "main",
        "git_url": "git@github.com:octo-org/hello-world.git",
        "commit_info": {
            "url": "https://github.com/octo-org/hello-world/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
            "message": "Update the Dockerfile",
            "date": "2026-11-30T10:15:42-05:00",
            "author": {"username": "monalisa"},
            "committer": {"username": "web-flow"},
        },
    }


def test_github_deleted_branch_and_ping_build_nothing() -> None:
    deleted = {**fixture("github_push"), "head_commit": None, "deleted": True}
    with pytest.raises(payloads.Skip):
        payloads.github(deleted)
    with pytest.raises(payloads.Skip):
        payloads.github({"zen": "Keep it logically awesome.", "hook_id": 1})


def test_gitlab_push_takes_the_checkout_commit() -> None:
    meta = payloads.parse("gitlab", fixture("gitlab_push"), git_url=None, default_branch=None)
    assert meta["commit"] == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert meta["ref"] == "refs/heads/release"
    assert meta["default_branch"] == "main"
    assert meta["git_url"] == "git@example.com:mike/diaspora.git"
    assert meta["commit_info"]["message"] == "fixed readme"
    assert meta["commit_info"]["date"] == "2012-01-03T23:36:29+02:00"
    assert meta["commit_info"]["author"]["username"] == "jsmith"


def test_gitlab_deleted_branch_builds_nothing() -> None:
    deleted = {**fixture("gitlab_push"), "checkout_sha": None, "after": "0" * 40, "commits": []}
    with pytest.raises(payloads.Skip):
        payloads.gitlab(deleted)


def test_bitbucket_tag_push() -> None:
    meta = payloads.parse("bitbucket", fixture("bitbucket_push"), git_url=None, default_branch=None)
    assert meta == {
        "commit": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        "ref": "refs/tags/v1.4.0",
        "default_branch": "main",
        "git_url": "git@bitbucket.org:acme/web-app.git",
        "commit_info": {
            "url": "https://bitbucket.org/acme/web-app/commits/a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            "message": "Release 1.4.0\n",
            "date": "2026-12-01T08:30:00+00:00",
            "author": {
                "username": "ewalker",
                "url": "https://bitbucket.org/ewalker/",
                "avatar_url": "https://avatar-management.example/ewalker.png",
            },
        },
    }


def test_custom_git_format_and_the_services_payloads() -> None:
    body = {
        "commit": "1c002dd",
        "ref": "refs/heads/master",
        "default_branch": "master",
        "commit_info": {"url": "u", "message": "initial commit", "date": "timestamp"},
    }
    meta = payloads.parse(
        "custom-git", body, git_url="https://git.example/r.git", default_branch=None
    )
    assert meta == {**body, "git_url": "https://git.example/r.git"}
    # A GitHub payload sent to a custom trigger: parsed as GitHub's, cloned from the trigger's URL.
    meta = payloads.parse(
        "custom-git", fixture("github_push"), git_url="ssh://g/r", default_branch=None
    )
    assert meta["commit"] == "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
    assert meta["git_url"] == "ssh://g/r"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"ref": "refs/heads/x", "default_branch": "x"}, "'commit' is a required property"),
        ({"commit": "zzz", "ref": "refs/heads/x", "default_branch": "x"}, "does not match"),
        ({"commit": "1c002dd", "ref": "main", "default_branch": "x"}, "does not match"),
    ],
)
def test_custom_git_bad_payloads(body: dict[str, Any], message: str) -> None:
    with pytest.raises(payloads.InvalidPayload) as e:
        payloads.parse("custom-git", body, git_url="g", default_branch=None)
    assert message in str(e.value)


def test_skip_build_messages_and_ref_filters() -> None:
    meta = {"commit": "abc1234", "ref": "refs/heads/main", "commit_info": {"message": "wip"}}
    assert payloads.skip_reason(meta, {}) is None
    for message in ("fix [skip build]", "[build skip] docs"):
        skipped = {**meta, "commit_info": {"message": message}}
        assert payloads.skip_reason(skipped, {}) is not None
    assert payloads.skip_reason(meta, {"branchtag_regex": "heads/main"}) is None
    assert payloads.skip_reason(meta, {"branchtag_regex": "heads/ma"}) is not None  # whole ref
    assert payloads.skip_reason(meta, {"branchtag_regex": "tags/v.+"}) is not None
    tag = {**meta, "ref": "refs/tags/v2.0"}
    assert payloads.skip_reason(tag, {"branchtag_regex": "tags/v.+"}) is None
