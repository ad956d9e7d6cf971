"""Parsers for the files the indexer keeps: os-release and the package databases.

Each parser takes the file's bytes and returns plain records; a database that does not parse
raises ``BadPackageDatabase`` (the layer that brought it is then marked failed).
"""

from __future__ import annotations

import json
import re
import sqlite3
import struct
from dataclasses import dataclass
from email.parser import BytesHeaderParser

from berth.scanner.errors import BadPackageDatabase


@dataclass(frozen=True, slots=True)
class Package:
    kind: str  # deb | apk | rpm | pypi | npm | go
    name: str
    version: str
    source_name: str = ""
    source_version: str = ""
    arch: str = ""
    package_db: str = ""


@dataclass(frozen=True, slots=True)
class Distribution:
    did: str
    version_id: str
    codename: str
    pretty_name: str

    def namespaces(self) -> list[str]:
        """The advisory namespaces this distribution's OS packages are matched in."""
        out: list[str] = []
        if self.did == "debian":
            if self.version_id:
                out.append(f"debian:{self.version_id.split('.')[0]}")
            if self.codename:
                out.append(f"debian:{self.codename}")
        elif self.did == "ubuntu":
            if self.version_id:
                out.append(f"ubuntu:{self.version_id}")
        elif self.did == "alpine":
            if "_alpha" in self.version_id:
                out.append("alpine:edge")
            elif self.version_id:
                out.append("alpine:" + ".".join(self.version_id.split(".")[:2]))
        elif self.did in ("rhel", "rocky", "almalinux", "centos"):
            if self.version_id:
                out.append(f"{self.did}:{self.version_id.split('.')[0]}")
        elif self.did and self.version_id:
            out.append(f"{self.did}:{self.version_id}")
        return out


MAX_DB_RECORDS = 200_000


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("latin-1")
        except UnicodeDecodeError as e:  # pragma: no cover - latin-1 decodes anything
            raise BadPackageDatabase(f"{what}: not text") from e


def parse_os_release(data: bytes) -> Distribution | None:
    """key=value lines, values optionally quoted; ``None`` when there is no ID."""
    values: dict[str, str] = {}
    for raw in _text(data, "os-release").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    did = values.get("ID", "").lower()
    if not did:
        return None
    return Distribution(
        did=did,
        version_id=values.get("VERSION_ID", ""),
        codename=values.get("VERSION_CODENAME", ""),
        pretty_name=values.get("PRETTY_NAME", ""),
    )


def _stanzas(text: str, what: str) -> list[dict[str, str]]:
    """deb822 stanzas: blank-line separated ``Field: value``; continuation lines start with
    whitespace."""
    out: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    last = ""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if cur:
                out.append(cur)
                if len(out) > MAX_DB_RECORDS:
                    raise BadPackageDatabase(f"{what}: more than {MAX_DB_RECORDS} records")
            cur, last = {}, ""
            continue
        if line[0] in " \t":
            if not last:
                raise BadPackageDatabase(f"{what}: line {n}: continuation with no field")
            cur[last] += "\n" + line.strip()
            continue
        field, sep, value = line.partition(":")
        if not sep or not field or " " in field:
            raise BadPackageDatabase(f"{what}: line {n}: not a 'Field: value' line")
        last = field.strip()
        cur[last] = value.strip()
    if cur:
        out.append(cur)
    return out


_SOURCE = re.compile(r"^(\S+)(?:\s+\((\S+)\))?$")


def _deb_package(st: dict[str, str], db: str, what: str) -> Package:
    name, version = st.get("Package", ""), st.get("Version", "")
    if not name or not version:
        raise BadPackageDatabase(f"{what}: a stanza without Package or Version")
    source, source_version = name, ""
    if st.get("Source"):
        m = _SOURCE.match(st["Source"])
        if not m:
            raise BadPackageDatabase(f"{what}: bad Source field {st['Source']!r}")
        source, source_version = m.group(1), m.group(2) or ""
    return Package(
        kind="deb",
        name=name,
        version=version,
        source_name=source,
        source_version=source_version or version,
        arch=st.get("Architecture", ""),
        package_db=db,
    )


def parse_dpkg_status(data: bytes, db: str = "var/lib/dpkg/status") -> list[Package]:
    """The installed packages of a dpkg status file (``Status: ... installed`` only)."""
    out: list[Package] = []
    for st in _stanzas(_text(data, db), db):
        status = st.get("Status", "").split()
        if not status or status[-1] != "installed":
            continue
        out.append(_deb_package(st, db, db))
    return out


def parse_dpkg_status_d(data: bytes, db: str) -> list[Package]:
    """A distroless ``status.d/<name>`` file: one stanza, usually no Status field."""
    out: list[Package] = []
    for st in _stanzas(_text(data, db), db):
        status = st.get("Status", "").split()
        if status and status[-1] != "installed":
            continue
        out.append(_deb_package(st, db, db))
    return out


def parse_apk_installed(data: bytes, db: str = "lib/apk/db/installed") -> list[Package]:
    """apk's installed database: blank-line separated records of ``X:value`` lines."""
    out: list[Package] = []
    cur: dict[str, str] = {}

    def flush() -> None:
        if not cur:
            return
        if not cur.get("P") or not cur.get("V"):
            raise BadPackageDatabase(f"{db}: a record without P: or V:")
        out.append(
            Package(
                kind="apk",
                name=cur["P"],
                version=cur["V"],
                source_name=cur.get("o", cur["P"]),
                source_version=cur["V"],
                arch=cur.get("A", ""),
                package_db=db,
            )
        )
        if len(out) > MAX_DB_RECORDS:
            raise BadPackageDatabase(f"{db}: more than {MAX_DB_RECORDS} records")

    for n, line in enumerate(_text(data, db).splitlines(), 1):
        if not line.strip():
            flush()
            cur = {}
            continue
        if len(line) < 2 or line[1] != ":":
            raise BadPackageDatabase(f"{db}: line {n}: not an 'X:value' line")
        if line[0] in "PVAo" and line[0] not in cur:
            cur[line[0]] = line[2:].strip()
    flush()
    return out


_PEP503 = re.compile(r"[-_.]+")


def pep503(name: str) -> str:
    return _PEP503.sub("-", name).lower()


def parse_python_metadata(data: bytes, db: str) -> Package | None:
    """``*.dist-info/METADATA`` or ``*.egg-info/PKG-INFO``: RFC 822 headers Name and Version."""
    try:
        msg = BytesHeaderParser().parsebytes(data)
    except Exception as e:
        raise BadPackageDatabase(f"{db}: {e}") from e
    name, version = msg.get("Name"), msg.get("Version")
    if not name or not version:
        return None
    return Package(kind="pypi", name=str(name).strip(), version=str(version).strip(), package_db=db)


def parse_npm_package(data: bytes, db: str) -> Package | None:
    """``node_modules/<name>/package.json``: name and version; private packages skipped."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None  # npm tolerates junk package.json files in node_modules; so do we
    if not isinstance(doc, dict) or doc.get("private") is True:
        return None
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None
    return Package(kind="npm", name=name, version=version, package_db=db)


# rpm header tags and types (rpm's lib/rpmtag.h)
_RPM_TAGS = {
    1000: "name",
    1001: "version",
    1002: "release",
    1003: "epoch",
    1022: "arch",
    1044: "sourcerpm",
}
_RPM_INT32, _RPM_STRING, _RPM_I18N = 4, 6, 9


def _rpm_header(blob: bytes, db: str) -> dict[str, str]:
    """The tags Berth reads from one rpm header blob (index entries, then the data store)."""
    try:
        il, dl = struct.unpack_from(">II", blob, 0)
    except struct.error as e:
        raise BadPackageDatabase(f"{db}: a header shorter than 8 bytes") from e
    start = 8 + 16 * il
    if il > 100_000 or start + dl > len(blob):
        raise BadPackageDatabase(f"{db}: a header with bad sizes")
    store = blob[start : start + dl]
    out: dict[str, str] = {}
    for i in range(il):
        tag, typ, off, count = struct.unpack_from(">iIiI", blob, 8 + 16 * i)
        name = _RPM_TAGS.get(tag)
        if name is None:
            continue
        if off < 0 or off >= len(store):
            raise BadPackageDatabase(f"{db}: tag {tag} points outside its header")
        if typ == _RPM_INT32 and count >= 1 and off + 4 <= len(store):
            out[name] = str(struct.unpack_from(">i", store, off)[0])
        elif typ in (_RPM_STRING, _RPM_I18N):
            end = store.find(b"\0", off)
            if end < 0:
                raise BadPackageDatabase(f"{db}: an unterminated string in a header")
            out[name] = store[off:end].decode("utf-8", "replace")
    return out


def parse_rpmdb_sqlite(data: bytes, db: str) -> list[Package]:
    """rpm's sqlite database (RHEL 9, Fedora, UBI 9): ``Packages(hnum, blob)`` header blobs,
    read from memory (never written to disk)."""
    if len(data) >= 20 and data[:16] == b"SQLite format 3\0" and data[18:20] == b"\x02\x02":
        # A WAL-mode file: an in-memory copy must say "rollback journal" to be opened.
        data = data[:18] + b"\x01\x01" + data[20:]
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(data)
        rows = conn.execute("SELECT blob FROM Packages").fetchall()
    except (sqlite3.DatabaseError, ValueError) as e:
        raise BadPackageDatabase(f"{db}: not an rpm sqlite database ({e})") from e
    finally:
        conn.close()
    if len(rows) > MAX_DB_RECORDS:
        raise BadPackageDatabase(f"{db}: more than {MAX_DB_RECORDS} records")
    out: list[Package] = []
    for (blob,) in rows:
        h = _rpm_header(bytes(blob), db)
        if "name" not in h or "version" not in h:
            continue  # gpg-pubkey pseudo packages have them; anything else is skipped
        if h["name"] == "gpg-pubkey":
            continue
        evr = f"{h['version']}-{h.get('release', '')}".rstrip("-")
        if h.get("epoch"):
            evr = f"{h['epoch']}:{evr}"
        source = h.get("sourcerpm", "")
        source_name = source.rsplit("-", 2)[0] if source.count("-") >= 2 else h["name"]
        out.append(
            Package(
                kind="rpm",
                name=h["name"],
                version=evr,
                source_name=source_name,
                source_version=evr,
                arch=h.get("arch", ""),
                package_db=db,
            )
        )
    return out


_GO_MAGIC = b"\xff Go buildinf:"
GO_MARKER = ".berth-go-buildinfo"  # the kept file's name under the binary's path (see layers)


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
    raise ValueError("bad varint")


def go_buildinfo(binary: bytes) -> bytes | None:
    """The Go version and module lines of a Go >= 1.18 binary (inline build info), as the
    small text Berth keeps; ``None`` when there is none (not Go, or the old pointer format)."""
    pos = binary.find(_GO_MAGIC)
    while pos >= 0 and pos % 16:
        pos = binary.find(_GO_MAGIC, pos + 1)
    if pos < 0 or len(binary) < pos + 33 or not binary[pos + 15] & 2:
        return None
    try:
        n, at = _uvarint(binary, pos + 32)
        version = binary[at : at + n]
        n, at = _uvarint(binary, at + n)
        modinfo = binary[at : at + n]
    except ValueError:
        return None
    if len(modinfo) >= 33:
        modinfo = modinfo[16:-16]  # the sentinels around the module information
    return b"go\t" + version + b"\n" + modinfo


def parse_go_buildinfo(data: bytes, db: str) -> list[Package]:
    """The kept text of ``go_buildinfo``: the toolchain as ``stdlib`` and every module."""
    out: list[Package] = []
    mods: list[tuple[str, str]] = []
    for line in _text(data, db).splitlines():
        parts = line.split("\t")
        if parts[0] == "go" and len(parts) >= 2 and parts[1].startswith("go"):
            version = parts[1][2:]
            if version.count(".") == 1 and version.replace(".", "").isdigit():
                version += ".0"  # go1.22 is 1.22.0
            out.append(Package(kind="go", name="stdlib", version=version, package_db=db))
        elif parts[0] in ("mod", "dep") and len(parts) >= 3:
            mods.append((parts[1], parts[2]))
        elif parts[0] == "=>" and len(parts) >= 3 and mods:
            mods[-1] = (parts[1], parts[2])  # a replace directive: the module actually built
    for path, version in mods:
        if version and version != "(devel)":
            out.append(Package(kind="go", name=path, version=version, package_db=db))
    return out
