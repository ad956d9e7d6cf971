"""The indexer: layers streamed, whiteouts honoured, bad layers refused with a reason."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from berth.scanner.errors import LayerRejected
from berth.scanner.indexer import coalesce
from berth.scanner.layers import Limits, read_layer

from . import fixtures as F


def _index(*layers: bytes):  # type: ignore[no-untyped-def]
    return coalesce([(F.digest(b), read_layer(io.BytesIO(b))) for b in layers])


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_dpkg_packages_with_the_layer_that_introduced_them(compression: str) -> None:
    base = F.layer(
        {
            "etc/os-release": F.DEBIAN_OS_RELEASE,
            "var/lib/dpkg/status": F.dpkg_status(
                ("libssl3", "3.0.11-1~deb12u2", "openssl"),
                ("bash", "5.2.15-2+b8", "bash (5.2.15-2)"),
            ),
            "usr/bin/other": b"\x7fELF...",
        },
        compression,
    )
    top = F.layer(
        {
            "var/lib/dpkg/status": F.dpkg_status(
                ("libssl3", "3.0.11-1~deb12u2", "openssl"),
                ("bash", "5.2.15-2+b8", "bash (5.2.15-2)"),
                ("curl", "7.88.1-10", None),
            )
        },
        compression,
    )
    inv = _index(base, top)
    assert inv.distribution is not None
    assert inv.distribution.namespaces() == ["debian:12", "debian:bookworm"]
    got = {
        (
            f.package.name,
            f.package.version,
            f.package.source_name,
            f.package.source_version,
            f.introduced_in,
        )
        for f in inv.packages
    }
    assert got == {
        ("bash", "5.2.15-2+b8", "bash", "5.2.15-2", F.digest(base)),
        ("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2", F.digest(base)),
        ("curl", "7.88.1-10", "curl", "7.88.1-10", F.digest(top)),
    }


def test_deinstalled_dpkg_entries_are_not_packages() -> None:
    status = (
        F.dpkg_status(("a", "1", None))
        + b"\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 2\n"
    )
    inv = _index(F.layer({"var/lib/dpkg/status": status}))
    assert [f.package.name for f in inv.packages] == ["a"]


def test_apk_origin_and_a_package_removed_by_a_whiteout() -> None:
    base = F.layer(
        {
            "etc/os-release": F.ALPINE_OS_RELEASE,
            "lib/apk/db/installed": F.apk_installed(
                ("libcrypto3", "3.1.4-r0", "openssl"), ("busybox", "1.36.1-r15", "busybox")
            ),
            F.REQUESTS_PATH: F.REQUESTS_METADATA,
            "app/node_modules/lodash/package.json": b'{"name": "lodash", "version": "4.17.20"}',
            "app/node_modules/@scope/thing/package.json": F.PRIVATE_NPM,
        }
    )
    # The next layer deletes the Python distribution (whiteout of its folder) and empties
    # node_modules (an opaque directory).
    top = F.layer(
        {
            F.REQUESTS_PATH.rsplit("/", 1)[0]: None,
            "app/node_modules": "opaque",
        }
    )
    inv_base = _index(base)
    assert {(f.package.kind, f.package.name) for f in inv_base.packages} == {
        ("apk", "libcrypto3"),
        ("apk", "busybox"),
        ("pypi", "requests"),
        ("npm", "lodash"),
    }
    inv = _index(base, top)
    assert inv.distribution is not None
    assert inv.distribution.namespaces() == ["alpine:3.19"]
    assert {(f.package.kind, f.package.name, f.package.source_name) for f in inv.packages} == {
        ("apk", "libcrypto3", "openssl"),
        ("apk", "busybox", "busybox"),
    }


def test_an_upgraded_package_is_reported_at_its_new_version_and_layer() -> None:
    a = F.layer({"lib/apk/db/installed": F.apk_installed(("busybox", "1.36.1-r15", "busybox"))})
    b = F.layer({"lib/apk/db/installed": F.apk_installed(("busybox", "1.36.1-r16", "busybox"))})
    inv = _index(a, b)
    assert [(f.package.version, f.introduced_in) for f in inv.packages] == [
        ("1.36.1-r16", F.digest(b))
    ]


def test_absolute_paths_are_refused() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("/etc/passwd")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(LayerRejected, match="absolute path"):
        read_layer(io.BytesIO(gzip.compress(buf.getvalue())))


def test_dotdot_paths_are_refused() -> None:
    with pytest.raises(LayerRejected, match=r"'\.\.'"):
        read_layer(io.BytesIO(F.layer({"var/../../escape": b"x"})))


def test_a_decompression_bomb_is_refused() -> None:
    bomb = gzip.compress(F.tar_bytes({"big": b"\0" * (8 * 1024 * 1024)}), compresslevel=9)
    limits = Limits(max_ratio=100, ratio_floor=1024 * 1024)
    with pytest.raises(LayerRejected, match="decompression bomb"):
        read_layer(io.BytesIO(bomb), limits)
    with pytest.raises(LayerRejected, match="decompresses to more than"):
        read_layer(io.BytesIO(bomb), Limits(max_layer_bytes=1024 * 1024))


def test_entry_and_file_caps() -> None:
    many = F.layer({f"f{i}": b"" for i in range(20)})
    with pytest.raises(LayerRejected, match="more than 10 entries"):
        read_layer(io.BytesIO(many), Limits(max_entries=10))
    big = F.layer({"var/lib/dpkg/status": F.dpkg_status(("a", "1", None)) * 100})
    with pytest.raises(LayerRejected, match="larger than"):
        read_layer(io.BytesIO(big), Limits(max_file_bytes=1000))


@pytest.mark.parametrize(
    ("path", "content"),
    [
        (
            "var/lib/dpkg/status",
            b"Package: a\nVersion: 1\nStatus: install ok installed\nthis is not a field\n",
        ),
        ("lib/apk/db/installed", b"P:busybox\nV:1.0-r0\ngarbage line\n"),
        ("var/lib/dpkg/status", b"Package: a\nStatus: install ok installed\n"),
    ],
)
def test_a_malformed_package_database_fails_its_layer(path: str, content: bytes) -> None:
    with pytest.raises(LayerRejected, match="malformed package database"):
        read_layer(io.BytesIO(F.layer({path: content})))


def test_truncated_and_non_tar_layers_are_refused() -> None:
    good = F.layer({"etc/os-release": F.DEBIAN_OS_RELEASE * 1000})
    with pytest.raises(LayerRejected):
        read_layer(io.BytesIO(good[: len(good) // 2]))
    with pytest.raises(LayerRejected):
        read_layer(io.BytesIO(gzip.compress(b"not a tar at all" * 100)))


def test_a_corrupt_rpm_database_fails_its_layer(tmp_path: Path) -> None:
    real = F.rpmdb_sqlite(tmp_path)
    for bad in (b"SQLite format 3\0" + b"\xff" * 200, real[: len(real) // 3]):
        with pytest.raises(LayerRejected, match="malformed package database"):
            read_layer(io.BytesIO(F.layer({"var/lib/rpm/rpmdb.sqlite": bad})))


def test_multi_member_gzip_and_trailing_padding() -> None:
    raw = F.tar_bytes({"etc/os-release": F.DEBIAN_OS_RELEASE, "lib/apk/db/installed": b""})
    half = len(raw) // 2
    data = gzip.compress(raw[:half]) + gzip.compress(raw[half:]) + b"\0" * 512
    got = read_layer(io.BytesIO(data))
    assert set(got.files) == {"etc/os-release", "lib/apk/db/installed"}
