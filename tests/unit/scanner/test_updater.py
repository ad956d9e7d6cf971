"""The network updater (``berth scanner update`` and the ``update_vulndb`` job) against a
real local HTTP server serving files in the upstream formats: downloads go through the
outbound client (the SSRF guard refuses loopback until SSRF_ALLOWED_HOSTS allows it), all
sources are imported together, an unchanged set is not imported again, and any failure
leaves the loaded database as it was."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from berth.cli.main import main
from berth.config import load_settings
from berth.scanner import vulndb
from berth.services import create_services

from . import fixtures as F


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(folder served, base URL): a plain HTTP file server on a free loopback port."""
    root = tmp_path / "mirror"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _config(tmp_path: Path, base: str, **extra: Any) -> Path:
    path = tmp_path / "config.yaml"
    keys = {
        "BERTH_DATA_DIR": str(tmp_path / "data"),
        "BERTH_SCANNER_UPDATE_SOURCES": [
            {"url": f"{base}/osv/PyPI/all.zip"},
            {"url": f"{base}/tracker/data/json", "format": "debian-tracker"},
            {"url": f"{base}/v3.19/main.json"},
        ],
        **extra,
    }
    path.write_text(yaml.safe_dump(keys))
    return path


def _update(config: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["scanner", "update", "--config", str(config), *args])


def test_update_through_the_outbound_client(tmp_path: Path, mirror: tuple[Path, str]) -> None:
    root, base = mirror
    (root / "osv" / "PyPI").mkdir(parents=True)
    F.osv_zip(
        root / "osv" / "PyPI" / "all.zip",
        [F.osv("PYSEC-2024-1", "PyPI", "requests", [{"introduced": "0"}, {"fixed": "2.32.0"}])],
    )
    (root / "tracker" / "data").mkdir(parents=True)
    (root / "tracker" / "data" / "json").write_text(json.dumps(F.debian_tracker()))
    (root / "v3.19").mkdir()
    (root / "v3.19" / "main.json").write_text(json.dumps(F.alpine_secdb()))
    db = tmp_path / "data" / "vulndb"

    # Loopback is refused by the SSRF guard until the operator allows the mirror.
    r = _update(_config(tmp_path, base))
    assert r.exit_code == 1
    assert "update refused" in r.output
    assert "SSRF_ALLOWED_HOSTS" in r.output
    assert vulndb.current_path(db) is None

    config = _config(tmp_path, base, SSRF_ALLOWED_HOSTS=["127.0.0.1"])
    r = _update(config)
    assert r.exit_code == 0, r.output
    assert "generation 1" in r.output
    st = vulndb.status(db)
    assert {s["name"] for s in st.sources} == {
        "osv:PyPI",
        "debian-tracker",
        "alpine-secdb:v3.19/main",
    }

    # Nothing changed upstream: nothing imported.
    r = _update(config)
    assert r.exit_code == 0, r.output
    assert "up to date" in r.output
    assert vulndb.status(db).generation == 1

    # A changed file: a new generation with all three sources.
    F.osv_zip(
        root / "osv" / "PyPI" / "all.zip",
        [
            F.osv("PYSEC-2024-1", "PyPI", "requests", [{"introduced": "0"}, {"fixed": "2.32.0"}]),
            F.osv("PYSEC-2024-2", "PyPI", "urllib3", [{"introduced": "0"}, {"fixed": "2.2.2"}]),
        ],
    )
    r = _update(config)
    assert r.exit_code == 0, r.output
    assert vulndb.status(db).generation == 2

    # A source that went missing (404): refused, generation 2 stays.
    (root / "v3.19" / "main.json").unlink()
    r = _update(config, "--force")
    assert r.exit_code == 1
    assert "answered 404" in r.output
    assert vulndb.status(db).generation == 2

    # A truncated zip: refused by the import, generation 2 stays.
    (root / "v3.19" / "main.json").write_text(json.dumps(F.alpine_secdb()))
    data = (root / "osv" / "PyPI" / "all.zip").read_bytes()
    (root / "osv" / "PyPI" / "all.zip").write_bytes(data[: len(data) // 2])
    r = _update(config, "--force")
    assert r.exit_code == 1
    assert vulndb.status(db).generation == 2


async def test_the_scheduled_job_updates(tmp_path: Path, mirror: tuple[Path, str]) -> None:
    root, base = mirror
    (root / "osv" / "PyPI").mkdir(parents=True)
    F.osv_zip(
        root / "osv" / "PyPI" / "all.zip",
        [F.osv("PYSEC-2024-1", "PyPI", "requests", [{"introduced": "0"}, {"fixed": "2.32.0"}])],
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "BERTH_DATA_DIR": str(tmp_path / "data"),
                "FEATURE_SECURITY_SCANNER": True,
                "SSRF_ALLOWED_HOSTS": ["127.0.0.1"],
                "BERTH_SCANNER_UPDATE_SOURCES": [{"url": f"{base}/osv/PyPI/all.zip"}],
                "BERTH_SCANNER_UPDATE_INTERVAL": 3600,
            }
        )
    )
    services = create_services(load_settings(config, env={}))
    try:
        kinds = {s.kind.name for s in services.runner.schedules}
        assert "update_vulndb" in kinds
        outcome = await services.scanner.update_database()
        assert outcome is not None
        assert outcome.imported
        assert vulndb.status(tmp_path / "data" / "vulndb").generation == 1
        (root / "osv" / "PyPI" / "all.zip").unlink()
        assert await services.scanner.update_database() is None  # logged, not raised
        assert vulndb.status(tmp_path / "data" / "vulndb").generation == 1
    finally:
        await services.close()
