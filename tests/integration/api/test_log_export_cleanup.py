"""An export's file is deleted from storage once its link has expired: the export job
queues the deletion for EXPORT_ACTION_LOGS_SECONDS plus a minute; when it runs, the file is
gone from storage and the link answers 404."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from berth.storage.base import BlobNotFound
from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.api.test_usage_logs import (  # noqa: F401 - the receiver fixture
    API,
    Receiver,
    add_entries,
    download,
    receiver,
    run_jobs,
)


@pytest.mark.slow
async def test_export_file_deleted_after_its_link_expired(
    configured: Any,
    receiver: Receiver,  # noqa: F811
) -> None:
    async with configured(SSRF_ALLOWED_HOSTS=["127.0.0.1"], EXPORT_ACTION_LOGS_SECONDS=600) as b:
        await b.services.runner.stop()
        await add_entries(b, "alice", 3)
        h = bearer(await oauth_token(b, "alice"))
        r = await b.http.post(
            f"{API}/user/exportlogs", headers=h, json={"callback_url": receiver.url}
        )
        assert r.status_code == 200
        await run_jobs(b)
        url = receiver.received[0]["exported_data_url"]
        assert (await download(b, url)).status_code == 200
        async with b.services.db.read() as s:
            rows = (
                await s.execute(
                    text(
                        "SELECT payload, run_at FROM jobs WHERE kind = 'delete_action_logs_export'"
                    )
                )
            ).all()
        assert len(rows) == 1
        payload, run_at = rows[0]
        digest = (payload if isinstance(payload, dict) else json.loads(payload))["digest"]
        assert await b.services.storage.stat_blob(digest) > 0
        # Not before its time: a pass of the jobs now leaves the file.
        await run_jobs(b)
        assert await b.services.storage.stat_blob(digest) > 0
        # Its time comes (moved forward here rather than waited for).
        async with b.services.db.write() as s:
            await s.execute(
                text("UPDATE jobs SET run_at = 0 WHERE kind = 'delete_action_logs_export'")
            )
        await run_jobs(b)
        with pytest.raises(BlobNotFound):
            await b.services.storage.stat_blob(digest)
        assert (await download(b, url)).status_code == 404
        assert run_at > 0
