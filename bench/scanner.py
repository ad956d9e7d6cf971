"""The embedded scanner's costs (issue 17), outside ``berth bench``'s registry comparison:

* indexing a layer against merely decompressing it (the physical floor): a gzip layer of
  ``--size-mb`` MB (half random, half zeros, like real layers), bare ``zlib`` inflation
  against ``berth.scanner.layers.read_layer``; the best of ``--rounds``;
* matching per package from a small to a large database: ``--small`` and ``--large``
  synthetic OSV PyPI advisories (one per package name, plus the 1,000 the inventory holds),
  the time to match a 1,000-package inventory against each.

  python -m bench.scanner [--size-mb 200] [--small 1000] [--large 1000000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tarfile
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

from berth.scanner import vulndb
from berth.scanner.indexer import Found, Inventory
from berth.scanner.layers import read_layer
from berth.scanner.matcher import match
from berth.scanner.packages import Package


def _layer(size_mb: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for i in range(max(1, size_mb // 4)):
            data = os.urandom(2 << 20) + bytes(2 << 20)
            info = tarfile.TarInfo(f"usr/lib/blob{i}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        status = b"Package: a\nStatus: install ok installed\nVersion: 1\n"
        info = tarfile.TarInfo("var/lib/dpkg/status")
        info.size = len(status)
        t.addfile(info, io.BytesIO(status))
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    return c.compress(buf.getvalue()) + c.flush()


def index_ratio(size_mb: int, rounds: int) -> dict[str, float]:
    gz = _layer(size_mb)
    floor = index = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        d = zlib.decompressobj(31)
        for i in range(0, len(gz), 1 << 20):
            d.decompress(gz[i : i + (1 << 20)])
        t1 = time.perf_counter()
        read_layer(io.BytesIO(gz))
        t2 = time.perf_counter()
        floor, index = min(floor, t1 - t0), min(index, t2 - t1)
    return {"decompress_s": floor, "index_s": index, "ratio": index / floor}


def _db(root: Path, advisories: int) -> Path:
    z = root / f"all-{advisories}.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as out:
        for i in range(advisories):
            name = f"pkg{i}"
            out.writestr(
                f"B-{i}.json",
                json.dumps(
                    {
                        "id": f"B-{i}",
                        "affected": [
                            {
                                "package": {"ecosystem": "PyPI", "name": name},
                                "ranges": [
                                    {
                                        "type": "ECOSYSTEM",
                                        "events": [{"introduced": "0"}, {"fixed": "2.0"}],
                                    }
                                ],
                            }
                        ],
                    }
                ),
            )
    db = root / f"db-{advisories}"
    vulndb.import_path(db, z)
    return db


def match_cost(small: int, large: int) -> dict[str, float]:
    inv = Inventory(
        None, [Found(Package("pypi", f"pkg{i}", "1.0"), "sha256:x") for i in range(1000)]
    )
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (small, large):
            path = vulndb.current_path(_db(Path(tmp), max(n, 1000)))
            assert path is not None
            conn = vulndb.connect(path)
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                found = match(conn, inv)
                best = min(best, time.perf_counter() - t0)
            conn.close()
            assert len(found.findings) == 1000
            out[f"match_1000_packages_{n}_advisories_s"] = best
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=100_000)
    a = ap.parse_args()
    result = {**index_ratio(a.size_mb, a.rounds), **match_cost(a.small, a.large)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
