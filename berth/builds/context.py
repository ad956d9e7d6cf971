"""Safe unpacking of a build context, before anything runs.

A context is a Dockerfile alone, or a tar (plain, gzip, bzip2 or xz) or zip archive. Every
member is checked before a byte is written, and the archive is refused as a whole
(``BadContext``, with the member and the reason) when:

* a path is absolute, has a ``..`` component, or passes through a symbolic link (a member
  written through a link could land anywhere the link points);
* a symbolic or hard link points outside the context (the target is resolved as the
  filesystem would, following the links already in the archive);
* a member is a device, FIFO or anything but a file, directory or link;
* the unpacked size passes ``max_unpacked_bytes`` or the member count ``max_files`` (a
  decompression bomb stops there: sizes are checked from headers before reading, and the
  bytes written are counted);
* the Dockerfile named by the request isn't in it.

``check_context`` does the checks without writing (the API calls it before queueing a
build, so a bad upload is refused with 400 and nothing queued); ``unpack_context`` checks
and writes into an empty directory: regular files without set-id bits (mode & 0o755 plus
the owner's write bit), directories, and the links that passed.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from berth.builds.errors import BadContext

MAX_LINK_DEPTH = 40
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_unpacked_bytes: int
    max_files: int


@dataclass
class _Member:
    path: str  # normalized, relative, no trailing slash
    kind: str  # "file" | "dir" | "symlink" | "hardlink"
    size: int = 0
    mode: int = 0o644
    target: str = ""  # link target (symlink: as written; hardlink: normalized path)


def sniff(data: bytes) -> str:
    """``tar``, ``zip`` or ``dockerfile`` (text), from the first bytes; BadContext else."""
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return "zip"
    if data[:2] == b"\x1f\x8b" or data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00":
        return "tar"
    if len(data) >= 262 and data[257:262] == b"ustar":
        return "tar"
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError:
        raise BadContext(
            "the context is neither a Dockerfile (text) nor a tar, tar.gz or zip archive"
        ) from None
    if b"\x00" in data[:65536]:
        raise BadContext(
            "the context is neither a Dockerfile (text) nor a tar, tar.gz or zip archive"
        )
    return "dockerfile"


def normalize(name: str, *, what: str = "member") -> str:
    """A member's path as a clean relative path; BadContext when absolute or with ``..``."""
    if name.startswith("/") or name.startswith("\\") or (len(name) > 1 and name[1] == ":"):
        raise BadContext(f"{what} {name!r} has an absolute path")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BadContext(f"{what} {name!r} has a '..' component")
    if any("\x00" in p for p in parts):
        raise BadContext(f"{what} {name!r} has a NUL byte")
    return "/".join(parts)


def context_path(raw: str, *, what: str) -> str:
    """A path the request names inside the context (``/``, ``sub/dir``, ``/Dockerfile``):
    normalized relative, refused when it climbs out."""
    return normalize(raw.lstrip("/"), what=what) if raw.strip("/") else ""


class _Tree:
    """The members seen so far, to resolve links as the filesystem would."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.kinds: dict[str, str] = {"": "dir"}
        self.links: dict[str, str] = {}
        self.total = 0
        self.count = 0

    def resolve(self, path: str, *, depth: int = 0) -> str | None:
        """The real path ``path`` names (links followed); None when it leaves the root."""
        if depth > MAX_LINK_DEPTH:
            return None
        out: list[str] = []
        parts = [p for p in path.split("/") if p not in ("", ".")]
        for i, part in enumerate(parts):
            if part == "..":
                if not out:
                    return None
                out.pop()
                continue
            out.append(part)
            here = "/".join(out)
            target = self.links.get(here)
            if target is not None:
                base = "/".join(out[:-1])
                if target.startswith("/"):
                    return None
                joined = posixpath.join(base, target) if base else target
                resolved = self.resolve(joined, depth=depth + 1)
                if resolved is None:
                    return None
                out = resolved.split("/") if resolved else []
            elif i < len(parts) - 1 and here in self.kinds and self.kinds[here] != "dir":
                return None  # a file used as a directory: refuse rather than guess
        return "/".join(out)

    def add(self, m: _Member) -> None:
        self.count += 1
        if self.count > self.limits.max_files:
            raise BadContext(f"the context has more than {self.limits.max_files} files")
        parent = posixpath.dirname(m.path)
        probe = ""
        for part in parent.split("/") if parent else []:
            probe = f"{probe}/{part}" if probe else part
            if probe in self.links:
                raise BadContext(f"member {m.path!r} is inside a symbolic link ({probe!r})")
            if self.kinds.setdefault(probe, "dir") != "dir":
                raise BadContext(f"member {m.path!r} is inside a file ({probe!r})")
        if m.path == "":
            return  # the root itself ("./")
        if m.kind == "symlink":
            if not m.target:
                raise BadContext(f"symbolic link {m.path!r} has an empty target")
            if m.target.startswith("/"):
                raise BadContext(
                    f"symbolic link {m.path!r} points to an absolute path ({m.target!r})"
                )
            target = posixpath.join(parent, m.target) if parent else m.target
            if self.resolve(target) is None:
                raise BadContext(
                    f"symbolic link {m.path!r} points outside the context ({m.target!r})"
                )
            self.links[m.path] = m.target
        elif m.kind == "hardlink":
            if self.kinds.get(m.target) != "file":
                raise BadContext(
                    f"hard link {m.path!r} points to {m.target!r}, not a file of the context"
                )
        elif m.kind == "file":
            self.total += m.size
            if self.total > self.limits.max_unpacked_bytes:
                raise BadContext(
                    f"the context unpacks to more than {self.limits.max_unpacked_bytes} bytes"
                )
        if m.kind != "symlink":
            self.links.pop(m.path, None)
        self.kinds[m.path] = "file" if m.kind == "hardlink" else m.kind


# ---- readers: each yields members, and for files a stream of their bytes -------------------
def _tar_members(fileobj: IO[bytes]) -> Iterator[tuple[_Member, IO[bytes] | None]]:
    try:
        tar = tarfile.open(fileobj=fileobj, mode="r|*")  # noqa: SIM115  # closed below
    except (tarfile.TarError, EOFError, OSError) as e:
        raise BadContext(f"the context is not a readable archive: {e}") from None
    try:
        while True:
            try:
                info = tar.next()
            except (tarfile.TarError, EOFError, OSError, ValueError) as e:
                raise BadContext(f"the archive is damaged: {e}") from None
            if info is None:
                return
            path = normalize(info.name)
            if info.isreg():
                member = _Member(path, "file", info.size, info.mode)
                yield member, tar.extractfile(info)
            elif info.isdir():
                yield _Member(path, "dir", mode=info.mode), None
            elif info.issym():
                yield _Member(path, "symlink", target=info.linkname), None
            elif info.islnk():
                yield _Member(path, "hardlink", target=normalize(info.linkname)), None
            else:
                raise BadContext(f"member {info.name!r} is a device, FIFO or other special file")
    finally:
        tar.close()


def _zip_members(fileobj: IO[bytes]) -> Iterator[tuple[_Member, IO[bytes] | None]]:
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise BadContext(f"the zip archive is damaged: {e}") from None
    with archive:
        for info in archive.infolist():
            path = normalize(info.filename)
            mode = (info.external_attr >> 16) & 0xFFFF
            if info.is_dir():
                yield _Member(path, "dir", mode=0o755), None
            elif stat.S_ISLNK(mode):
                if info.file_size > 4096:
                    raise BadContext(f"symbolic link {info.filename!r} has a too long target")
                target = archive.read(info).decode("utf-8", "replace")
                yield _Member(path, "symlink", target=target), None
            elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # 0: no type bits (a plain file)
                raise BadContext(f"member {info.filename!r} is a device, FIFO or special file")
            else:
                try:
                    stream = archive.open(info)
                except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as e:
                    raise BadContext(f"member {info.filename!r}: {e}") from None
                yield _Member(path, "file", info.file_size, stat.S_IMODE(mode) or 0o644), stream


def _members(
    data: IO[bytes], kind: str, dockerfile_path: str
) -> Iterator[tuple[_Member, IO[bytes] | None]]:
    if kind == "zip":
        yield from _zip_members(data)
    elif kind == "tar":
        yield from _tar_members(data)
    else:
        size = data.seek(0, io.SEEK_END)
        data.seek(0)
        parent = posixpath.dirname(dockerfile_path)
        if parent:
            yield _Member(parent, "dir", mode=0o755), None
        yield _Member(dockerfile_path or "Dockerfile", "file", size, 0o644), data


def _walk(
    data: IO[bytes],
    *,
    limits: Limits,
    dockerfile_path: str,
    context_dir: str,
    dest: Path | None,
) -> None:
    head = data.read(512)
    data.seek(0)
    kind = sniff(head)
    tree = _Tree(limits)
    for member, stream in _members(data, kind, dockerfile_path):
        tree.add(member)
        if dest is None:
            if stream is not None:  # still count what a lying header would hide
                _drain(stream, member, limits, tree)
            continue
        _write(dest, member, stream, limits)
    real_dir = tree.resolve(context_dir)
    if real_dir is None or tree.kinds.get(real_dir) != "dir":
        raise BadContext(f"the context directory {context_dir!r} is not in the archive")
    real = tree.resolve(dockerfile_path)
    if real is None or tree.kinds.get(real) != "file":
        raise BadContext(f"no Dockerfile at {dockerfile_path!r} in the context")


def _drain(stream: IO[bytes], member: _Member, limits: Limits, tree: _Tree) -> None:
    seen = 0
    while chunk := stream.read(_CHUNK):
        seen += len(chunk)
        if seen > member.size:
            raise BadContext(f"member {member.path!r} holds more bytes than its header says")


def _write(dest: Path, member: _Member, stream: IO[bytes] | None, limits: Limits) -> None:
    target = dest / member.path if member.path else dest
    if member.kind == "dir":
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        if target.is_dir() and not target.is_symlink():
            raise BadContext(f"member {member.path!r} replaces a directory")
        target.unlink()
    if member.kind == "symlink":
        os.symlink(member.target, target)
    elif member.kind == "hardlink":
        os.link(dest / member.target, target, follow_symlinks=False)
    else:
        assert stream is not None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        mode = (member.mode & 0o755) | 0o600
        fd = os.open(target, flags, mode)
        written = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(_CHUNK):
                written += len(chunk)
                if written > member.size:
                    raise BadContext(
                        f"member {member.path!r} holds more bytes than its header says"
                    )
                out.write(chunk)
        os.chmod(target, mode)


def check_context(
    data: IO[bytes], *, limits: Limits, dockerfile_path: str, context_dir: str = ""
) -> None:
    """Every check of ``unpack_context`` without writing anything (BadContext)."""
    _walk(data, limits=limits, dockerfile_path=dockerfile_path, context_dir=context_dir, dest=None)


def unpack_context(
    data: IO[bytes], dest: Path, *, limits: Limits, dockerfile_path: str, context_dir: str = ""
) -> None:
    """Check and unpack into ``dest`` (an empty directory). On BadContext, ``dest`` may hold
    part of the context: the caller removes it."""
    dest.mkdir(parents=True, exist_ok=True)
    _walk(data, limits=limits, dockerfile_path=dockerfile_path, context_dir=context_dir, dest=dest)
