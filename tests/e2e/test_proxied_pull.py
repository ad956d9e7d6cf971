"""Blob downloads that ``berth serve`` streams from S3 itself (``FEATURE_PROXY_STORAGE``).

There the S3 reader hands Granian its own reusable chunk buffers, one after another, so a
buffer reused too early would corrupt bytes only under a real server: bytes pulled must
equal bytes pushed with concurrent and slow clients, and for ranges.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.conftest import ALICE, StartServer, e2e_distributed_config
from tests.e2e.support import sha256

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres, pytest.mark.s3]

REPO = "alice/big"
MIB = 1024 * 1024


def test_proxied_blob_downloads_are_the_bytes_pushed(
    berth_factory: StartServer, tmp_path: Path, postgres_url: str, s3_server: dict[str, str]
) -> None:
    config = e2e_distributed_config(tmp_path, postgres_url, s3_server, FEATURE_PROXY_STORAGE=True)
    server = berth_factory(config, name="proxy")
    server.create_user(*ALICE)
    blob = random.Random(11).randbytes(9 * MIB + 777)
    digest = sha256(blob)
    url = f"/v2/{REPO}/blobs/{digest}"

    with server.client() as http:
        r = http.post(
            f"/v2/{REPO}/blobs/uploads/",
            params={"digest": digest},
            content=blob,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 201, r.text

        def pull(slow: bool) -> bytes:
            with http.stream("GET", url) as resp:
                assert resp.status_code == 200, "proxied, not redirected to S3"
                assert resp.headers["docker-content-digest"] == digest
                parts = []
                for part in resp.iter_raw(256 * 1024):
                    parts.append(part)
                    if slow:
                        time.sleep(0.01)  # Berth's reads from S3 run ahead and pause
                return b"".join(parts)

        with ThreadPoolExecutor(4) as pool:
            pulled = list(pool.map(pull, [True, False, False, True]))
        assert [sha256(data) for data in pulled] == [digest] * 4

        start, end = MIB - 3, 5 * MIB + 10
        r = http.get(url, headers={"Range": f"bytes={start}-{end}"})
        assert r.status_code == 206
        assert r.headers["content-range"] == f"bytes {start}-{end}/{len(blob)}"
        assert r.content == blob[start : end + 1]
