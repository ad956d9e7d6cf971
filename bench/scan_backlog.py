"""Push throughput while the scanner works off a backlog, against the scanner off.

Issue 17 asks that push throughput while a scan backlog is worked off stay >= 0.9x of push
throughput with the scanner off. Two fresh Berths, one after the other (never side by side:
the backlog's indexing must not slow the other one's rounds):

* ``off``: FEATURE_SECURITY_SCANNER false;
* ``on``: FEATURE_SECURITY_SCANNER true; first ``backlog`` distinct images are pushed, each
  with its own ~``layer_kb`` gzip layer holding a dpkg status file (each push enqueues an
  ``index_manifest`` job, long lane), then the timing starts at once.

On each, ``rounds`` rounds push ``n`` new tags of a tiny image (manifest PUTs, ``conc`` at
once; each tag push on ``on`` enqueues an index job too) and the median rate is kept. On
``on``, the number of backlog images still ``queued`` on the security route is read after
the rounds: if it is 0 the backlog was gone before the timing ended and the ratio
understates the cost (reported as ``backlog_left_after_rounds``).
"""

from __future__ import annotations

import asyncio
import gzip
import io
import os
import statistics
import tarfile
import time
from typing import Any

import httpx

from bench.growth import BASE_REPO, Client, _bounded, _image, _sha

REPO = "scan/push"
BACKLOG_REPO = "scan/backlog"


def _layer(i: int, layer_kb: int) -> bytes:
    status = "".join(
        f"Package: pkg{i}-{j}\nStatus: install ok installed\nArchitecture: amd64\n"
        f"Version: 1.{j}-{i}\nDescription: bench package\n\n"
        for j in range(200)
    ).encode()
    filler = os.urandom(layer_kb * 1024)  # incompressible: the layer really is that large
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (
            ("etc/os-release", b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'),
            ("var/lib/dpkg/status", status),
            (f"opt/data-{i}.bin", filler),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), compresslevel=1, mtime=0)


def _manifest(config: bytes, layer: bytes) -> bytes:
    import json

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _sha(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _sha(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()


async def _queued(url: str, user: str, password: str, digests: list[str]) -> int:
    async with httpx.AsyncClient(base_url=url, auth=(user, password), timeout=60) as http:
        n = 0
        for d in digests:
            r = await http.get(f"/api/v1/repository/{BACKLOG_REPO}/manifest/{d}/security")
            if r.status_code == 200 and r.json().get("status") == "queued":
                n += 1
        return n


async def _run(
    url: str,
    user: str,
    password: str,
    *,
    backlog: int,
    layer_kb: int,
    n: int,
    rounds: int,
    conc: int,
) -> dict[str, Any]:
    config, layer, manifest = _image()
    client = Client(url, user, password)
    digests: list[str] = []
    try:
        await client.probe()
        auth = await client.bearer(
            [f"repository:{r}:pull,push" for r in (BASE_REPO, REPO, BACKLOG_REPO)]
        )
        await client.upload(BASE_REPO, config, auth)
        await client.upload(BASE_REPO, layer, auth)
        await client.mount(REPO, _sha(config), auth)
        await client.mount(REPO, _sha(layer), auth)
        await client.put_manifest(REPO, "base", manifest, auth)
        if backlog:
            await client.mount(BACKLOG_REPO, _sha(config), auth)
            t0 = time.perf_counter()
            for i in range(backlog):
                big = _layer(i, layer_kb)
                await client.upload(BACKLOG_REPO, big, auth)
                body = _manifest(config, big)
                await client.put_manifest(BACKLOG_REPO, f"b{i:05d}", body, auth)
                digests.append(_sha(body))
            backlog_push_s = time.perf_counter() - t0
        rates: list[float] = []
        for r in range(rounds):

            async def put(i: int, r: int = r) -> None:
                await client.put_manifest(REPO, f"r{r}-{i:06d}", manifest, auth)

            t0 = time.perf_counter()
            await _bounded(conc, n, put)
            rates.append(n / (time.perf_counter() - t0))
    finally:
        await client.close()
    out: dict[str, Any] = {
        "per_s": round(statistics.median(rates), 1),
        "rates": [round(x, 1) for x in rates],
    }
    if backlog:
        out["backlog_push_s"] = round(backlog_push_s, 2)
        out["backlog_left_after_rounds"] = await _queued(url, user, password, digests)
    return out


def run_scan_backlog(
    off_url: str | None,
    on_url: str | None,
    user: str,
    password: str,
    *,
    which: str,
    backlog: int = 200,
    layer_kb: int = 512,
    n: int = 300,
    rounds: int = 4,
    conc: int = 8,
) -> dict[str, Any]:
    """One side (``which`` = "off" or "on") of the comparison; the runner starts each Berth
    in turn and combines the two with ``combine``."""
    url = off_url if which == "off" else on_url
    assert url is not None
    return asyncio.run(
        _run(
            url, user, password, backlog=backlog if which == "on" else 0,
            layer_kb=layer_kb, n=n, rounds=rounds, conc=conc,
        )
    )  # fmt: skip


def combine(
    off: dict[str, Any], on: dict[str, Any], *, backlog: int, layer_kb: int
) -> dict[str, Any]:
    ratio = round(on["per_s"] / off["per_s"], 3) if off.get("per_s") else None
    return {
        "backlog_images": backlog,
        "backlog_layer_kb": layer_kb,
        "scanner_off_per_s": off["per_s"],
        "scanner_on_with_backlog_per_s": on["per_s"],
        "ratio": ratio,
        "target": 0.9,
        "backlog_left_after_rounds": on.get("backlog_left_after_rounds"),
        "rates": {"off": off["rates"], "on": on["rates"]},
    }
