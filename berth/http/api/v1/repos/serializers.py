"""Quay's JSON shapes for repositories, their tags in ``GET /repository/{r}``, and stars."""

from __future__ import annotations

from typing import Any

from berth.http.api.v1.formats import format_date
from berth.repos.services import RepoDetail, RepoSummary, TagSummary


def repository_item(
    r: RepoSummary,
    *,
    last_modified: bool,
    popularity: bool,
    with_star: bool,
    quota_report: bool,
    configured_quota: int | None = None,
) -> dict[str, Any]:
    """An entry of ``GET /repository``; ``configured_quota`` is the namespace's quota in
    bytes (None: none) shown in ``quota_report``."""
    item: dict[str, Any] = {
        "namespace": r.namespace,
        "name": r.name,
        "description": r.description,
        "is_public": r.is_public,
        "kind": r.kind,
        "state": r.state,
    }
    if last_modified:
        item["last_modified"] = r.last_modified_s
    if popularity:
        item["popularity"] = float(r.pulls)
    if with_star:
        item["is_starred"] = r.is_starred
    if quota_report:
        item["quota_report"] = {"quota_bytes": r.size_bytes, "configured_quota": configured_quota}
    return item


def starred_item(r: RepoSummary) -> dict[str, Any]:
    """An entry of ``GET /user/starred``."""
    return {
        "namespace": r.namespace,
        "name": r.name,
        "description": r.description,
        "is_public": r.is_public,
    }


def tag_item(t: TagSummary) -> dict[str, Any]:
    """A value of ``tags`` in ``GET /repository/{r}`` (keyed by the tag's name)."""
    item: dict[str, Any] = {
        "name": t.name,
        "size": t.size,
        "last_modified": format_date(t.start_ms),
    }
    if t.end_ms:
        item["expiration"] = format_date(t.end_ms)
    item["manifest_digest"] = t.manifest_digest
    return item


def repository_view(d: RepoDetail, *, can_write: bool, can_admin: bool) -> dict[str, Any]:
    """``GET /repository/{r}``. Berth has no badges, billing or signing: ``status_token`` is
    empty, ``is_free_account`` true and ``trust_enabled`` false."""
    view: dict[str, Any] = {
        "namespace": d.namespace,
        "name": d.name,
        "kind": d.kind,
        "description": d.description,
        "is_public": d.is_public,
        "is_organization": d.is_organization,
        "is_starred": d.is_starred,
        "status_token": "",
        "trust_enabled": False,
        "tag_expiration_s": d.tag_expiration_s,
        "is_free_account": True,
        "state": d.state,
    }
    if d.tags is not None:
        view["tags"] = {t.name: tag_item(t) for t in d.tags}
    view["can_write"] = can_write
    view["can_admin"] = can_admin
    if d.stats is not None:
        view["stats"] = [{"date": day, "count": count} for day, count in d.stats]
    return view
