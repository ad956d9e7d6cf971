"""Tag templates: what a trigger's config accepts and the tags a push gets."""

from __future__ import annotations

import pytest

from berth.buildtriggers.templates import (
    InvalidTemplate,
    TagOptions,
    check,
    check_all,
    determine_tags,
)

PUSH = {
    "commit": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
    "ref": "refs/heads/main",
    "default_branch": "main",
    "git_url": "git@github.com:octo-org/hello-world.git",
    "commit_info": {
        "url": "https://github.com/octo-org/hello-world/commit/0d1a26e",
        "message": "Update the Dockerfile",
        "date": "2026-11-30T10:15:42-05:00",
        "author": {"username": "monalisa"},
        "committer": {"username": "web-flow"},
    },
}


@pytest.mark.parametrize(
    "template",
    [
        "${commit_info.short_sha}",
        "${parsed_ref.branch}",
        "${parsed_ref.tag}",
        "${commit_info.date}",
        "${commit_info.author}",
        "${commit_info.committer}",
        "build-${parsed_ref.branch}-${commit_info.short_sha}",
        "v1.0",
    ],
)
def test_quays_templates_are_accepted(template: str) -> None:
    assert check(template) == template


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("${commit_info.short_sha", "unclosed"),
        ("${}", "empty"),
        ("${commit_info.sha}", "unknown field `commit_info.sha`"),
        ("${parsed_ref.branch|upper}", "unknown field"),
        ("latest:${parsed_ref.branch}", "letters, digits"),
        ("has space", "letters, digits"),
        ("", "non-empty"),
        ("$HOME", "stray"),
    ],
)
def test_bad_templates_are_refused_with_the_reason(template: str, reason: str) -> None:
    with pytest.raises(InvalidTemplate) as e:
        check(template)
    assert reason in str(e.value)
    assert template in str(e.value)


def test_templates_must_be_a_list() -> None:
    with pytest.raises(InvalidTemplate):
        check_all("${commit_info.short_sha}")
    assert check_all(None) == ()


def test_default_tags_are_the_branch_and_latest_on_the_default_branch() -> None:
    assert determine_tags(TagOptions(), PUSH) == ["latest", "main"]


def test_templates_render_from_the_push() -> None:
    options = TagOptions(
        ("${commit_info.short_sha}", "${parsed_ref.branch}-x", "${commit_info.date}"),
        default_tag_from_ref=False,
        latest_for_default_branch=False,
    )
    assert determine_tags(options, PUSH) == [
        "0d1a26e",
        "2026-11-30T10_15_42-05_00",  # ':' cannot be in a tag
        "main-x",
    ]


def test_a_template_with_a_missing_field_gives_no_tag() -> None:
    options = TagOptions(("${parsed_ref.tag}",), latest_for_default_branch=False)
    assert determine_tags(options, PUSH) == ["main"]


def test_tags_of_a_tag_push_and_a_branch_with_a_slash() -> None:
    tag_push = {**PUSH, "ref": "refs/tags/v1.4.0"}
    assert determine_tags(TagOptions(("rel-${parsed_ref.tag}",)), tag_push) == [
        "rel-v1.4.0",
        "v1.4.0",
    ]
    feature = {**PUSH, "ref": "refs/heads/feature/login"}
    assert determine_tags(TagOptions(), feature) == ["feature_login"]


def test_the_short_sha_when_nothing_else_applies() -> None:
    manual = {"commit": "abcdef0123456789", "git_url": "x"}
    assert determine_tags(TagOptions(), manual) == ["abcdef0"]
    options = TagOptions(default_tag_from_ref=False, latest_for_default_branch=False)
    assert determine_tags(options, PUSH) == ["0d1a26e"]
