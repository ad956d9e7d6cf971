"""kill -9 in the middle of work, restart on the same config, and nothing a user sees is broken.

After the restart: every tag points at a manifest whose bytes and blobs are all there and
hash right; what the server acknowledged (201) before the kill is still there; an
interrupted upload either resumes from where the server says it stands or is cleanly
unknown; and a fresh push works.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ALICE, BerthServer
from tests.e2e.support import (
    OCI_MANIFEST,
    check_all_tags,
    check_manifest_tree,
    get_blob,
    manifest_digest,
    sha256,
)
from tests.support.clients import run
from tests.support.images import OCI_CONFIG, OCI_LAYER_GZIP, write_oci_layout

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OCTET = {"Content-Type": "application/octet-stream"}


def _fresh_push_works(berth: BerthServer, tmp_path: Path) -> None:
    layout = write_oci_layout(tmp_path / "after", tag="v1", layers=(300_000,), seed=99)
    run(
        "skopeo",
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        ":".join(ALICE),
        layout.reference,
        f"docker://{berth.host}/alice/after-crash:v1",
        check=True,
    )
    with berth.client() as http:
        assert manifest_digest(http, "alice/after-crash", "v1") == layout.digest
        check_manifest_tree(http, "alice/after-crash", "v1")


# ------------------------------------------------------------------ interrupted upload


def test_kill_during_chunked_upload(berth: BerthServer, tmp_path: Path) -> None:
    repo = "alice/crash-upload"
    rng = random.Random(42)
    part1 = rng.randbytes(6 << 20)
    rest = rng.randbytes(18 << 20)
    blob = part1 + rest
    digest = sha256(blob)

    with berth.client() as http:
        r = http.post(f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, r.text
        r = http.patch(
            r.headers["location"],
            content=part1,
            headers={**OCTET, "Content-Range": f"0-{len(part1) - 1}"},
        )
        assert r.status_code == 202, r.text
        location = r.headers["location"]

    # stream the rest slowly (chunked, as containers/image does) and kill -9 half way
    sent = 0
    halfway = threading.Event()
    outcome: list[object] = []

    def body() -> Iterator[bytes]:
        nonlocal sent
        step = 256 << 10
        for off in range(0, len(rest), step):
            yield rest[off : off + step]
            sent += len(rest[off : off + step])
            if sent >= 4 << 20:
                halfway.set()
                time.sleep(0.02)

    def patch() -> None:
        try:
            with berth.client(timeout=120) as http:
                outcome.append(http.patch(location, content=body(), headers=OCTET))
        except httpx.TransportError as e:
            outcome.append(e)

    worker = threading.Thread(target=patch, daemon=True)
    worker.start()
    assert halfway.wait(60), "the streaming PATCH never got going"
    berth.kill()
    worker.join(60)
    assert not worker.is_alive()
    assert outcome
    assert isinstance(outcome[0], httpx.TransportError), (
        f"the PATCH was supposed to be cut off by the kill: {outcome}"
    )
    streamed = sent

    berth.start()
    with berth.client() as http:
        r = http.get(location)
        if r.status_code == 204:
            # resumable: continue from where Berth says the upload stands
            stands = int(r.headers["range"].split("-")[1]) + 1
            assert 0 <= stands <= len(part1) + streamed, r.headers["range"]
            r = http.patch(
                r.headers.get("location", location),
                content=blob[stands:],
                headers={**OCTET, "Content-Range": f"{stands}-{len(blob) - 1}"},
            )
            assert r.status_code == 202, f"resuming at {stands}: {r.status_code} {r.text}"
            assert r.headers["range"] == f"0-{len(blob) - 1}"
            r = http.put(r.headers["location"], params={"digest": digest})
            assert r.status_code == 201, f"finishing the resumed upload: {r.status_code} {r.text}"
        else:
            assert r.status_code == 404, f"upload status after restart: {r.status_code} {r.text}"
            assert r.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
            # start over, the way a client would
            r = http.post(f"/v2/{repo}/blobs/uploads/")
            assert r.status_code == 202, r.text
            r = http.put(
                r.headers["location"], params={"digest": digest}, content=blob, headers=OCTET
            )
            assert r.status_code == 201, r.text
        assert get_blob(http, repo, digest) == blob
        check_all_tags(http)

    _fresh_push_works(berth, tmp_path)


# ------------------------------------------------------------ concurrent manifest PUTs


def _manifest(config: bytes, layers: list[bytes], note: str) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
            "layers": [
                {"mediaType": OCI_LAYER_GZIP, "digest": sha256(x), "size": len(x)} for x in layers
            ],
            "annotations": {"e2e.note": note},
        }
    ).encode()


def test_kill_during_concurrent_manifest_puts(berth: BerthServer, tmp_path: Path) -> None:
    repo = "alice/crash-push"
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    shared = random.Random(7).randbytes(1 << 20)
    with berth.client() as http:
        for data in (config, shared):
            r = http.post(
                f"/v2/{repo}/blobs/uploads/",
                params={"digest": sha256(data)},
                content=data,
                headers=OCTET,
            )
            assert r.status_code == 201, r.text

    acknowledged: dict[str, str] = {}  # tag -> digest answered 201
    failures: list[str] = []  # answers other than 201 before the kill
    killed = threading.Event()
    lock = threading.Lock()

    def pusher(worker: int) -> None:
        rng = random.Random(1000 + worker)
        with berth.client(timeout=30) as http:
            for i in range(10_000):
                if killed.is_set():
                    return
                own = rng.randbytes(rng.randrange(2_000, 200_000))
                tag = f"w{worker}-{i}"
                manifest = _manifest(config, [shared, own], tag)
                try:
                    r = http.post(
                        f"/v2/{repo}/blobs/uploads/",
                        params={"digest": sha256(own)},
                        content=own,
                        headers=OCTET,
                    )
                    if r.status_code != 201:
                        if not killed.is_set():
                            with lock:
                                failures.append(f"blob {tag}: {r.status_code} {r.text[:200]}")
                        continue
                    r = http.put(
                        f"/v2/{repo}/manifests/{tag}",
                        content=manifest,
                        headers={"Content-Type": OCI_MANIFEST},
                    )
                except httpx.TransportError:
                    return  # the server is gone
                with lock:
                    if r.status_code == 201:
                        assert r.headers["docker-content-digest"] == sha256(manifest)
                        acknowledged[tag] = sha256(manifest)
                    elif not killed.is_set():
                        failures.append(f"manifest {tag}: {r.status_code} {r.text[:200]}")

    workers = [threading.Thread(target=pusher, args=(n,), daemon=True) for n in range(12)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    with lock:
        killed.set()
        before_kill = dict(acknowledged)
    berth.kill()
    for w in workers:
        w.join(60)
    assert len(before_kill) >= 40, f"only {len(before_kill)} pushes went through: {failures[:5]}"

    berth.start()
    with berth.client() as http:
        found = check_all_tags(http)  # every tag: manifest and all its blobs intact
        assert set(before_kill) <= set(found.get(repo, [])), (
            "tags acknowledged with 201 before the kill are gone: "
            f"{sorted(set(before_kill) - set(found.get(repo, [])))}"
        )
        for tag, digest in before_kill.items():
            assert manifest_digest(http, repo, tag) == digest
    assert failures == [], f"{len(failures)} requests failed before the kill: {failures[:5]}"

    _fresh_push_works(berth, tmp_path)
