"""Repository mirroring: one sync of N tags by Berth's mirror vs ``skopeo sync`` of the same
tags, registry to registry, against the same upstream.

    python -m bench.mirror [--tags 20] [--layer-mb 4] [--reps 3] [--out FILE]

An upstream CNCF distribution holds ``tags`` tags of one repository (a config and two random
layers each, every tag its own image). For each rep, fresh targets:

* Berth (embedded, SQLite + filesystem): the mirror is configured and its sync run in this
  process through the composition root's ``MirrorSyncer`` (the same code the long-lane job
  runs; no HTTP server in front: a sync is a job, not a request). Timed: the sync.
* skopeo: ``skopeo sync --src docker --dest docker`` of the upstream repository into a fresh
  distribution (what Quay's mirror worker runs per tag). Timed: the command.

A second Berth sync after the first (nothing changed upstream) is timed too: the
incremental case, one manifest HEAD per tag. Reported: medians over reps and the ratio
skopeo/Berth (> 1: Berth faster). Without skopeo the skopeo side is reported as absent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.proxy import _push_images
from bench.servers import Berth, Distribution

ORG = "mirrors"
USER, PASSWORD = "bench", "bench-password-1"


def _push_tags(url: str, tags: int, layer_bytes: int) -> None:
    """``tags`` images as tags t0..tN of ``team/app`` (re-tagging ``_push_images``' images)."""
    import httpx

    names = _push_images(url, tags, layer_bytes)
    accept = "application/vnd.oci.image.manifest.v1+json"
    with httpx.Client(base_url=url, timeout=120) as http:
        for i, name in enumerate(names):
            manifest = http.get(f"/v2/{name}/manifests/latest", headers={"Accept": accept})
            manifest.raise_for_status()
            body = json.loads(manifest.content)
            for desc in [body["config"], *body["layers"]]:
                r = http.post(
                    "/v2/team/app/blobs/uploads/",
                    params={"mount": desc["digest"], "from": name},
                )
                assert r.status_code == 201, r.text
            r = http.put(
                f"/v2/team/app/manifests/t{i}",
                content=manifest.content,
                headers={"Content-Type": accept},
            )
            assert r.status_code == 201, r.text


async def _berth_syncs(berth: Berth, upstream_host: str) -> tuple[float, float, dict[str, Any]]:
    from berth.config import load_settings
    from berth.mirroring.services import MirrorInput
    from berth.mirroring.tasks import SyncMirror
    from berth.registry.repositories import RepoName, create_repository
    from berth.schema.migrate import upgrade
    from berth.services import create_services

    settings = load_settings(berth.config_path, persist_secrets=False)
    await upgrade(settings.db_url)
    svc = create_services(settings, pool_size=2)
    repo = RepoName(ORG, "app")
    try:
        await svc.orgs.create(ORG, creator=USER, email="mirrors@example.com")
        await svc.robots.create(ORG, "sync", description="bench", performer=USER)
        async with svc.db.write() as s:
            await create_repository(s, repo, is_public=False)
        assert svc.mirrors is not None
        assert svc.mirror_syncer is not None
        await svc.mirrors.create(
            repo,
            MirrorInput(
                external_reference=f"{upstream_host}/team/app",
                sync_start_date="2099-01-01T00:00:00Z",
                sync_interval=86400,
                robot_username=f"{ORG}+sync",
                root_rule=["*"],
                verify_tls=False,
            ),
            performer=None,
        )
        config_id = (await svc.mirrors.get(repo)).id
        times = []
        report: dict[str, Any] = {}
        for _ in range(2):
            await svc.mirrors.sync_now(repo, performer=None)
            t0 = time.perf_counter()
            done = await svc.mirror_syncer.sync(SyncMirror(config_id=config_id))
            times.append(time.perf_counter() - t0)
            assert done is not None
            assert done.status == "SUCCESS", done.message
            report = report or done.as_json()
        return times[0], times[1], report
    finally:
        await svc.close()


def _skopeo_sync(upstream_host: str, target: Distribution) -> float:
    dest = target.url.removeprefix("http://")
    args = [
        "skopeo", "sync", "--all", "--src", "docker", "--dest", "docker",
        "--src-tls-verify=false", "--dest-tls-verify=false",
        f"{upstream_host}/team/app", f"{dest}/copy",
    ]  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(args, check=False, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"skopeo sync failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed


def run_mirror_bench(
    workdir: Path, *, tags: int = 20, layer_mb: int = 4, reps: int = 3
) -> dict[str, Any]:
    upstream = Distribution(workdir / "upstream")
    upstream.start()
    have_skopeo = shutil.which("skopeo") is not None
    results: dict[str, list[float]] = {"berth_s": [], "berth_again_s": [], "skopeo_s": []}
    report: dict[str, Any] = {}
    try:
        _push_tags(upstream.url, tags, layer_mb * 1024 * 1024)
        host = upstream.url.removeprefix("http://")
        for rep in range(reps):
            if have_skopeo:
                target = Distribution(workdir / f"skopeo-target-{rep}")
                target.start()
                try:
                    results["skopeo_s"].append(_skopeo_sync(host, target))
                finally:
                    target.stop()
            berth = Berth(
                workdir / f"berth-{rep}",
                USER,
                PASSWORD,
                extra_config={"FEATURE_REPO_MIRROR": True, "SSRF_ALLOWED_HOSTS": ["127.0.0.1"]},
            )
            berth.prepare()
            first, again, report = asyncio.run(_berth_syncs(berth, host))
            results["berth_s"].append(first)
            results["berth_again_s"].append(again)
    finally:
        upstream.stop()
    summary: dict[str, Any] = {
        "tags": tags,
        "layer_mb_per_tag": layer_mb,
        "reps": reps,
        "raw": results,
        "first_sync": report,
        "note": "measured on the shared machine while other work ran: noise, not a result",
    }
    for key, values in results.items():
        summary[key] = round(statistics.median(values), 3) if values else None
    if summary["skopeo_s"] is not None:
        summary["ratio"] = round(summary["skopeo_s"] / summary["berth_s"], 2)
    else:
        summary["ratio"] = None
        summary["skopeo"] = "not installed: no comparison"
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument("--layer-mb", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="berth-mirror-bench-") as tmp:
        summary = run_mirror_bench(
            Path(tmp), tags=args.tags, layer_mb=args.layer_mb, reps=args.reps
        )
    print(f"{args.tags} tags, {args.layer_mb} MiB each, median of {args.reps}")
    print(f"  Berth sync         {summary['berth_s']:.3f} s")
    print(f"  Berth sync again   {summary['berth_again_s']:.3f} s (nothing changed)")
    if summary["skopeo_s"] is not None:
        print(
            f"  skopeo sync        {summary['skopeo_s']:.3f} s  (skopeo/Berth {summary['ratio']}x)"
        )
    else:
        print("  skopeo sync        not installed")
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
