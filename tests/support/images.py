"""Build OCI image layouts offline, for tests (stdlib only, no network).

``write_oci_layout`` writes a directory in the OCI image layout format (``oci-layout``,
``index.json``, ``blobs/sha256/...``) that skopeo, oras, crane, umoci and buildah can read,
e.g. ``skopeo copy --all oci:DIR:TAG docker://127.0.0.1:5000/repo:TAG``.

Layers are real gzip-compressed tars holding one file of random (incompressible, so the
size on the wire is about the size asked for) bytes, deterministic for a given seed.
Layers are streamed to disk, so a multi-gigabyte layer costs no memory.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
CREATED = "2024-01-01T00:00:00Z"
MTIME = 1704067200  # CREATED as a unix time
CHUNK = 1 << 20


# ----------------------------------------------------------------------------- descriptors


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def to_json(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


@dataclass(frozen=True)
class Image:
    """One image manifest of a layout, with its config and layers."""

    platform: str  # "linux/amd64", "linux/arm64/v8"
    manifest: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...]
    diff_ids: tuple[str, ...]


@dataclass(frozen=True)
class OciLayout:
    """What ``write_oci_layout`` wrote for one tag."""

    path: Path
    tag: str
    digest: str  # of the manifest (single image) or of the image index (several platforms)
    media_type: str  # OCI_MANIFEST or OCI_INDEX
    size: int
    images: tuple[Image, ...]

    @property
    def reference(self) -> str:
        """The skopeo/buildah transport reference, ``oci:<path>:<tag>``."""
        return f"oci:{self.path}:{self.tag}"

    @property
    def is_index(self) -> bool:
        return self.media_type == OCI_INDEX

    def blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        return self.path / "blobs" / algorithm / hexdigest

    def blob(self, digest: str) -> bytes:
        return self.blob_path(digest).read_bytes()

    @property
    def layer_bytes(self) -> int:
        """Compressed size of all distinct layers."""
        seen = {layer.digest: layer.size for image in self.images for layer in image.layers}
        return sum(seen.values())


class Layer(NamedTuple):
    """A gzip-compressed layer tar on disk: unpacks as ``(path, digest, diff_id)``."""

    path: Path
    digest: str  # sha256 of the compressed blob
    diff_id: str  # sha256 of the uncompressed tar

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def descriptor(self) -> Descriptor:
        return Descriptor(OCI_LAYER_GZIP, self.digest, self.size)


# ----------------------------------------------------------------------------- layers


class _HashingWriter(io.RawIOBase):
    """Write-only stream that hashes and counts what passes through to ``target``."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha256.update(view)
        self._target.write(view)
        self.count += len(view)
        return len(view)


class _RandomReader(io.RawIOBase):
    """``size`` pseudo-random bytes from ``rng``, produced as they are read."""

    def __init__(self, rng: random.Random, size: int) -> None:
        self._rng = rng
        self._left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self._left
        n = min(n, self._left)
        self._left -= n
        return self._rng.randbytes(n) if n else b""


@dataclass(frozen=True)
class _Entry:
    name: str
    kind: str  # "dir", "file", "symlink"
    mode: int
    size: int = 0
    source: IO[bytes] | None = None
    target: str = ""


def _write_layer(out: IO[bytes], entries: Iterable[_Entry]) -> tuple[str, str]:
    """Stream a gzip'd tar of ``entries`` into ``out``; return (digest, diff_id)."""
    blob = _HashingWriter(out)
    with gzip.GzipFile(filename="", mode="wb", fileobj=blob, compresslevel=1, mtime=0) as gz:
        raw = _HashingWriter(gz)
        with tarfile.open(
            fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT, copybufsize=CHUNK
        ) as tar:
            for entry in entries:
                info = tarfile.TarInfo(entry.name)
                info.mtime = MTIME
                info.mode = entry.mode
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                if entry.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif entry.kind == "symlink":
                    info.type = tarfile.SYMTYPE
                    info.linkname = entry.target
                    tar.addfile(info)
                else:
                    info.size = entry.size
                    tar.addfile(info, entry.source)
    return "sha256:" + blob.sha256.hexdigest(), "sha256:" + raw.sha256.hexdigest()


def _random_entries(size: int, seed: int) -> list[_Entry]:
    rng = random.Random(seed)
    return [
        _Entry("data", "dir", 0o755),
        _Entry(f"data/layer-{seed}.bin", "file", 0o644, size, _RandomReader(rng, size)),
    ]


def _store(directory: Path, entries: Iterable[_Entry]) -> Layer:
    """Write a layer into ``directory`` named by its digest's hex (the blobs/sha256 layout)."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".tmp-layer-{os.getpid()}-{random.getrandbits(64):016x}"
    try:
        with tmp.open("wb") as f:
            digest, diff_id = _write_layer(f, entries)
        final = directory / digest.removeprefix("sha256:")
        tmp.replace(final)
    finally:
        tmp.unlink(missing_ok=True)
    return Layer(final, digest, diff_id)


def make_layer(size: int, seed: int, directory: str | os.PathLike[str]) -> Layer:
    """Write a tar.gz layer with one file of ``size`` random bytes (from ``seed``).

    The blob is streamed into ``directory`` under its sha256 hex; returns
    ``(path, digest, diff_id)``. Same (size, seed) -> same bytes and digests.
    """
    if size < 0:
        raise ValueError("size must be >= 0")
    return _store(Path(directory), _random_entries(size, seed))


def make_layer_bytes(size: int, seed: int) -> tuple[bytes, str, str]:
    """In-memory variant of ``make_layer`` for small layers: ``(blob, digest, diff_id)``."""
    if size < 0:
        raise ValueError("size must be >= 0")
    buf = io.BytesIO()
    digest, diff_id = _write_layer(buf, _random_entries(size, seed))
    return buf.getvalue(), digest, diff_id


def _busybox_entries(busybox: Path) -> list[_Entry]:
    passwd = b"root:x:0:0:root:/root:/bin/sh\n"
    applets = ("sh", "ls", "cat", "echo", "date", "mkdir", "uname", "id", "sleep", "true")
    return [
        _Entry("bin", "dir", 0o755),
        _Entry("etc", "dir", 0o755),
        _Entry("tmp", "dir", 0o1777),
        _Entry("etc/passwd", "file", 0o644, len(passwd), io.BytesIO(passwd)),
        _Entry("bin/busybox", "file", 0o755, busybox.stat().st_size, busybox.open("rb")),
        *(_Entry(f"bin/{a}", "symlink", 0o777, target="busybox") for a in applets),
    ]


# ----------------------------------------------------------------------------- layouts


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def _put(blobs: Path, data: bytes, media_type: str) -> Descriptor:
    hexdigest = hashlib.sha256(data).hexdigest()
    path = blobs / hexdigest
    if not path.exists():
        tmp = blobs / f".tmp-{hexdigest}-{os.getpid()}"
        tmp.write_bytes(data)
        tmp.replace(path)
    return Descriptor(media_type, "sha256:" + hexdigest, len(data))


def _parse_platform(platform: str) -> dict[str, str]:
    parts = platform.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform {platform!r} is not os/arch[/variant]")
    out = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        out["variant"] = parts[2]
    return out


def write_oci_layout(
    path: str | os.PathLike[str],
    *,
    tag: str = "latest",
    layers: Sequence[int] = (1024,),
    platforms: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    seed: int = 1,
    busybox: str | os.PathLike[str] | None = None,
) -> OciLayout:
    """Write (or extend) an OCI image layout at ``path`` with one image tagged ``tag``.

    ``layers``: sizes in bytes of the random-content layers of each image.
    ``platforms``: None for a single ``linux/amd64`` image manifest; a list such as
    ``["linux/amd64", "linux/arm64/v8"]`` for an image index of per-platform manifests, each
    with its own layers. ``labels`` go into the image config, ``annotations`` into the
    manifests (and the index). ``busybox``: path of a static busybox binary put in a first
    base layer (with /bin/sh), so the image runs under podman. Writing another tag into the
    same ``path`` keeps the earlier tags (and replaces an earlier image of the same tag).
    """
    root = Path(path)
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    labels = dict(labels or {})
    annotations = dict(annotations or {})

    base: Layer | None = None
    if busybox is not None:
        entries = _busybox_entries(Path(busybox))
        try:
            base = _store(blobs, entries)
        finally:
            for entry in entries:
                if entry.source is not None:
                    entry.source.close()

    images: list[Image] = []
    for k, platform in enumerate(platforms or ["linux/amd64"]):
        plat = _parse_platform(platform)
        image_layers = [base] if base is not None else []
        image_layers += [
            make_layer(size, seed * 1_000_000 + k * 1000 + i, blobs)
            for i, size in enumerate(layers)
        ]
        config: dict[str, Any] = {
            "created": CREATED,
            **plat,
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["/bin/sh"],
                "Labels": labels,
            },
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in image_layers]},
            "history": [
                {"created": CREATED, "created_by": f"tests.support.images layer {i}"}
                for i in range(len(image_layers))
            ],
        }
        config_desc = _put(blobs, _canonical(config), OCI_CONFIG)
        layer_descs = tuple(layer.descriptor() for layer in image_layers)
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_desc.to_json(),
            "layers": [d.to_json() for d in layer_descs],
        }
        if annotations:
            manifest["annotations"] = annotations
        manifest_desc = _put(blobs, _canonical(manifest), OCI_MANIFEST)
        images.append(
            Image(
                platform=platform,
                manifest=manifest_desc,
                config=config_desc,
                layers=layer_descs,
                diff_ids=tuple(layer.diff_id for layer in image_layers),
            )
        )

    if platforms is None:
        top = images[0].manifest
    else:
        index: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                image.manifest.to_json(platform=_parse_platform(image.platform)) for image in images
            ],
        }
        if annotations:
            index["annotations"] = annotations
        top = _put(blobs, _canonical(index), OCI_INDEX)

    index_path = root / "index.json"
    outer: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    if index_path.exists():
        outer = json.loads(index_path.read_text())
    outer["manifests"] = [
        m for m in outer.get("manifests", []) if m.get("annotations", {}).get(REF_NAME) != tag
    ]
    outer["manifests"].append(top.to_json(annotations={REF_NAME: tag}))
    tmp = root / f".index.json.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(outer, indent=1))
    tmp.replace(index_path)

    return OciLayout(
        path=root,
        tag=tag,
        digest=top.digest,
        media_type=top.media_type,
        size=top.size,
        images=tuple(images),
    )
