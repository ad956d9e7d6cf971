"""The network updater: fetch the configured vulnerability data (OSV ``all.zip`` files, the
Debian tracker JSON, Alpine secdb files, CSAF VEX documents) through the outbound client (the
SSRF guard, proxies, extra CAs) and import them as one bundle.

All or nothing: every URL is downloaded into a temporary folder first (streamed to disk,
size-capped); any failure (a refused destination, a non-200 answer, a cut connection, too
large) refuses the update and the loaded database stays as it was. When every file's SHA-256
equals the last successful update's, nothing is imported. The import itself is
``vulndb.import_path`` on a bundle whose ``manifest.json`` Berth writes with the checksums
of what it downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import anyio.to_thread

from berth.outbound import OutboundClient
from berth.outbound.errors import OutboundError
from berth.scanner import vulndb
from berth.scanner.errors import ImportRefused
from berth.scanner.settings import UpdateSource

MAX_DOWNLOAD_BYTES = 4 * 1024**3
STATE_FILE = "updater.json"


@dataclass(frozen=True, slots=True)
class UpdateResult:
    imported: bool  # False: every file was unchanged since the last update
    files: list[str]
    result: vulndb.ImportResult | None = None


def _name(i: int, url: str) -> str:
    base = os.path.basename(urlsplit(url).path) or "data"
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[:100]
    return f"{i:02d}-{safe}"


async def _download(client: OutboundClient, url: str, dest: Path) -> str:
    h = hashlib.sha256()
    size = 0
    try:
        async with client.stream("GET", url, follow_redirects=True) as response:
            if response.status_code != 200:
                raise ImportRefused(f"{url}: the server answered {response.status_code}")
            with dest.open("wb") as f:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_DOWNLOAD_BYTES:
                        raise ImportRefused(f"{url}: larger than {MAX_DOWNLOAD_BYTES} bytes")
                    h.update(chunk)
                    await anyio.to_thread.run_sync(f.write, chunk)
    except OutboundError as e:
        raise ImportRefused(f"{url}: {e}") from e
    return h.hexdigest()


def _read_state(db_dir: Path) -> dict[str, str]:
    try:
        state = json.loads((db_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


async def update(
    client: OutboundClient,
    sources: tuple[UpdateSource, ...],
    db_dir: Path,
    *,
    force: bool = False,
) -> UpdateResult:
    """Download every source and import them together; ``ImportRefused`` on any failure."""
    if not sources:
        raise ImportRefused("no update sources configured (BERTH_SCANNER_UPDATE_SOURCES)")
    with tempfile.TemporaryDirectory(prefix="berth-vulndb-update-") as tmp:
        root = Path(tmp)
        files: list[dict[str, str]] = []
        digests: dict[str, str] = {}
        for i, source in enumerate(sources):
            name = _name(i, source.url)
            digest = await _download(client, source.url, root / name)
            digests[source.url] = digest
            fmt = source.format
            if fmt is None:
                fmt = await anyio.to_thread.run_sync(vulndb.detect_format, root / name)
            files.append({"path": name, "format": fmt, "sha256": digest})
        if not force and digests == _read_state(db_dir):
            return UpdateResult(False, [s.url for s in sources])
        manifest = {"berth_vulndb_bundle": vulndb.BUNDLE_VERSION, "files": files}
        (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
        result = await anyio.to_thread.run_sync(vulndb.import_path, db_dir, root)
    state = db_dir / f".{STATE_FILE}.tmp"
    state.write_text(json.dumps(digests, indent=1, sort_keys=True))
    os.replace(state, db_dir / STATE_FILE)
    return UpdateResult(True, [s.url for s in sources], result)
