"""Proxy cache: cold and warm pulls through Berth's proxy-cache organization and through CNCF
distribution in pull-through mode (``proxy.remoteurl``), against the same upstream.

    python -m bench.proxy [--images 4] [--layer-mb 16] [--reps 3] [--out FILE]

An upstream distribution holds ``images`` images (a config and two random layers each). For
each rep, fresh caches (a distribution with ``proxy.remoteurl`` and a Berth with
``FEATURE_PROXY_CACHE`` and an organization proxying the upstream) are started; every image
is pulled through each (manifest, config, layers, digests checked; images pulled side by
side), first cold (nothing cached), then warm (everything cached); Berth's registry tokens
are fetched before the clock starts (distribution runs without authentication). Reported:
seconds per round (median over reps) and the ratio distribution/Berth (> 1: Berth faster).
Berth revalidates a tag only after ``BERTH_PROXY_CACHE_REVALIDATE`` (default 1m: the warm
round asks the upstream nothing); distribution asks the upstream for the tag on every pull.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.servers import Berth, Distribution, basic_auth

ORG = "cache"
USER, PASSWORD = "bench", "bench-password-1"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        OCI_MANIFEST,
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_images(url: str, images: int, layer_bytes: int) -> list[str]:
    names = []
    with httpx.Client(base_url=url, timeout=120) as http:
        for i in range(images):
            name = f"team/img{i}"
            config = json.dumps({"architecture": "amd64", "os": "linux", "n": i}).encode()
            layers = [os.urandom(layer_bytes // 2), os.urandom(layer_bytes - layer_bytes // 2)]
            for data in (config, *layers):
                r = http.post(f"/v2/{name}/blobs/uploads/")
                loc = r.headers["location"]
                sep = "&" if "?" in loc else "?"
                r = http.put(f"{loc}{sep}digest={_sha(data)}", content=data)
                assert r.status_code == 201, r.text
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {
                        "mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": _sha(config),
                        "size": len(config),
                    },
                    "layers": [
                        {
                            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": _sha(d),
                            "size": len(d),
                        }
                        for d in layers
                    ],
                }
            ).encode()
            r = http.put(
                f"/v2/{name}/manifests/latest",
                content=manifest,
                headers={"Content-Type": OCI_MANIFEST},
            )
            assert r.status_code == 201, r.text
            names.append(name)
    return names


async def _token(http: httpx.AsyncClient, repo: str, login: str) -> dict[str, str]:
    r = await http.get(
        "/v2/auth",
        params={"service": http.base_url.netloc.decode(), "scope": f"repository:{repo}:pull"},
        headers={"Authorization": login},
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def _pull(http: httpx.AsyncClient, repo: str, auth: dict[str, str]) -> int:
    """One image, as a client pulls it: the manifest, then its blobs one after the other,
    each checked."""
    headers = {"Accept": ACCEPT, **auth}
    r = await http.get(f"/v2/{repo}/manifests/latest", headers=headers)
    r.raise_for_status()
    manifest = r.json()
    total = len(r.content)
    for desc in [manifest["config"], *manifest["layers"]]:
        hasher = hashlib.sha256()
        async with http.stream("GET", f"/v2/{repo}/blobs/{desc['digest']}", headers=auth) as blob:
            blob.raise_for_status()
            async for chunk in blob.aiter_bytes():
                hasher.update(chunk)
                total += len(chunk)
        assert "sha256:" + hasher.hexdigest() == desc["digest"], f"{repo}: bad blob"
    return total


async def _round(url: str, repos: list[str], login: str | None = None) -> float:
    """Seconds to pull every image side by side (Berth's registry tokens are fetched first,
    outside the time: distribution runs without authentication)."""
    async with httpx.AsyncClient(base_url=url, timeout=300, follow_redirects=True) as http:
        auths = [await _token(http, repo, login) if login else {} for repo in repos]
        t0 = time.perf_counter()
        await asyncio.gather(
            *(_pull(http, repo, auth) for repo, auth in zip(repos, auths, strict=True))
        )
        return time.perf_counter() - t0


async def _configure_berth(berth: Berth, upstream: str) -> None:
    from berth.config import load_settings
    from berth.schema.migrate import upgrade
    from berth.services import create_services

    settings = load_settings(berth.config_path, persist_secrets=False)
    await upgrade(settings.db_url)
    svc = create_services(settings, pool_size=1)
    try:
        await svc.orgs.create(ORG, creator=USER, email="cache@example.com")
        assert svc.proxy_cache is not None
        await svc.proxy_cache.create(
            ORG,
            upstream,
            username=None,
            password=None,
            expiration_s=86400,
            insecure=True,
            performer=None,
        )
    finally:
        await svc.close()


def run_proxy_bench(
    workdir: Path, *, images: int = 4, layer_mb: int = 16, reps: int = 3
) -> dict[str, Any]:
    upstream = Distribution(workdir / "upstream")
    upstream.start()
    results: dict[str, list[float]] = {
        "distribution_cold_s": [],
        "distribution_warm_s": [],
        "berth_cold_s": [],
        "berth_warm_s": [],
    }
    try:
        names = _push_images(upstream.url, images, layer_mb * 1024 * 1024)
        host = upstream.url.removeprefix("http://")
        for rep in range(reps):
            cache = Distribution(workdir / f"dist-proxy-{rep}", proxy_remote=upstream.url)
            cache.start()
            try:
                results["distribution_cold_s"].append(asyncio.run(_round(cache.url, names)))
                results["distribution_warm_s"].append(asyncio.run(_round(cache.url, names)))
            finally:
                cache.stop()
            berth = Berth(
                workdir / f"berth-{rep}",
                USER,
                PASSWORD,
                extra_config={"FEATURE_PROXY_CACHE": True, "SSRF_ALLOWED_HOSTS": ["127.0.0.1"]},
            )
            berth.prepare()
            asyncio.run(_configure_berth(berth, host))
            berth.start()
            try:
                login = basic_auth(USER, PASSWORD)
                repos = [f"{ORG}/{n}" for n in names]
                results["berth_cold_s"].append(asyncio.run(_round(berth.url, repos, login)))
                results["berth_warm_s"].append(asyncio.run(_round(berth.url, repos, login)))
            finally:
                berth.stop()
    finally:
        upstream.stop()
    summary: dict[str, Any] = {
        "images": images,
        "layer_mb_per_image": layer_mb,
        "reps": reps,
        "raw": results,
    }
    for key, values in results.items():
        summary[key] = round(statistics.median(values), 3)
    for phase in ("cold", "warm"):
        berth_s = summary[f"berth_{phase}_s"]
        summary[f"{phase}_ratio"] = round(summary[f"distribution_{phase}_s"] / berth_s, 2)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--layer-mb", type=int, default=16)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="berth-proxy-bench-") as tmp:
        summary = run_proxy_bench(
            Path(tmp), images=args.images, layer_mb=args.layer_mb, reps=args.reps
        )
    print(f"{'round':<6} {'distribution s':>15} {'Berth s':>9} {'dist/Berth':>11}")
    for phase in ("cold", "warm"):
        print(
            f"{phase:<6} {summary[f'distribution_{phase}_s']:>15.3f} "
            f"{summary[f'berth_{phase}_s']:>9.3f} {summary[f'{phase}_ratio']:>10.2f}x"
        )
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
