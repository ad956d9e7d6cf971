"""Dockerfile builds (issue 18): a build through Berth against the same build by hand.

    python -m bench.builds [--reps 3] [--files 20] [--file-kb 256] [--queue 20] [--out FILE]

One embedded ``berth serve`` (the local buildah executor, BERTH_BUILD_CONCURRENCY
``{total: 2, per_namespace: 2}``, BERTH_JOB_LANES ``build: 2``). The context is a tar.gz of
a ``FROM scratch`` Dockerfile that COPYs ``--files`` random files of ``--file-kb`` KB. Each
rep times:

* by hand: ``buildah bud`` (fresh vfs storage, OCI isolation, no network, as the executor
  runs it) then ``buildah push`` to Berth with the user's credentials;
* through Berth: the file drop (POST + PUT), ``POST …/build/``, polling the status every
  0.1 s until ``complete`` (upload, queue, build, push, all on the clock).

Then ``--queue`` builds are started at once and timed until all complete, while a client
pulls one image (manifest and blobs) in a loop; its pulls are compared with the same loop
on an idle server. Reported: medians, the ratio Berth/by hand (target <= 1.1) and the pull
slowdown under the queue (target <= 10%). Numbers measured while other processes load the
machine are noise: say so when you quote them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.servers import Berth

USER, PASSWORD = "bench", "bench-password-1"


def context(files: int, file_kb: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=1) as tar:
        df = b"FROM scratch\nCOPY data /data\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(df)
        tar.addfile(info, io.BytesIO(df))
        for i in range(files):
            data = os.urandom(file_kb * 1024)
            info = tarfile.TarInfo(f"data/f{i}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def signed_in(url: str) -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=300)
    csrf = http.get("/csrf_token").json()["csrf_token"]
    r = http.post(
        "/api/v1/signin",
        json={"username": USER, "password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    r.raise_for_status()
    http.headers["X-CSRF-Token"] = r.headers["x-next-csrf-token"]
    return http


def by_hand(host: str, ctx: bytes, tag: str, work: Path) -> float:
    work.mkdir(parents=True)
    src = work / "ctx"
    with tarfile.open(fileobj=io.BytesIO(ctx)) as tar:
        tar.extractall(src, filter="data")
    runroot = Path(tempfile.mkdtemp(prefix="bb-"))
    base = ["buildah", "--root", str(work / "storage"), "--runroot", str(runroot)]
    base += ["--storage-driver", "vfs"]
    image = f"{host}/{USER}/byhand:{tag}"
    t0 = time.perf_counter()
    try:
        subprocess.run(
            [*base, "bud", "--isolation", "oci", "--network", "none", "--layers=false",
             "-q", "-t", image, str(src)],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [*base, "push", "--tls-verify=false", "--creds", f"{USER}:{PASSWORD}", image],
            check=True, capture_output=True,
        )  # fmt: skip
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(runroot, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def start_build(http: httpx.Client, ctx: bytes, tag: str) -> str:
    drop = http.post("/api/v1/filedrop/", json={"mimeType": "application/gzip"}).json()
    httpx.put(drop["url"], content=ctx, timeout=300).raise_for_status()
    r = http.post(
        f"/api/v1/repository/{USER}/built/build/",
        json={"file_id": drop["file_id"], "docker_tags": [tag]},
    )
    r.raise_for_status()
    return str(r.json()["id"])


def wait(http: httpx.Client, uuid: str) -> None:
    while True:
        phase = http.get(f"/api/v1/repository/{USER}/built/build/{uuid}/status").json()["phase"]
        if phase == "complete":
            return
        if phase in ("error", "cancelled", "internalerror", "expired"):
            raise RuntimeError(f"build {uuid} ended {phase}")
        time.sleep(0.1)


def through_berth(http: httpx.Client, ctx: bytes, tag: str) -> float:
    t0 = time.perf_counter()
    wait(http, start_build(http, ctx, tag))
    return time.perf_counter() - t0


def pull_loop(url: str, stop: threading.Event, times: list[float], limit: int = 0) -> None:
    with httpx.Client(base_url=url, timeout=60, auth=(USER, PASSWORD)) as http:
        accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
        while not stop.is_set() and (limit == 0 or len(times) < limit):
            t0 = time.perf_counter()
            m = http.get(f"/v2/{USER}/built/manifests/r0", headers=accept)
            m.raise_for_status()
            for desc in [m.json()["config"], *m.json()["layers"]]:
                http.get(f"/v2/{USER}/built/blobs/{desc['digest']}").raise_for_status()
            times.append(time.perf_counter() - t0)


def run_builds_bench(
    workdir: Path, *, reps: int = 3, files: int = 20, file_kb: int = 256, queue: int = 20
) -> dict[str, Any]:
    berth = Berth(
        workdir / "berth",
        USER,
        PASSWORD,
        extra_config={
            "BERTH_BUILD_CONCURRENCY": {"total": 2, "per_namespace": 2},
            # builds share the long lane: room for two builds and the rest of its work
            "BERTH_JOB_LANES": {"quick": 4, "long": 1, "build": 2},
            "BERTH_BUILD_MAX_QUEUED": queue + 5,
        },
    )
    berth.prepare()
    berth.start()
    host = berth.url.removeprefix("http://")
    ctx = context(files, file_kb)
    hand: list[float] = []
    berth_s: list[float] = []
    try:
        http = signed_in(berth.url)
        try:
            http.post(
                "/api/v1/repository",
                json={"repository": "built", "visibility": "private", "description": ""},
            ).raise_for_status()
            for rep in range(reps):
                hand.append(by_hand(host, ctx, f"r{rep}", workdir / f"hand-{rep}"))
                berth_s.append(through_berth(http, ctx, f"r{rep}"))
            idle: list[float] = []
            pull_loop(berth.url, threading.Event(), idle, limit=50)
            busy: list[float] = []
            stop = threading.Event()
            puller = threading.Thread(target=pull_loop, args=(berth.url, stop, busy))
            puller.start()
            t0 = time.perf_counter()
            try:
                uuids = [start_build(http, ctx, f"q{i}") for i in range(queue)]
                for uuid in uuids:
                    wait(http, uuid)
            finally:
                stop.set()
                puller.join()
            queue_s = time.perf_counter() - t0
        finally:
            http.close()
    finally:
        berth.stop()
    hand_med, berth_med = statistics.median(hand), statistics.median(berth_s)
    idle_med, busy_med = statistics.median(idle), statistics.median(busy or idle)
    return {
        "context_bytes": len(ctx),
        "reps": reps,
        "by_hand_s": round(hand_med, 3),
        "through_berth_s": round(berth_med, 3),
        "ratio": round(berth_med / hand_med, 3),
        "queue": queue,
        "queue_s": round(queue_s, 2),
        "pull_idle_ms": round(idle_med * 1000, 2),
        "pull_during_queue_ms": round(busy_med * 1000, 2),
        "pull_slowdown": round(busy_med / idle_med - 1, 3),
        "note": "on a shared machine these numbers are noise",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--file-kb", type=int, default=256)
    parser.add_argument("--queue", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="berth-bench-builds-") as tmp:
        result = run_builds_bench(
            Path(tmp), reps=args.reps, files=args.files, file_kb=args.file_kb, queue=args.queue
        )
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
