"""Stream one layer and keep only the files the scanner reads.

The layer is read once, front to back, through ``tarfile`` in stream mode over a gzip or zstd
decompressor (recognised by magic bytes, whatever the media type says); nothing is written
to disk. Caps bound the decompressed size, the compression ratio (a decompression bomb), the
number of entries and the size of each kept file. A layer that breaks one of them, holds an
absolute or ``..`` path, or brings a package database that does not parse, raises
``LayerRejected`` with the reason.
"""

from __future__ import annotations

import gzip
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, cast

import zstandard

from berth.scanner import packages as P
from berth.scanner.errors import BadPackageDatabase, LayerRejected

# Bumped whenever what a layer yields changes: stored with each layer's result.
SCANNER_VERSION = "berth-scanner-2"  # 2: rpm Berkeley DB, Java archives


@dataclass(frozen=True, slots=True)
class Limits:
    max_layer_bytes: int = 10 * 1024**3  # decompressed
    max_ratio: int = 200  # decompressed / compressed, past ``ratio_floor``
    ratio_floor: int = 64 * 1024**2
    max_entries: int = 1_000_000
    max_file_bytes: int = 64 * 1024**2  # a kept file (a package database)


@dataclass(slots=True)
class LayerFiles:
    """What one layer adds and removes, as far as the scanner cares."""

    files: dict[str, bytes] = field(default_factory=dict)  # kept path -> content
    whiteouts: list[str] = field(default_factory=list)  # paths removed from lower layers
    opaque: list[str] = field(default_factory=list)  # directories emptied of lower content
    entries: int = 0
    bytes_read: int = 0


_INTERESTING = (
    re.compile(r"^(etc|usr/lib)/os-release$"),
    re.compile(r"^var/lib/dpkg/status$"),
    re.compile(r"^var/lib/dpkg/status\.d/[^/]+$"),
    re.compile(r"^lib/apk/db/installed$"),
    re.compile(r"^(var/lib/rpm|usr/lib/sysimage/rpm)/rpmdb\.sqlite$"),
    re.compile(r"^var/lib/rpm/Packages$"),
    re.compile(r"^(.+/)?[^/]+\.dist-info/METADATA$"),
    re.compile(r"^(.+/)?[^/]+\.egg-info/PKG-INFO$"),
    re.compile(r"^(.+/)?node_modules/(@[^/]+/)?[^/@]+/package\.json$"),
)


def interesting(path: str) -> bool:
    return any(p.match(path) for p in _INTERESTING)


class _Counted:
    """A reader that counts what passes and enforces the caps on the decompressed side."""

    def __init__(self, inner: BinaryIO, limits: Limits, compressed: _Counted | None) -> None:
        self.inner = inner
        self.limits = limits
        self.compressed = compressed
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        try:
            data = self.inner.read(n)
        except (OSError, EOFError, zlib.error, zstandard.ZstdError) as e:
            raise LayerRejected(f"the layer does not decompress: {e}") from e
        self.count += len(data)
        if self.compressed is not None:
            if self.count > self.limits.max_layer_bytes:
                raise LayerRejected(
                    f"the layer decompresses to more than {self.limits.max_layer_bytes} bytes"
                )
            if self.count > self.limits.ratio_floor and self.count > self.limits.max_ratio * max(
                self.compressed.count, 1
            ):
                raise LayerRejected(
                    f"decompression bomb: the layer expands more than {self.limits.max_ratio} times"
                )
        return data


class _Peek:
    def __init__(self, inner: BinaryIO, head: bytes) -> None:
        self.inner = inner
        self.head = head

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                data, self.head = self.head + self.inner.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            if len(data) < n:
                data += self.inner.read(n - len(data))
            return data
        return self.inner.read(n)


class _Inflate:
    """gzip (every member of a multi-member file) straight through zlib, in 1 MiB reads, with
    the output of one call bounded (a bomb never inflates in one piece); zlib checks each
    member's CRC and size."""

    CHUNK = 1 << 20

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.buf = b""
        self.pos = 0
        self.eof = False

    def _fill(self) -> None:
        if self.d.unconsumed_tail:
            self.buf += self.d.decompress(self.d.unconsumed_tail, 4 * self.CHUNK)
            return
        if self.d.eof:
            rest = self.d.unused_data
            if not rest:
                rest = self.inner.read(self.CHUNK)
                if not rest:
                    self.eof = True
                    return
            if not rest.startswith(b"\x1f\x8b"):
                self.eof = True  # trailing padding after the last member: ignored
                return
            self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)  # the next member
            self.buf += self.d.decompress(rest, 4 * self.CHUNK)
            return
        chunk = self.inner.read(self.CHUNK)
        if not chunk:
            raise EOFError("the gzip stream ends before its end marker")
        self.buf += self.d.decompress(chunk, 4 * self.CHUNK)

    def read(self, n: int = -1) -> bytes:
        while not self.eof and (n < 0 or len(self.buf) - self.pos < n):
            if self.pos:
                self.buf, self.pos = self.buf[self.pos :], 0
            self._fill()
        end = len(self.buf) if n < 0 else min(len(self.buf), self.pos + n)
        data = self.buf[self.pos : end] if self.pos or end < len(self.buf) else self.buf
        self.pos = end
        return data


def _decompressed(raw: BinaryIO, limits: Limits) -> _Counted:
    compressed = _Counted(raw, limits, None)
    head = compressed.read(4)
    peek = cast(BinaryIO, _Peek(cast(BinaryIO, compressed), head))
    inner: BinaryIO
    if head[:2] == b"\x1f\x8b":
        inner = cast(BinaryIO, _Inflate(peek))
    elif head == b"\x28\xb5\x2f\xfd":
        inner = cast(BinaryIO, zstandard.ZstdDecompressor().stream_reader(peek))
    else:
        inner = peek
    return _Counted(inner, limits, compressed)


def _clean(name: str) -> str:
    """The member's path relative to the root, or ``LayerRejected``."""
    if name.startswith("/"):
        raise LayerRejected(f"absolute path in the layer: {name[:200]!r}")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerRejected(f"'..' in a path of the layer: {name[:200]!r}")
    return "/".join(parts)


def _check(path: str, data: bytes) -> None:
    """Parse a kept package database now so a malformed one fails its own layer."""
    try:
        if path == "var/lib/dpkg/status":
            P.parse_dpkg_status(data, path)
        elif path.startswith("var/lib/dpkg/status.d/"):
            if not path.endswith((".md5sums", ".md5")):
                P.parse_dpkg_status_d(data, path)
        elif path == "lib/apk/db/installed":
            P.parse_apk_installed(data, path)
        elif path.endswith("/rpmdb.sqlite"):
            P.parse_rpmdb_sqlite(data, path)
        elif path == "var/lib/rpm/Packages":
            P.parse_rpmdb_bdb(data, path)
        elif path.endswith(("/METADATA", "/PKG-INFO")):
            P.parse_python_metadata(data, path)
    except BadPackageDatabase as e:
        raise LayerRejected(f"malformed package database: {e}") from e


def read_layer(raw: BinaryIO, limits: Limits = Limits()) -> LayerFiles:
    """Stream the (possibly compressed) tar in ``raw``; raise ``LayerRejected`` on bad input."""
    out = LayerFiles()
    stream = _decompressed(raw, limits)
    try:
        with tarfile.open(fileobj=stream, mode="r|", bufsize=1 << 20) as tar:  # type: ignore[call-overload]
            for member in tar:
                out.entries += 1
                if out.entries > limits.max_entries:
                    raise LayerRejected(f"more than {limits.max_entries} entries in the layer")
                path = _clean(member.name)
                if member.islnk():
                    _clean(member.linkname)
                base = path.rsplit("/", 1)[-1]
                if base.startswith(".wh."):
                    parent = path[: -len(base)].rstrip("/")
                    if base == ".wh..wh..opq":
                        out.opaque.append(parent)
                    else:
                        gone = base[len(".wh.") :]
                        out.whiteouts.append(f"{parent}/{gone}" if parent else gone)
                    continue
                if not member.isfile():
                    continue
                if not interesting(path):
                    if path.lower().endswith(P.JAVA_SUFFIXES):
                        if member.size > limits.max_file_bytes:
                            continue  # not read: too large to hold in memory
                        f = tar.extractfile(member)
                        java = P.java_archive_info(f.read() if f else b"", path)
                        if java is not None:
                            out.files[f"{path}/{P.JAVA_MARKER}"] = java
                        continue
                    if member.mode & 0o111 and 64 < member.size <= limits.max_file_bytes:
                        f = tar.extractfile(member)
                        if f is not None and f.read(4) == b"\x7fELF":
                            info = P.go_buildinfo(b"\x7fELF" + f.read())
                            if info is not None:
                                out.files[f"{path}/{P.GO_MARKER}"] = info
                    continue
                if member.size > limits.max_file_bytes:
                    raise LayerRejected(f"{path} is larger than {limits.max_file_bytes} bytes")
                f = tar.extractfile(member)
                data = f.read() if f is not None else b""
                _check(path, data)
                out.files[path] = data
    except tarfile.TarError as e:
        raise LayerRejected(f"not a tar archive: {e}") from e
    except (EOFError, zlib.error, zstandard.ZstdError, gzip.BadGzipFile) as e:
        raise LayerRejected(f"the layer does not decompress: {e}") from e
    out.bytes_read = stream.count
    return out
