"""Safe unpacking of build contexts: what a hostile archive cannot do."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from berth.builds.context import Limits, check_context, unpack_context
from berth.builds.errors import BadContext

LIMITS = Limits(max_unpacked_bytes=1024 * 1024, max_files=50)
DOCKERFILE = b"FROM scratch\nCOPY . /\n"


def tar(*members: tarfile.TarInfo | tuple[str, bytes], mode: str = "w:gz") -> io.BytesIO:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as t:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                t.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                info.mode = 0o4755 if m[0].endswith(".suid") else 0o644
                t.addfile(info, io.BytesIO(m[1]))
    out.seek(0)
    return out


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def special(name: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info


def refused(data: io.BytesIO, *, dockerfile: str = "Dockerfile", context: str = "") -> str:
    with pytest.raises(BadContext) as e:
        check_context(data, limits=LIMITS, dockerfile_path=dockerfile, context_dir=context)
    return e.value.message


def test_unpacks_files_dirs_and_links_that_stay_inside(tmp_path: Path) -> None:
    data = tar(
        ("Dockerfile", DOCKERFILE),
        ("app/run.sh", b"#!/bin/sh\n"),
        ("bin.suid", b"x"),
        link("app/current", "run.sh"),
        link("top", "app/../app/run.sh"),
        link("hard", "app/run.sh", tarfile.LNKTYPE),
    )
    unpack_context(data, tmp_path / "ctx", limits=LIMITS, dockerfile_path="Dockerfile")
    root = tmp_path / "ctx"
    assert (root / "Dockerfile").read_bytes() == DOCKERFILE
    assert os.readlink(root / "app/current") == "run.sh"
    assert (root / "top").read_bytes() == b"#!/bin/sh\n"
    assert os.stat(root / "hard").st_ino == os.stat(root / "app/run.sh").st_ino
    mode = os.stat(root / "bin.suid").st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID)  # set-id bits never survive


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (("../escape", b"x"), "'..' component"),
        (("a/../../escape", b"x"), "'..' component"),
        (("/etc/passwd", b"x"), "absolute path"),
        (link("l", "/etc/passwd"), "absolute path"),
        (link("l", "../outside"), "outside the context"),
        (link("l", "a/../../outside"), "outside the context"),
        (link("h", "../x", tarfile.LNKTYPE), "'..' component"),
        (link("h", "missing", tarfile.LNKTYPE), "not a file of the context"),
        (special("dev", tarfile.CHRTYPE), "device"),
        (special("fifo", tarfile.FIFOTYPE), "device"),
    ],
)
def test_hostile_members_are_refused(
    member: tarfile.TarInfo | tuple[str, bytes], message: str
) -> None:
    assert message in refused(tar(("Dockerfile", DOCKERFILE), member))


def test_a_link_chain_that_climbs_out_is_refused() -> None:
    # "d" -> "." is harmless alone; "d/d/.." would still be inside by text, but d/.. climbs
    # out of the root once the links are followed
    data = tar(("Dockerfile", DOCKERFILE), link("d", "."), link("e", "d/d/.."))
    assert "outside the context" in refused(data)


def test_writing_through_a_link_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = tar(("Dockerfile", DOCKERFILE), link("l", "sub"), ("sub/x", b"1"), ("l/x", b"evil"))
    with pytest.raises(BadContext, match="inside a symbolic link"):
        unpack_context(data, tmp_path / "ctx", limits=LIMITS, dockerfile_path="Dockerfile")
    assert not any(outside.iterdir())


def test_a_decompression_bomb_stops_at_the_limit() -> None:
    zeros = b"\0" * (8 * 1024 * 1024)
    data = tar(("Dockerfile", DOCKERFILE), ("bomb", zeros))
    assert len(data.getvalue()) < 64 * 1024  # tiny on the wire
    assert "more than 1048576 bytes" in refused(data)


def test_too_many_files() -> None:
    data = tar(("Dockerfile", DOCKERFILE), *((f"f{i}", b"") for i in range(60)))
    assert "more than 50 files" in refused(data)


def test_a_zip_context(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("sub/Dockerfile", DOCKERFILE)
        z.writestr("sub/file.txt", b"hello")
    out.seek(0)
    unpack_context(
        out, tmp_path / "ctx", limits=LIMITS, dockerfile_path="sub/Dockerfile", context_dir="sub"
    )
    assert (tmp_path / "ctx/sub/file.txt").read_bytes() == b"hello"


def test_a_zip_bomb_and_zip_slip_are_refused() -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Dockerfile", DOCKERFILE)
        z.writestr("bomb", b"\0" * (4 * 1024 * 1024))
    bomb.seek(0)
    assert "more than" in refused(bomb)
    slip = io.BytesIO()
    with zipfile.ZipFile(slip, "w") as z:
        z.writestr("Dockerfile", DOCKERFILE)
        z.writestr("../../evil", b"x")
    slip.seek(0)
    assert "'..' component" in refused(slip)


def test_a_dockerfile_alone_lands_at_its_path(tmp_path: Path) -> None:
    unpack_context(
        io.BytesIO(DOCKERFILE), tmp_path / "ctx", limits=LIMITS, dockerfile_path="build/Dockerfile"
    )
    assert (tmp_path / "ctx/build/Dockerfile").read_bytes() == DOCKERFILE


def test_binary_junk_and_a_missing_dockerfile() -> None:
    assert "neither a Dockerfile" in refused(io.BytesIO(b"\x00\x01\x02binary"))
    assert "no Dockerfile at 'other/Dockerfile'" in refused(
        tar(("Dockerfile", DOCKERFILE)), dockerfile="other/Dockerfile"
    )
    assert "context directory 'nope'" in refused(tar(("Dockerfile", DOCKERFILE)), context="nope")


def test_a_header_that_lies_about_its_size_is_refused() -> None:
    raw = tar(("Dockerfile", DOCKERFILE), mode="w").getvalue()
    # a damaged archive (truncated in a member) is refused, not half-read
    assert "damaged" in refused(io.BytesIO(raw[:700])) or "Dockerfile" in refused(
        io.BytesIO(raw[:700])
    )
