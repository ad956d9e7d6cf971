"""Global messages (``/api/v1/messages``): anyone reads them, superusers post and delete."""

from __future__ import annotations

from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import Berth


async def test_superusers_post_and_delete_messages_everyone_reads(registry: Berth) -> None:
    root = bearer(await oauth_token(registry, "root"))
    alice = bearer(await oauth_token(registry, "alice"))
    assert (await registry.http.get("/api/v1/messages")).json() == {"messages": []}
    body = {"message": {"content": "Maintenance at 6", "media_type": "text/plain",
                        "severity": "warning"}}  # fmt: skip
    assert (
        await registry.http.post("/api/v1/messages", json=body, headers=alice)
    ).status_code == 403
    r = await registry.http.post("/api/v1/messages", json=body, headers=root)
    assert r.status_code == 201, r.text
    (msg,) = (await registry.http.get("/api/v1/messages")).json()["messages"]
    assert {k: msg[k] for k in ("content", "media_type", "severity")} == body["message"]
    bad = {"message": {**body["message"], "severity": "loud"}}
    r = await registry.http.post("/api/v1/messages", json=bad, headers=root)
    assert r.status_code == 400
    path = f"/api/v1/message/{msg['uuid']}"
    assert (await registry.http.delete(path, headers=alice)).status_code == 403
    assert (await registry.http.delete(path, headers=root)).status_code == 204
    assert (await registry.http.get("/api/v1/messages")).json() == {"messages": []}
