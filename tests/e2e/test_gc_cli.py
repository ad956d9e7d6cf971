"""``berth gc`` against a running ``berth serve``: killed mid-run, restarted, nothing lost.

A real server (embedded: SQLite + files in its data directory) holds kept images, deleted
images and stray uploads. ``berth gc`` runs beside it while a client keeps pulling: inside
the time-machine window it frees only the stray uploads; after the window ``--dry-run``
announces exactly what will go; then a pass is SIGKILLed in the middle of the manifest
step, the next in the middle of the blob step, and a third finishes. Every kept tag still
pulls with every byte hashing right (also between the kills), and the blob files on disk
add up to exactly the bytes the kept images reference.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from berth.config import load_settings
from berth.db.session import Database
from berth.registry import accounting
from tests.conftest import embedded_config
from tests.e2e.conftest import ALICE, BERTH, BerthServer, StartServer
from tests.e2e.support import OCI_MANIFEST, check_manifest_tree, sha256
from tests.support.images import OCI_CONFIG, OCI_LAYER_GZIP

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WINDOW_S = 1
REPOS = ("alice/app0", "alice/app1", "alice/app2")
TAGS_PER_REPO = 16
OCTET = {"Content-Type": "application/octet-stream"}


@dataclass
class Image:
    repo: str
    tag: str
    digest: str
    blobs: dict[str, int]  # digest -> size


def _upload(http: httpx.Client, repo: str, data: bytes) -> str:
    digest = sha256(data)
    r = http.post(
        f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data, headers=OCTET
    )
    assert r.status_code == 201, r.text
    return digest


def _push(http: httpx.Client, repo: str, tag: str, layers: list[bytes]) -> Image:
    diff_ids = [sha256(x) for x in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": diff_ids}).encode()
    blobs = {_upload(http, repo, b): len(b) for b in (config, *layers)}
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [
            {"mediaType": OCI_LAYER_GZIP, "digest": sha256(x), "size": len(x)} for x in layers
        ],
    }
    manifest = json.dumps(doc).encode()
    r = http.put(
        f"/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert r.status_code == 201, r.text
    return Image(repo, tag, sha256(manifest), blobs)


def _blob_files(storage_root: Path) -> dict[str, int]:
    """sha256 digest -> size of every blob file under the server's storage directory."""
    found: dict[str, int] = {}
    for path in (storage_root / "blobs" / "sha256").glob("*/*"):
        found[f"sha256:{path.name}"] = path.stat().st_size
    return found


def _count(db_path: Path, table: str) -> int:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


def _gc(server: BerthServer, *args: str) -> str:
    proc = subprocess.run(
        [str(BERTH), "gc", "--config", str(server.config_path), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _summary(output: str) -> tuple[int, int, int]:
    """(manifests, blobs, bytes) from the last line of ``berth gc``."""
    m = re.search(r"free[d]? (\d+) manifests and (\d+) blobs \((\d+) bytes", output)
    assert m, output
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _kill_when(server: BerthServer, condition: Callable[[], bool], what: str) -> None:
    """Start a slow pass (one row per transaction) and SIGKILL it once ``condition`` holds."""
    proc = subprocess.Popen(
        [
            str(BERTH),
            "gc",
            "--config",
            str(server.config_path),
            "--grace",
            "0",
            "--batch-size",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not condition():
            assert proc.poll() is None, f"berth gc finished before reaching {what}"
            assert time.monotonic() < deadline, f"berth gc never reached {what}"
            time.sleep(0.005)
        assert proc.poll() is None, f"berth gc finished right at {what}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


class _Puller(threading.Thread):
    """Pulls kept tags over and over while the collector runs; records every failure."""

    def __init__(self, server: BerthServer, images: list[Image]) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.images = images
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.pulls = 0

    def run(self) -> None:
        rng = random.Random(7)
        with self.server.client() as http:
            while not self.stop.is_set():
                image = rng.choice(self.images)
                try:
                    check_manifest_tree(http, image.repo, image.tag)
                    self.pulls += 1
                except (AssertionError, httpx.HTTPError) as e:
                    self.failures.append(f"{image.repo}:{image.tag}: {e}")


@pytest.fixture
def server(berth_factory: StartServer, tmp_path: Path) -> BerthServer:
    # The workers' own schedule is off: this test decides when collection runs.
    server = berth_factory(embedded_config(tmp_path, BERTH_GC_INTERVAL="0s"), name="embedded")
    server.create_user(*ALICE)
    return server


def test_gc_killed_mid_run_loses_nothing_and_frees_exactly(
    server: BerthServer, tmp_path: Path
) -> None:
    settings = load_settings(server.config_path, env={})
    storage_root = Path(settings.storage.args["storage_path"])
    db_path = settings.data_dir / "berth.db"
    rng = random.Random(2024)
    bases = [rng.randbytes(40_000), rng.randbytes(55_000)]

    kept: list[Image] = []
    deleted: list[Image] = []
    with server.client() as http:
        for repo in REPOS:
            for i in range(TAGS_PER_REPO):
                layers = [bases[i % 2], rng.randbytes(rng.randint(5_000, 30_000))]
                image = _push(http, repo, f"t{i}", layers)
                (kept if i % 2 == 0 else deleted).append(image)
        strays = [_upload(http, REPOS[0], rng.randbytes(7_000)) for _ in range(5)]
        for image in deleted:
            r = http.delete(f"/v2/{image.repo}/manifests/{image.tag}")
            assert r.status_code == 202, r.text

    kept_blobs = {d: s for image in kept for d, s in image.blobs.items()}
    all_blobs = kept_blobs | {d: s for image in deleted for d, s in image.blobs.items()}
    doomed = {d: s for d, s in all_blobs.items() if d not in kept_blobs}
    assert set(_blob_files(storage_root)) == set(all_blobs) | set(strays)

    puller = _Puller(server, kept)
    puller.start()
    try:
        # Inside the (default, two-week) window only the stray uploads go, with grace 0;
        # the deleted tags stay restorable.
        out = _gc(server, "--grace", "0")
        assert _summary(out) == (0, len(strays), 5 * 7_000)
        assert _blob_files(storage_root) == all_blobs

        # The operator shortens the namespace's time machine to one second; it has passed.
        with sqlite3.connect(db_path, timeout=30) as conn:
            conn.execute(
                "UPDATE namespaces SET tag_expiration_s = ? WHERE name = 'alice'", (WINDOW_S,)
            )
        time.sleep(WINDOW_S + 0.1)
        out = _gc(server, "--grace", "0", "--dry-run")
        assert _summary(out) == (len(deleted), len(doomed), sum(doomed.values()))
        for repo in REPOS:
            assert repo in out  # the per-repository table
        assert _blob_files(storage_root) == all_blobs

        manifests_before = _count(db_path, "manifests")
        _kill_when(
            server,
            lambda: _count(db_path, "manifests") < manifests_before,
            "the manifest step",
        )
        assert _count(db_path, "manifests") > len(kept)  # really stopped half way
        with server.client() as http:
            for image in kept:
                check_manifest_tree(http, image.repo, image.tag)

        files_before = len(_blob_files(storage_root))
        _kill_when(
            server,
            lambda: len(_blob_files(storage_root)) < files_before,
            "the blob step",
        )
        assert len(_blob_files(storage_root)) > len(kept_blobs)  # really stopped half way

        _gc(server, "--grace", "0")
    finally:
        puller.stop.set()
        puller.join(timeout=60)

    assert puller.failures == []
    assert puller.pulls > 0
    files = _blob_files(storage_root)
    assert files == kept_blobs
    assert sum(files.values()) == sum(kept_blobs.values())  # disk usage, to the byte
    with server.client() as http:
        for image in kept:
            check_manifest_tree(http, image.repo, image.tag)
        for image in deleted:
            r = http.get(f"/v2/{image.repo}/manifests/{image.digest}")
            assert r.status_code == 404
    assert _summary(_gc(server, "--grace", "0", "--dry-run")) == (0, 0, 0)
    assert _count(db_path, "manifests") == len(kept)

    async def sizes() -> tuple[accounting.Usage, accounting.Usage]:
        db = Database(settings.db_url, pool_size=1)
        try:
            async with db.read() as s:
                return await accounting.stored(s), await accounting.recompute(s)
        finally:
            await db.dispose()

    stored, fresh = asyncio.run(sizes())
    assert stored == fresh
    manifest_bytes = sum(
        r[0] for r in sqlite3.connect(db_path).execute("SELECT size FROM manifests").fetchall()
    )
    assert sum(stored.namespaces.values()) == sum(kept_blobs.values()) + manifest_bytes
