"""Push payloads into trigger metadata, Quay's shape:

    {"commit": sha, "ref": "refs/heads/main", "default_branch": "main", "git_url": ...,
     "commit_info": {"url", "message", "date", "author": {"username", "url", "avatar_url"},
                     "committer": {...}}}

One parser per service, each for the payload its service documents:

* GitHub's ``push`` event (``ref``, ``head_commit``, ``repository.ssh_url`` and
  ``default_branch``); a push without ``head_commit`` (a deleted branch) builds nothing;
  ``zen`` (the ping sent when a hook is added) builds nothing.
* GitLab's ``Push Hook`` / ``Tag Push Hook`` (``object_kind`` ``push``/``tag_push``,
  ``checkout_sha``, ``commits``, ``project.default_branch``, ``repository.git_ssh_url``);
  a push with no ``checkout_sha`` (a deleted ref) builds nothing.
* Bitbucket Cloud's ``repo:push`` (``push.changes[].new`` with ``type`` branch/tag,
  ``target.hash``/``message``/``date``/``author``, ``repository.full_name``); a change
  without ``new`` (a deleted ref) builds nothing.
* custom git: Quay's own format (``commit``, ``ref``, ``default_branch``, optional
  ``commit_info``); as in Quay it also takes any of the three payloads above, so any git
  server that sends one of them works.

``Skip`` means "answer Okay and build nothing"; ``InvalidPayload`` is a 400.
``skip_reason`` applies Quay's filters: ``[skip build]`` / ``[build skip]`` in the commit
message, and the trigger's ``branchtag_regex`` (matched against ``heads/<branch>`` or
``tags/<tag>``, the whole of it). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SERVICES = ("github", "gitlab", "bitbucket", "custom-git")
_SHA = re.compile(r"^[A-Fa-f0-9]{7,}$")
_REF = re.compile(r"^refs/(heads|tags|remotes)/(.+)$")


class InvalidPayload(ValueError):
    pass


class Skip(Exception):
    """Nothing to build (a ping, a deleted ref, a skipped commit, a filtered ref)."""


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def _str(data: Any, path: str) -> str | None:
    value = _get(data, path)
    return value if isinstance(value, str) else None


def _prune(value: Mapping[str, Any]) -> dict[str, Any]:
    """Drop None values and empty objects (Quay's SafeDictSetter leaves unknown fields
    out)."""
    out: dict[str, Any] = {}
    for k, v in value.items():
        if isinstance(v, Mapping):
            v = _prune(v)
        if v is not None and v != {}:
            out[k] = v
    return out


def _person(username: str | None, url: str | None, avatar: str | None) -> dict[str, Any] | None:
    if not username:
        return None
    return {"username": username, "url": url, "avatar_url": avatar}


# ---- GitHub ------------------------------------------------------------------------------
def is_github(payload: Mapping[str, Any]) -> bool:
    return (
        isinstance(payload.get("ref"), str)
        and "head_commit" in payload
        and isinstance(_str(payload, "repository.ssh_url"), str)
    )


def github(payload: Mapping[str, Any]) -> dict[str, Any]:
    if "zen" in payload:
        raise Skip("GitHub ping")
    if not is_github(payload):
        raise InvalidPayload("Not a GitHub push payload: needs ref, head_commit, repository")
    head = payload["head_commit"]
    if head is None:
        raise Skip("no head commit (a deleted ref)")
    if not isinstance(head, Mapping) or not isinstance(head.get("id"), str):
        raise InvalidPayload("head_commit.id is missing")
    for key in ("url", "message", "timestamp"):
        if not isinstance(head.get(key), str):
            raise InvalidPayload(f"head_commit.{key} is missing")
    return _prune(
        {
            "commit": head["id"],
            "ref": payload["ref"],
            "default_branch": _str(payload, "repository.default_branch")
            or _str(payload, "repository.master_branch"),
            "git_url": _str(payload, "repository.ssh_url"),
            "commit_info": {
                "url": head["url"],
                "message": head["message"],
                "date": head["timestamp"],
                "author": _person(
                    _str(head, "author.username"),
                    _str(head, "author.html_url"),
                    _str(head, "author.avatar_url"),
                ),
                "committer": _person(
                    _str(head, "committer.username"),
                    _str(head, "committer.html_url"),
                    _str(head, "committer.avatar_url"),
                ),
            },
        }
    )


# ---- GitLab ------------------------------------------------------------------------------
def is_gitlab(payload: Mapping[str, Any]) -> bool:
    return payload.get("object_kind") in ("push", "tag_push") and isinstance(
        payload.get("ref"), str
    )


def gitlab(payload: Mapping[str, Any]) -> dict[str, Any]:
    if not is_gitlab(payload):
        raise InvalidPayload("Not a GitLab push payload: needs object_kind push/tag_push, ref")
    sha = payload.get("checkout_sha") or None
    if sha is None:
        after = payload.get("after")
        sha = after if isinstance(after, str) and after.strip("0") else None
    if not isinstance(sha, str):
        raise Skip("no commit (a deleted ref)")
    commits = payload.get("commits") or []
    commit = next(
        (c for c in commits if isinstance(c, Mapping) and c.get("id") == sha),
        commits[-1] if commits and isinstance(commits[-1], Mapping) else None,
    )
    info: dict[str, Any] | None = None
    if commit is not None:
        author = _str(commit, "author.name")
        same_user = author and author == payload.get("user_name")
        info = {
            "url": commit.get("url"),
            "message": commit.get("message") or "",
            "date": commit.get("timestamp"),
            "author": _person(
                payload.get("user_username") if same_user else author,
                None,
                payload.get("user_avatar") if same_user else None,
            ),
        }
    elif payload.get("message"):  # an annotated tag's message
        info = {"message": payload["message"]}
    return _prune(
        {
            "commit": sha,
            "ref": payload["ref"],
            "default_branch": _str(payload, "project.default_branch"),
            "git_url": _str(payload, "repository.git_ssh_url")
            or _str(payload, "project.git_ssh_url"),
            "commit_info": info,
        }
    )


# ---- Bitbucket ---------------------------------------------------------------------------
def is_bitbucket(payload: Mapping[str, Any]) -> bool:
    return isinstance(_get(payload, "push.changes"), list) and isinstance(
        _str(payload, "repository.full_name"), str
    )


def bitbucket(payload: Mapping[str, Any], default_branch: str | None = None) -> dict[str, Any]:
    if not is_bitbucket(payload):
        raise InvalidPayload("Not a Bitbucket repo:push payload: needs push.changes, repository")
    changes = [c for c in payload["push"]["changes"] if isinstance(c, Mapping)]
    change = next((c for c in reversed(changes) if isinstance(c.get("new"), Mapping)), None)
    if change is None:
        raise Skip("no new ref (a deleted ref)")
    new = change["new"]
    kind = {"branch": "heads", "named_branch": "heads", "tag": "tags"}.get(str(new.get("type")))
    name = new.get("name")
    sha = _str(new, "target.hash")
    if kind is None or not isinstance(name, str) or sha is None:
        raise InvalidPayload("push.changes[].new needs type, name and target.hash")
    target = new["target"]
    full_name = payload["repository"]["full_name"]
    user = _get(target, "author.user")
    username = (
        (_str(user, "nickname") or _str(user, "username") or _str(user, "display_name"))
        if isinstance(user, Mapping)
        else None
    ) or _str(target, "author.raw")
    return _prune(
        {
            "commit": sha,
            "ref": f"refs/{kind}/{name}",
            "default_branch": _str(payload, "repository.mainbranch.name") or default_branch,
            "git_url": f"git@bitbucket.org:{full_name}.git",
            "commit_info": {
                "url": _str(target, "links.html.href"),
                "message": _str(target, "message") or "",
                "date": _str(target, "date"),
                "author": _person(
                    username,
                    _str(user, "links.html.href"),
                    _str(user, "links.avatar.href"),
                ),
            },
        }
    )


# ---- custom git --------------------------------------------------------------------------
def custom(payload: Mapping[str, Any], git_url: str) -> dict[str, Any]:
    """Quay's custom-git format, or any of the three services' payloads."""
    problem = _custom_problem(payload)
    if problem is not None:
        for matches, parse in ((is_github, github), (is_bitbucket, bitbucket), (is_gitlab, gitlab)):
            if matches(payload):
                metadata = parse(payload)
                metadata["git_url"] = git_url
                return metadata
        raise InvalidPayload(problem)
    metadata = dict(payload)
    metadata["git_url"] = git_url
    return _prune(metadata)


def _custom_problem(payload: Mapping[str, Any]) -> str | None:
    for key in ("commit", "ref", "default_branch"):
        if not isinstance(payload.get(key), str):
            return f"'{key}' is a required property"
    if not _SHA.match(payload["commit"]):
        return f"'{payload['commit']}' does not match '^([A-Fa-f0-9]{{7,}})$'"
    if not _REF.match(payload["ref"]):
        return f"'{payload['ref']}' does not match '^refs/(heads|tags|remotes)/(.+)$'"
    info = payload.get("commit_info")
    if info is not None:
        if not isinstance(info, Mapping):
            return "commit_info is not an object"
        for key in ("url", "message", "date"):
            if not isinstance(info.get(key), str):
                return f"commit_info: '{key}' is a required property"
    return None


def parse(
    service: str, payload: Any, *, git_url: str | None, default_branch: str | None
) -> dict[str, Any]:
    """The metadata of ``payload`` for a trigger of ``service``."""
    if not isinstance(payload, Mapping):
        raise InvalidPayload("Missing expected payload")
    if service == "github":
        return github(payload)
    if service == "gitlab":
        return gitlab(payload)
    if service == "bitbucket":
        return bitbucket(payload, default_branch)
    return custom(payload, git_url or "")


# ---- filters -----------------------------------------------------------------------------
def matches_ref(ref: str | None, regex: str) -> bool:
    """Quay's rule: the regex must match all of ``heads/<branch>`` (``tags/<tag>``)."""
    if not ref or "/" not in ref:
        return False
    return re.fullmatch(regex, ref.split("/", 1)[1]) is not None


def skip_reason(metadata: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """Why this push builds nothing (Quay's raise_if_skipped_build), or None."""
    regex = config.get("branchtag_regex")
    if isinstance(regex, str) and regex and not matches_ref(metadata.get("ref"), regex):
        return f"ref {metadata.get('ref')} does not match {regex}"
    message = _str(metadata, "commit_info.message") or ""
    if "[skip build]" in message or "[build skip]" in message:
        return "the commit message asks to skip the build"
    return None
