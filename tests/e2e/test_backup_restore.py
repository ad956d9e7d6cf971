"""``berth backup`` while pushes run, ``berth restore`` elsewhere: every tag pulls the same
bytes from the restored registry; a restore into a data dir that holds a registry refuses
unless ``--force``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import embedded_config
from tests.e2e.conftest import ALICE, BERTH, StartServer
from tests.e2e.support import check_all_tags, get_manifest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def push_image(http: httpx.Client, repo: str, tag: str, seed: int) -> str:
    """A small image (config + one layer) pushed monolithically; its manifest digest."""
    layer = hashlib.sha256(f"layer-{seed}".encode()).digest() * 2000
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    for blob in (layer, config):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        r = http.post(f"/v2/{repo}/blobs/uploads/?digest={digest}", content=blob,
                      headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        assert r.status_code == 201, r.text

    def desc(media_type: str, blob: bytes) -> dict[str, object]:
        return {"mediaType": media_type, "size": len(blob),
                "digest": "sha256:" + hashlib.sha256(blob).hexdigest()}  # fmt: skip

    body = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": desc("application/vnd.oci.image.config.v1+json", config),
        "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", layer)],
    }).encode()  # fmt: skip
    r = http.put(f"/v2/{repo}/manifests/{tag}", content=body,
                 headers={"Content-Type": OCI_MANIFEST})  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.headers["docker-content-digest"])


def berth_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BERTH), *args], input=stdin, capture_output=True, text=True, timeout=300,
        check=False, env={**os.environ, "HOME": os.environ.get("HOME", "/root")},
    )  # fmt: skip


def test_backup_during_pushes_restores_byte_exact(
    berth_factory: StartServer, tmp_path: Path
) -> None:
    source = berth_factory(embedded_config(tmp_path / "a"), name="source")
    source.create_user(*ALICE)
    before: dict[str, str] = {}
    with source.client() as http:
        for i in range(6):
            before[f"alice/app{i % 2}:v{i}"] = push_image(http, f"alice/app{i % 2}", f"v{i}", i)

    stop = threading.Event()
    during: dict[str, str] = {}
    failures: list[BaseException] = []

    def keep_pushing() -> None:
        try:
            with source.client() as http:
                i = 100
                while not stop.is_set():
                    during[f"alice/busy:v{i}"] = push_image(http, "alice/busy", f"v{i}", i)
                    i += 1
        except BaseException as e:
            failures.append(e)

    pusher = threading.Thread(target=keep_pushing)
    pusher.start()
    backup_dir = tmp_path / "backup"
    try:
        done = berth_cli("backup", str(backup_dir), "--config", str(source.config_path))
    finally:
        stop.set()
        pusher.join(timeout=120)
    assert not failures, failures
    assert done.returncode == 0, done.stdout + done.stderr
    assert "backup:" in done.stdout
    assert during, "no push ran during the backup"
    source.stop()

    # restore into a fresh data dir and serve it
    target_config = embedded_config(tmp_path / "b")
    target = berth_factory(target_config, name="restored", start=False)
    restored = berth_cli("restore", str(backup_dir), "--config", str(target.config_path))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    target.start()
    with target.client() as http:
        seen = check_all_tags(http)  # every tag's manifest and blobs hash right
        for ref, digest in before.items():
            repo, tag = ref.split(":")
            assert get_manifest(http, repo, tag)[1] == digest
        for tag in seen.get("alice/busy", []):  # pushes the snapshot caught are whole
            assert get_manifest(http, "alice/busy", tag)[1] == during[f"alice/busy:{tag}"]
    target.stop()

    # a second restore into the same data dir refuses; --force replaces
    again = berth_cli("restore", str(backup_dir), "--config", str(target.config_path))
    assert again.returncode == 1
    assert "already holds a registry" in again.stderr and "--force" in again.stderr  # noqa: PT018
    forced = berth_cli("restore", str(backup_dir), "--config", str(target.config_path), "--force")
    assert forced.returncode == 0, forced.stderr
    target.start()
    with target.client() as http:
        assert set(check_all_tags(http)) >= {"alice/app0", "alice/app1"}


def test_backup_refuses_a_nonempty_destination_and_a_shared_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert berth_cli("db", "upgrade", "--data-dir", str(data)).returncode == 0
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "something").write_text("x")
    out = berth_cli("backup", str(dest), "--data-dir", str(data))
    assert out.returncode == 1
    assert "is not empty" in out.stderr
    config = tmp_path / "pg.yaml"
    config.write_text(
        "DB_URI: postgresql://u:p@127.0.0.1:1/berth\nSECRET_KEY: a\nDATABASE_SECRET_KEY: b\n"
    )
    out = berth_cli("backup", str(tmp_path / "new"), "--config", str(config))
    assert out.returncode == 1
    assert "pg_dump" in out.stderr
