"""Quay's ACTION_LOG_AUDIT_PULL_FAILURES / _PUSH_FAILURES / _DELETE_FAILURES: a manifest
pull, push or delete refused for want of access is logged as ``pull_repo_failed``,
``push_repo_failed`` or ``delete_tag_failed`` with Quay's metadata (namespace, repo, tag or
manifest_digest, message); nothing is logged with the flags off (Quay's default)."""

from __future__ import annotations

from typing import Any

from berth.audit.services import list_logs
from tests.integration.conftest import Berth

FLAGS = {
    "ACTION_LOG_AUDIT_PULL_FAILURES": True,
    "ACTION_LOG_AUDIT_PUSH_FAILURES": True,
    "ACTION_LOG_AUDIT_DELETE_FAILURES": True,
}
KINDS = ("pull_repo_failed", "push_repo_failed", "delete_tag_failed")


async def _failures(b: Berth) -> list[Any]:
    async with b.services.db.read() as s:
        rows = await list_logs(s, limit=1000)
    return [r for r in rows[::-1] if r.kind in KINDS]


async def test_refusals_are_logged_as_quay_does(configured: Any) -> None:
    async with configured(**FLAGS) as b:
        pushed = await b.client("alice").push_image("alice/app", "v1")
        bob = b.client("bob", basic=True)  # one request each (no token dance)
        r = await bob.get("/v2/alice/app/manifests/v1")
        assert r.status_code in (401, 403)
        r = await bob.put_manifest("alice/app", "v2", pushed.manifest, pushed.media_type)
        assert r.status_code in (401, 403)
        r = await bob.delete("/v2/alice/app/manifests/sha256:" + "0" * 64)
        assert r.status_code in (401, 403)
        r = await bob.get("/v2/alice/nothere/manifests/v1")
        assert r.status_code in (401, 403)
        r = await b.http.get("/v2/nobody/app/manifests/latest")  # anonymous
        assert r.status_code == 401
        found = await _failures(b)
        assert [(e.kind, e.namespace, e.repository, e.performer) for e in found] == [
            ("pull_repo_failed", "alice", "app", "bob"),
            ("push_repo_failed", "alice", "app", "bob"),
            ("delete_tag_failed", "alice", "app", "bob"),
            ("pull_repo_failed", "alice", None, "bob"),
            ("pull_repo_failed", None, None, None),
        ]
        message = "access to the requested resource is not authorized"
        assert found[0].metadata == {
            "namespace": "alice", "repo": "app", "tag": "v1", "message": message,
        }  # fmt: skip
        assert found[2].metadata["manifest_digest"] == "sha256:" + "0" * 64
        assert found[3].metadata["message"] == "Repository does not exist"
        assert found[4].metadata == {
            "namespace": "nobody", "repo": "app", "tag": "latest",
            "message": "Namespace does not exist",
        }  # fmt: skip
        assert found[4].ip is not None
        # The owner reads them in the repository's logs.
        async with b.services.db.read() as s:
            mine = await list_logs(s, repository="app", kind="pull_repo_failed")
        assert len(mine) == 1


async def test_off_by_default(registry: Berth) -> None:
    await registry.client("alice").push_image("alice/app", "v1")
    r = await registry.client("bob", basic=True).get("/v2/alice/app/manifests/v1")
    assert r.status_code in (401, 403)
    assert await _failures(registry) == []
