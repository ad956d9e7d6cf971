"""Parsers for the files the indexer keeps: os-release and the package databases.

Each parser takes the file's bytes and returns plain records; a database that does not parse
raises ``BadPackageDatabase`` (the layer that brought it is then marked failed).
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import struct
import zipfile
from dataclasses import dataclass
from email.parser import BytesHeaderParser

from berth.scanner.errors import BadPackageDatabase


@dataclass(frozen=True, slots=True)
class Package:
    kind: str  # deb | apk | rpm | pypi | npm | go | maven
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
                if self.did == "centos":  # built from RHEL's sources: RHEL's data applies
                    out.append(f"rhel:{self.version_id.split('.')[0]}")
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
    return _rpm_packages([bytes(blob) for (blob,) in rows], db)


def _rpm_packages(blobs: list[bytes], db: str) -> list[Package]:
    """Packages from rpm header blobs (any backend)."""
    if len(blobs) > MAX_DB_RECORDS:
        raise BadPackageDatabase(f"{db}: more than {MAX_DB_RECORDS} records")
    out: list[Package] = []
    for blob in blobs:
        h = _rpm_header(blob, db)
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


# ---- rpm's Berkeley DB ``Packages`` (RHEL/CentOS <= 8, UBI 8, Amazon Linux 2) ----------------
# A read-only walk of a BDB hash database, from the file format (page layouts in Berkeley DB's
# dbinc/db_page.h, as documented): page 0 is the metadata page (magic 0x061561 at byte 12,
# its byte order telling the file's; page size at 20; last page number at 32; encryption
# algorithm at 24). Every hash page (type 13, or 2 for unsorted) holds an index of 16-bit
# item offsets after its 26-byte header; items alternate key, data. An item is inline
# (H_KEYDATA, type 1: the bytes up to the previous item) or H_OFFPAGE (type 3: first
# overflow page at 4, total length at 8); overflow pages (type 7) chain through ``next_pgno``
# (16) and hold ``hf_offset`` (22) bytes from 26. Keys are the header instance numbers
# (number 0 is rpm's counter, not a header); values are header blobs.
_BDB_HASH_MAGIC = 0x061561
_P_HASH_UNSORTED, _P_OVERFLOW, _P_HASH = 2, 7, 13
_H_KEYDATA, _H_OFFPAGE = 1, 3
_BDB_PAGE_HEADER = 26


def bdb_hash_values(data: bytes, db: str) -> list[tuple[bytes, bytes]]:
    """Every (key, value) pair of a Berkeley DB hash file, or ``BadPackageDatabase``."""
    if len(data) < 512:
        raise BadPackageDatabase(f"{db}: too short for a Berkeley DB file")
    for order in ("<", ">"):
        if struct.unpack_from(order + "I", data, 12)[0] == _BDB_HASH_MAGIC:
            break
    else:
        raise BadPackageDatabase(f"{db}: not a Berkeley DB hash database")
    u16, u32 = struct.Struct(order + "H"), struct.Struct(order + "I")
    pagesize = u32.unpack_from(data, 20)[0]
    if pagesize < 512 or pagesize > 65536 or pagesize & (pagesize - 1):
        raise BadPackageDatabase(f"{db}: bad page size {pagesize}")
    if data[24] != 0:
        raise BadPackageDatabase(f"{db}: an encrypted Berkeley DB database")
    npages = len(data) // pagesize
    last = min(u32.unpack_from(data, 32)[0], npages - 1)

    def overflow(pgno: int, total: int) -> bytes:
        out = bytearray()
        seen: set[int] = set()
        while pgno and len(out) < total:
            if pgno in seen or pgno > last:
                raise BadPackageDatabase(f"{db}: a broken overflow chain at page {pgno}")
            seen.add(pgno)
            base = pgno * pagesize
            if data[base + 25] != _P_OVERFLOW:
                raise BadPackageDatabase(f"{db}: page {pgno} is not an overflow page")
            used = u16.unpack_from(data, base + 22)[0]
            if used > pagesize - _BDB_PAGE_HEADER:
                raise BadPackageDatabase(f"{db}: overflow page {pgno} claims {used} bytes")
            out += data[base + _BDB_PAGE_HEADER : base + _BDB_PAGE_HEADER + used]
            pgno = u32.unpack_from(data, base + 16)[0]
        if len(out) != total:
            raise BadPackageDatabase(f"{db}: an overflow item of {len(out)} bytes, not {total}")
        return bytes(out)

    def item(page: bytes, i: int, offsets: list[int]) -> bytes:
        off = offsets[i]
        end = offsets[i - 1] if i > 0 else pagesize
        if not _BDB_PAGE_HEADER <= off < end <= pagesize:
            raise BadPackageDatabase(f"{db}: an item outside its page")
        kind = page[off]
        if kind == _H_KEYDATA:
            return page[off + 1 : end]
        if kind == _H_OFFPAGE and off + 12 <= end:
            pgno, total = u32.unpack_from(page, off + 4)[0], u32.unpack_from(page, off + 8)[0]
            if total > 64 * 1024**2:
                raise BadPackageDatabase(f"{db}: an item of {total} bytes")
            return overflow(pgno, total)
        raise BadPackageDatabase(f"{db}: an item of unsupported type {kind}")

    pairs: list[tuple[bytes, bytes]] = []
    for pgno in range(1, last + 1):
        page = data[pgno * pagesize : (pgno + 1) * pagesize]
        if page[25] not in (_P_HASH, _P_HASH_UNSORTED):
            continue
        entries = u16.unpack_from(page, 20)[0]
        if entries % 2 or _BDB_PAGE_HEADER + 2 * entries > pagesize:
            raise BadPackageDatabase(f"{db}: page {pgno} has a bad item count")
        offsets = [u16.unpack_from(page, _BDB_PAGE_HEADER + 2 * i)[0] for i in range(entries)]
        for i in range(0, entries, 2):
            pairs.append((item(page, i, offsets), item(page, i + 1, offsets)))
            if len(pairs) > MAX_DB_RECORDS:
                raise BadPackageDatabase(f"{db}: more than {MAX_DB_RECORDS} records")
    return pairs


def parse_rpmdb_bdb(data: bytes, db: str) -> list[Package]:
    """rpm's Berkeley DB ``Packages`` file: header blobs keyed by instance number."""
    blobs = [value for key, value in bdb_hash_values(data, db) if key.strip(b"\0")]
    return _rpm_packages(blobs, db)


# ---- Java archives -----------------------------------------------------------------------------
JAVA_MARKER = ".berth-java-archive"  # the kept file's name under the archive's path (see layers)
JAVA_SUFFIXES = (".jar", ".war", ".ear", ".jpi", ".hpi", ".par", ".sar")
_JAVA_MAX_DEPTH = 3  # an ear holding a war holding jars
_JAVA_MAX_NESTED = 64 * 1024**2  # bytes of one nested archive read into memory
_JAVA_MAX_ENTRIES = 200_000
_JAVA_SMALL = 1024**2  # pom.properties and MANIFEST.MF


def _properties(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        key, sep, value = line.partition("=")
        if not sep:
            key, sep, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def _manifest(text: str) -> dict[str, str]:
    """MANIFEST.MF's main section (continuation lines start with one space)."""
    out: dict[str, str] = {}
    last = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            break  # the main section ends at the first blank line
        if line.startswith(" ") and last:
            out[last] += line[1:]
            continue
        key, sep, value = line.partition(":")
        if sep:
            last = key.strip()
            out[last] = value.strip()
    return out


def _java_walk(data: bytes, where: str, depth: int, found: list[dict[str, str]]) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # not a readable archive: nothing to report
    if len(infos) > _JAVA_MAX_ENTRIES:
        return
    poms: list[dict[str, str]] = []
    manifest: dict[str, str] = {}
    nested: list[zipfile.ZipInfo] = []
    for info in infos:
        name = info.filename
        try:
            if (
                name.startswith("META-INF/maven/")
                and name.endswith("/pom.properties")
                and info.file_size <= _JAVA_SMALL
            ):
                props = _properties(zf.read(info).decode("utf-8", "replace"))
                if props.get("groupId") and props.get("artifactId") and props.get("version"):
                    poms.append(props)
            elif name == "META-INF/MANIFEST.MF" and info.file_size <= _JAVA_SMALL:
                manifest = _manifest(zf.read(info).decode("utf-8", "replace"))
            elif (
                name.lower().endswith(JAVA_SUFFIXES)
                and depth < _JAVA_MAX_DEPTH
                and info.file_size <= _JAVA_MAX_NESTED
            ):
                nested.append(info)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError):
            continue
    for props in poms:
        found.append(
            {
                "name": f"{props['groupId']}:{props['artifactId']}",
                "version": props["version"],
                "where": where,
            }
        )
    if not poms:
        group = manifest.get("Implementation-Vendor-Id", "")
        artifact = manifest.get("Implementation-Title", "")
        version = manifest.get("Implementation-Version", "")
        if group and artifact and version and " " not in artifact:
            found.append({"name": f"{group}:{artifact}", "version": version, "where": where})
    for info in nested:
        try:
            inner = zf.read(info)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            continue
        _java_walk(inner, f"{where}!/{info.filename}", depth + 1, found)


def java_archive_info(data: bytes, path: str) -> bytes | None:
    """The Maven coordinates in a Java archive (and the archives nested in it: a war's
    ``WEB-INF/lib``, a Spring Boot jar's ``BOOT-INF/lib``, an ear's modules), as the small
    JSON Berth keeps; ``None`` when there are none. From ``META-INF/maven/<g>/<a>/
    pom.properties``; without one, from MANIFEST.MF's ``Implementation-Vendor-Id``,
    ``-Title`` and ``-Version``. An archive that does not open is skipped."""
    found: list[dict[str, str]] = []
    _java_walk(data, path, 0, found)
    return json.dumps(found, sort_keys=True).encode() if found else None


def parse_java_info(data: bytes, path: str) -> list[Package]:
    try:
        items = json.loads(data)
    except ValueError as e:
        raise BadPackageDatabase(f"{path}: bad Java archive summary") from e
    return [
        Package(kind="maven", name=i["name"], version=i["version"], package_db=i["where"])
        for i in items
        if isinstance(i, dict) and i.get("name") and i.get("version")
    ]


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
