"""Tag templates (Quay's "Configure Tagging"): the tags a triggered build gets.

A template is literal text with ``${field}`` placeholders over the build's trigger metadata
(Quay's shape, see ``berth.buildtriggers.payloads``): ``${commit_info.short_sha}``,
``${commit_info.date}``, ``${commit_info.author}`` / ``${commit_info.author.username}``,
``${commit_info.committer}``, ``${commit_info.message}``, ``${parsed_ref.branch}``,
``${parsed_ref.tag}``, ``${parsed_ref.remote}``, ``${commit}``, ``${ref}``,
``${default_branch}``. A template is checked when the trigger is set up (``check``): an
unclosed ``${``, an empty or unknown field, or literal text a tag cannot hold is refused.

Rendering (``determine_tags``) follows Quay's ``_determine_tags``: every template whose
fields all have values gives a tag (one with a missing field gives none); the branch or tag
name when ``default_tag_from_ref`` (default on); ``latest`` on the default branch when
``latest_for_default_branch`` (default on); the short SHA if nothing else. A value a tag
cannot hold (``feature/x``, a date's ``:``) has each such character replaced by ``_``.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

TAG_MAX = 128
_TAG_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_FIELD = re.compile(r"^[a-z_]+(\.[a-z_]+)*$")

# Fields a template may name; an object field (author, committer) stands for its username.
FIELDS = frozenset(
    {
        "commit",
        "ref",
        "default_branch",
        "git_url",
        "commit_info.short_sha",
        "commit_info.date",
        "commit_info.message",
        "commit_info.url",
        "commit_info.author",
        "commit_info.author.username",
        "commit_info.committer",
        "commit_info.committer.username",
        "parsed_ref.branch",
        "parsed_ref.tag",
        "parsed_ref.remote",
    }
)


class InvalidTemplate(ValueError):
    def __init__(self, template: str, reason: str) -> None:
        super().__init__(f"Invalid tag template `{template}`: {reason}")
        self.template = template
        self.reason = reason


@dataclass(frozen=True)
class TagOptions:
    """The tagging part of a trigger's config (Quay's keys)."""

    templates: tuple[str, ...] = ()
    default_tag_from_ref: bool = True
    latest_for_default_branch: bool = True


def check(template: object) -> str:
    """The template, or InvalidTemplate saying what is wrong with it."""
    if not isinstance(template, str) or not template.strip():
        raise InvalidTemplate(str(template), "a template is a non-empty string")
    literal = _PLACEHOLDER.sub("", template)
    if "${" in literal or "$" in literal:
        raise InvalidTemplate(template, "an unclosed or stray `${`")
    for found in _PLACEHOLDER.finditer(template):
        name = found.group(1).strip()
        if not name:
            raise InvalidTemplate(template, "an empty `${}`")
        if not _FIELD.match(name) or name not in FIELDS:
            known = ", ".join(f"${{{f}}}" for f in sorted(FIELDS))
            raise InvalidTemplate(template, f"unknown field `{name}` (known: {known})")
    if _TAG_CHARS.search(literal):
        raise InvalidTemplate(
            template, "a tag may hold only letters, digits, `_`, `.` and `-` outside `${...}`"
        )
    if len(literal) > TAG_MAX:
        raise InvalidTemplate(template, f"longer than {TAG_MAX} characters")
    return template


def check_all(templates: object) -> tuple[str, ...]:
    if templates is None:
        return ()
    if not isinstance(templates, list):
        raise InvalidTemplate(str(templates), "tag_templates is a list of strings")
    return tuple(check(t) for t in templates)


def _lookup(data: Mapping[str, Any], name: str) -> str | None:
    value: Any = data
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    if isinstance(value, Mapping):  # commit_info.author -> its username
        value = value.get("username")
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return text or None


def tag_safe(value: str) -> str | None:
    """``value`` as a tag: disallowed characters become ``_``; no leading ``.``/``-``;
    at most 128 characters. None when nothing is left."""
    cleaned = _TAG_CHARS.sub("_", value).lstrip(".-")[:TAG_MAX]
    return cleaned or None


def render(template: str, data: Mapping[str, Any]) -> str | None:
    """The tag ``template`` gives for ``data``, or None when a field has no value."""
    missing = False

    def value(found: re.Match[str]) -> str:
        nonlocal missing
        got = _lookup(data, found.group(1).strip())
        if got is None:
            missing = True
            return ""
        return got

    text = _PLACEHOLDER.sub(value, template)
    return None if missing else tag_safe(text)


def parse_ref(ref: str | None) -> dict[str, str]:
    """``refs/heads/x`` -> ``{"branch": "x"}``; tags and remotes likewise."""
    if not ref or ref.count("/") < 2:
        return {}
    _, kind, name = ref.split("/", 2)
    key = {"heads": "branch", "tags": "tag", "remotes": "remote"}.get(kind)
    return {key: name} if key else {}


def template_data(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata with Quay's derived fields: ``commit_info.short_sha``, ``parsed_ref``."""
    data = dict(metadata)
    info = dict(data.get("commit_info") or {})
    info["short_sha"] = str(data.get("commit", ""))[:7]
    data["commit_info"] = info
    data["parsed_ref"] = parse_ref(data.get("ref"))
    return data


def determine_tags(options: TagOptions, metadata: Mapping[str, Any]) -> list[str]:
    """The build's tags, sorted (Quay keeps them as a set)."""
    tags: set[str] = set()
    data = template_data(metadata)
    for template in options.templates:
        got = render(template, data)
        if got:
            tags.add(got)
    ref = metadata.get("ref")
    if ref:
        name = str(ref).split("/", 2)[-1]
        if options.default_tag_from_ref:
            safe = tag_safe(name)
            if safe:
                tags.add(safe)
        default = metadata.get("default_branch")
        if options.latest_for_default_branch and default is not None and name == default:
            tags.add("latest")
    if not tags:
        short = tag_safe(str(metadata.get("commit", ""))[:7])
        if short:
            tags.add(short)
    return sorted(tags)


def options_from(config: Mapping[str, Any]) -> TagOptions:
    """A stored (already checked) config's tag options."""
    templates: Iterable[str] = config.get("tag_templates") or ()
    return TagOptions(
        tuple(templates),
        bool(config.get("default_tag_from_ref", True)),
        bool(config.get("latest_for_default_branch", True)),
    )
