"""``berth serve`` terminating TLS from ``ssl.cert``/``ssl.key`` beside ``config.yaml``.

A CA and a server certificate for 127.0.0.1 are made with ``cryptography``; clients trust
the CA only (httpx with ``verify=``, skopeo with ``--dest-cert-dir``/``--src-cert-dir``),
never ``--tls-verify=false``.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import embedded_config
from tests.e2e.conftest import ALICE, BERTH, _free_port
from tests.e2e.support import manifest_digest
from tests.support.clients import run
from tests.support.images import write_oci_layout
from tests.support.tls import ThrowawayCA

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
CREDS = f"{ALICE[0]}:{ALICE[1]}"


def make_pki(where: Path, *, expired: bool = False) -> Path:
    """A CA (``ca.crt``) and ``ssl.cert``/``ssl.key`` for 127.0.0.1 signed by it."""
    ca = ThrowawayCA.create(where / "pki")
    cert, key = ca.issue("127.0.0.1", expired=expired)
    cert.rename(where / "ssl.cert")
    key.rename(where / "ssl.key")
    ca.pem.rename(where / "ca.crt")
    return where / "ca.crt"


def _start(config: dict[str, Any], conf_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    (conf_dir / "config.yaml").write_text(yaml.safe_dump(config))
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(BERTH), "serve", "--config", str(conf_dir / "config.yaml"), "--host",
             "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def test_tls_from_the_config_directory(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    ca = make_pki(conf)
    port = _free_port()
    config = {**embedded_config(tmp_path), "SERVER_HOSTNAME": f"127.0.0.1:{port}"}
    log = tmp_path / "berth.log"
    proc = _start(config, conf, port, log)
    url = f"https://127.0.0.1:{port}"
    trusting = ssl.create_default_context(cafile=str(ca))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                r = httpx.get(f"{url}/v2/", verify=trusting, timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        assert r.status_code == 401
        assert f'realm="{url}/v2/auth"' in r.headers["www-authenticate"]
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the CA
            httpx.get(f"{url}/v2/", timeout=5)
        made = subprocess.run(
            [str(BERTH), "admin", "create-user", ALICE[0], "--password-stdin", "--config",
             str(conf / "config.yaml")],
            input=ALICE[1] + "\n", capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        # skopeo trusts the CA from a certificate directory: push, then pull it back
        certs = tmp_path / "certs"
        certs.mkdir()
        (certs / "ca.crt").write_bytes(ca.read_bytes())
        layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(200_000,), seed=3)
        dest = f"docker://127.0.0.1:{port}/alice/tls-app:v1"
        run("skopeo", "copy", "--dest-cert-dir", str(certs), "--dest-creds", CREDS,
            layout.reference, dest, check=True)  # fmt: skip
        out = tmp_path / "out"
        run("skopeo", "copy", "--src-cert-dir", str(certs), "--src-creds", CREDS, dest,
            f"oci:{out}:v1", check=True)  # fmt: skip
        with httpx.Client(base_url=url, verify=trusting, auth=ALICE, timeout=30) as http:
            digest = manifest_digest(http, "alice/tls-app", "v1")
        index = yaml.safe_load((out / "index.json").read_text())
        assert index["manifests"][0]["digest"] == digest
    finally:
        _stop(proc)
    assert "tls:" in log.read_text()


def test_expired_certificate_is_refused_before_serving(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    make_pki(conf, expired=True)
    port = _free_port()
    config = {**embedded_config(tmp_path), "SERVER_HOSTNAME": f"127.0.0.1:{port}"}
    log = tmp_path / "berth.log"
    proc = _start(config, conf, port, log)
    assert proc.wait(timeout=60) == 1
    text = log.read_text()
    assert f"berth: the TLS certificate {conf / 'ssl.cert'} expired on" in text
    assert "Traceback" not in text
    with socket.socket() as s:  # nothing half-started holds the port
        s.bind(("127.0.0.1", port))
    assert not (tmp_path / "data" / "berth.db").exists()


def test_mismatched_key_and_lone_file_are_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    make_pki(a)
    make_pki(b)
    (a / "ssl.key").write_bytes((b / "ssl.key").read_bytes())
    port = _free_port()
    config = {**embedded_config(tmp_path), "SERVER_HOSTNAME": f"127.0.0.1:{port}"}
    proc = _start(config, a, port, tmp_path / "a.log")
    assert proc.wait(timeout=60) == 1
    assert "does not belong to the certificate" in (tmp_path / "a.log").read_text()
    (b / "ssl.key").unlink()
    proc = _start(config, b, port, tmp_path / "b.log")
    assert proc.wait(timeout=60) == 1
    assert "ssl.key is missing" in (tmp_path / "b.log").read_text()
