#!/usr/bin/env python3
# ruff: noqa
# fmt: off
# Vendored copy of the Berth team's benchmark yardstick, /work/shared/bench/regbench.py
# (the team's own tool, not third-party code), carried here so that `berth bench` works in
# a plain clone (benchmark tooling: outside the berth package, not in the wheel). Unchanged apart from this note: fix it upstream first, then copy it again.
# bench.runner runs it as a subprocess with the venv's python (needs aiohttp).
"""regbench.py - side-by-side OCI distribution API benchmark (A vs B).

Talks the OCI distribution HTTP API directly (aiohttp + stdlib; optional
`wrk` binary for the GET-rate tests) to one or two registries and measures,
interleaving A and B run by run so that the ratio B/A is fair on a noisy box:

  blob_put_mono      monolithic upload (POST + PUT ?digest=) of a --blob-mb blob, MB/s
  blob_put_chunked   chunked upload (POST, PATCH --chunk-mb chunks, PUT), MB/s
  blob_get_c1        streaming GET of that blob, 1 client, MB/s
  blob_get_c8        8 concurrent GETs, aggregate MB/s
  manifest_put       --manifests distinct manifests PUT by tag, concurrency 8, manifests/s
  manifest_get_c1/16/64  GET manifest by tag for --duration s, requests/s
  blob_head_c64      HEAD blob for --duration s at concurrency 64, requests/s
  tags_list          full listing (following Link) of a repo with --tags tags, ms
  catalog            full /v2/_catalog listing (following Link), >= --repos repos, ms
  rss_idle / rss_setup / rss_peak   server resident memory (PID tree) in MB

Every metric is the median of --reps runs. Client CPU (this process + wrk),
server CPU (the given PID tree) and whole-machine CPU are recorded per metric
so a client-bound measurement can be spotted (flag 'C!' in the table).

Auth: --a-user/--a-password for basic auth or the token flow (401 +
WWW-Authenticate: Bearer realm/service/scope -> GET realm?service&scope).
Only loopback URLs are accepted; all loops are bounded in count and time.

Example:
  regbench.py --a http://127.0.0.1:5000 --a-pid auto \\
              --b http://127.0.0.1:8080 --b-pid auto --json out.json
"""
import argparse
import asyncio
import base64
import hashlib
import ipaddress
import json
import os
import random
import re
import resource
import shutil
import socket
import statistics
import sys
import tarfile
import io
import gzip
import tempfile
import time
import urllib.parse

try:
    import aiohttp
except ImportError:  # pragma: no cover
    sys.exit("regbench.py needs aiohttp (pip install aiohttp)")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_ACCEPT = ", ".join([
    OCI_MANIFEST, OCI_INDEX,
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"])
MB = 1024 * 1024
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# metric name -> (unit, higher_is_better, description)
METRICS = {
    "blob_put_mono": ("MB/s", True, "monolithic blob upload"),
    "blob_put_chunked": ("MB/s", True, "chunked blob upload"),
    "blob_get_c1": ("MB/s", True, "blob download, 1 stream"),
    "blob_get_c8": ("MB/s", True, "blob download, 8 streams (aggregate)"),
    "manifest_put": ("mf/s", True, "manifest PUT by tag, conc 8"),
    "manifest_get_c1": ("req/s", True, "manifest GET by tag, conc 1"),
    "manifest_get_c16": ("req/s", True, "manifest GET by tag, conc 16"),
    "manifest_get_c64": ("req/s", True, "manifest GET by tag, conc 64"),
    "blob_head_c64": ("req/s", True, "blob HEAD, conc 64"),
    "tags_list": ("ms", False, "tags list (all pages)"),
    "catalog": ("ms", False, "catalog (all pages)"),
}
WRITE_METRICS = {"blob_put_mono", "blob_put_chunked", "manifest_put"}
MEM_METRICS = {
    "rss_idle": ("MB", False, "server RSS at start (idle)"),
    "rss_setup": ("MB", False, "server RSS after setup (idle)"),
    "rss_peak": ("MB", False, "server RSS peak (sampled, PID tree)"),
    "pss_idle": ("MB", False, "server PSS at start (PID tree)"),
    "pss_setup": ("MB", False, "server PSS after setup"),
    "pss_end": ("MB", False, "server PSS at the end"),
    "procs": ("n", False, "processes in the server's PID tree"),
}


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# safety: loopback only
# --------------------------------------------------------------------------
def assert_loopback(url):
    host = urllib.parse.urlsplit(url).hostname
    if host is None:
        raise SystemExit(f"no host in URL {url!r}")
    try:
        addrs = {ai[4][0] for ai in socket.getaddrinfo(host, None)}
    except socket.gaierror as e:
        raise SystemExit(f"cannot resolve {host}: {e}")
    for a in addrs:
        if not ipaddress.ip_address(a.split("%")[0]).is_loopback:
            raise SystemExit(f"refusing non-loopback address {a} for {url}")


# --------------------------------------------------------------------------
# /proc helpers: PID tree RSS and CPU
# --------------------------------------------------------------------------
def _proc_table():
    kids, stats = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(b")") + 2:].split()
        pid = int(d)
        stats[pid] = rest
        kids.setdefault(int(rest[1]), []).append(pid)
    return kids, stats


def pid_tree(root):
    kids, stats = _proc_table()
    if root not in stats:
        return [], stats
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out, stats


def tree_rss_bytes(root):
    pids, stats = pid_tree(root)
    # field 24 (rss, pages) -> index 21 after the comm field
    return sum(int(stats[p][21]) for p in pids) * PAGE


def tree_cpu_s(root):
    pids, stats = pid_tree(root)
    tot = 0
    for p in pids:
        r = stats[p]
        tot += int(r[11]) + int(r[12])          # utime + stime
        if p == root:
            tot += int(r[13]) + int(r[14])      # + reaped children
    return tot / CLK


def tree_pss_bytes(root):
    """proportional set size of the PID tree (shared pages split between the
    processes sharing them): fairer than summed RSS for forking servers
    (gunicorn/uwsgi workers share the master's pages copy-on-write)."""
    pids, _ = pid_tree(root)
    tot = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        tot += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return tot


def vm_hwm_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def machine_cpu():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def find_listener_pid(url):
    """PID owning the listening socket of url's port (topmost in its tree)."""
    u = urllib.parse.urlsplit(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    inodes = set()
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as f:
                next(f)
                for line in f:
                    p = line.split()
                    if p[3] == "0A" and int(p[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(p[9])
        except OSError:
            pass
    owners = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{d}/fd"):
                try:
                    t = os.readlink(f"/proc/{d}/fd/{fd}")
                except OSError:
                    continue
                if t.startswith("socket:[") and t[8:-1] in inodes:
                    owners.add(int(d))
                    break
        except OSError:
            continue
    if not owners:
        return None
    _, stats = _proc_table()
    tops = [p for p in owners if int(stats.get(p, [0, 0])[1]) not in owners]
    return min(tops or owners)


class CpuMeter:
    """CPU of this client (+ children such as wrk), of the measured server's PID
    tree, of all servers under test, and of the whole machine, as % of one core.
    foreign = machine - client - all servers: load from elsewhere (other
    processes, kernel writeback) that may have disturbed the run."""
    all_pids = []

    def __init__(self, server_pid):
        self.pid = server_pid

    def __enter__(self):
        self.t0 = time.perf_counter()
        self.s0 = resource.getrusage(resource.RUSAGE_SELF)
        self.c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.srv0 = tree_cpu_s(self.pid) if self.pid else None
        self.all0 = sum(tree_cpu_s(p) for p in self.all_pids)
        self.m0 = machine_cpu()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.t0
        s1 = resource.getrusage(resource.RUSAGE_SELF)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cl = (s1.ru_utime - self.s0.ru_utime + s1.ru_stime - self.s0.ru_stime
              + c1.ru_utime - self.c0.ru_utime + c1.ru_stime - self.c0.ru_stime)
        self.wall = wall
        self.client_cpu_pct = 100.0 * cl / wall if wall > 0 else 0.0
        self.server_cpu_pct = (100.0 * (tree_cpu_s(self.pid) - self.srv0) / wall
                               if self.pid else None)
        all1 = sum(tree_cpu_s(p) for p in self.all_pids)
        m1 = machine_cpu()
        dt = m1[1] - self.m0[1]
        self.machine_busy_pct = (100.0 * os.cpu_count() * (m1[0] - self.m0[0]) / dt
                                 if dt > 0 else None)
        self.foreign_cpu_pct = None
        if self.machine_busy_pct is not None and wall > 0:
            self.foreign_cpu_pct = max(0.0, self.machine_busy_pct - self.client_cpu_pct
                                       - 100.0 * (all1 - self.all0) / wall)
        return False

    def as_dict(self):
        return {"wall_s": round(self.wall, 4),
                "client_cpu_pct": round(self.client_cpu_pct, 1),
                "server_cpu_pct": None if self.server_cpu_pct is None else round(self.server_cpu_pct, 1),
                "machine_busy_pct": None if self.machine_busy_pct is None else round(self.machine_busy_pct, 1),
                "foreign_cpu_pct": None if self.foreign_cpu_pct is None else round(self.foreign_cpu_pct, 1)}


# --------------------------------------------------------------------------
# auth: basic or bearer token flow
# --------------------------------------------------------------------------
def parse_challenge(h):
    if not h:
        return None, {}
    scheme, _, rest = h.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


class Auth:
    def __init__(self, base, user, password):
        self.base = base
        self.basic = None
        if user is not None:
            self.basic = "Basic " + base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        self.kind = None         # None (unknown), 'none', 'basic', 'bearer'
        self.params = {}
        self.tokens = {}         # scope -> (header, expiry)

    async def probe(self, session):
        async with session.get(self.base + "/v2/", allow_redirects=False) as r:
            await r.read()
            if r.status == 401:
                self.kind, self.params = parse_challenge(r.headers.get("WWW-Authenticate"))
                if self.kind not in ("basic", "bearer"):
                    raise RuntimeError(f"unsupported auth challenge: {r.headers.get('WWW-Authenticate')}")
            elif r.status == 200:
                self.kind = "none"
            else:
                raise RuntimeError(f"GET /v2/ -> {r.status}")

    async def header(self, session, scope):
        if self.kind is None:
            await self.probe(session)
        if self.kind == "none":
            return None
        if self.kind == "basic":
            return self.basic
        tok = self.tokens.get(scope)
        if tok and tok[1] > time.time() + 5:
            return tok[0]
        realm = self.params.get("realm")
        assert_loopback(realm)
        q = []
        if self.params.get("service"):
            q.append(("service", self.params["service"]))
        for sc in (scope or "").split():
            q.append(("scope", sc))
        hdr = {"Authorization": self.basic} if self.basic else {}
        async with session.get(realm, params=q, headers=hdr, allow_redirects=False) as r:
            body = await r.read()
            if r.status != 200:
                raise RuntimeError(f"token endpoint {realm} -> {r.status}: {body[:200]!r}")
        j = json.loads(body)
        token = j.get("token") or j.get("access_token")
        ttl = int(j.get("expires_in") or 60)
        self.tokens[scope] = ("Bearer " + token, time.time() + ttl)
        return self.tokens[scope][0]

    def invalidate(self, scope):
        self.tokens.pop(scope, None)


# --------------------------------------------------------------------------
# a registry under test
# --------------------------------------------------------------------------
class Target:
    def __init__(self, label, url, pid, user, password):
        self.label = label
        self.url = url.rstrip("/")
        self.pid = pid
        self.auth = Auth(self.url, user, password)
        self.session = None
        self.mem = {"max": 0, "phase_max": 0}
        self.state = {}

    async def open(self):
        conn = aiohttp.TCPConnector(limit=0, force_close=False, enable_cleanup_closed=True)
        self.session = aiohttp.ClientSession(
            connector=conn, auto_decompress=False, read_bufsize=1 << 20,
            timeout=aiohttp.ClientTimeout(total=None, connect=30, sock_read=300),
            headers={"User-Agent": "regbench/1"})

    async def close(self):
        if self.session:
            await self.session.close()

    def hostport(self):
        u = urllib.parse.urlsplit(self.url)
        return u.hostname, u.port or (443 if u.scheme == "https" else 80), u.scheme

    async def hdrs(self, scope, extra=None):
        h = dict(extra or {})
        a = await self.auth.header(self.session, scope)
        if a:
            h["Authorization"] = a
        return h

    def abs(self, loc):
        return urllib.parse.urljoin(self.url + "/", loc)

    async def req(self, method, path, scope, *, data=None, headers=None, expect=None,
                  read=True, retry=True):
        url = path if path.startswith("http") else self.url + path
        h = await self.hdrs(scope, headers)
        async with self.session.request(method, url, data=data, headers=h,
                                        allow_redirects=False) as r:
            body = await r.read() if read else b""
            small = data is None or (isinstance(data, (bytes, bytearray, memoryview))
                                     and len(data) < 4 * MB)
            if r.status == 401 and retry and small:
                self.auth.invalidate(scope)
                return await self.req(method, path, scope, data=data, headers=headers,
                                      expect=expect, read=read, retry=False)
            if r.status in (301, 302, 303, 307, 308) and method in ("GET", "HEAD"):
                loc = self.abs(r.headers["Location"])
                assert_loopback(loc)
                return await self.req(method, loc, scope, headers=headers, expect=expect,
                                      read=read, retry=retry)
            if expect and r.status not in expect:
                raise RuntimeError(f"{self.label}: {method} {url} -> {r.status}: {body[:300]!r}")
            return r.status, r.headers, body


def scope_push(repo):
    return f"repository:{repo}:pull,push"


def with_query(loc, **q):
    return loc + ("&" if "?" in loc else "?") + urllib.parse.urlencode(q)


# --------------------------------------------------------------------------
# registry operations
# --------------------------------------------------------------------------
async def start_upload(t, repo):
    st, h, _ = await t.req("POST", f"/v2/{repo}/blobs/uploads/", scope_push(repo),
                           headers={"Content-Length": "0"}, expect=(202,))
    return t.abs(h["Location"])


async def _stream(mv, step=1 << 20):
    for off in range(0, len(mv), step):
        yield mv[off:off + step]


async def upload_mono(t, repo, data, digest):
    """POST then one PUT ?digest= carrying the whole blob (Content-Length set).

    Large bodies are streamed from a memoryview in 1 MiB slices: handing asyncio
    one huge buffer makes it copy the unsent rest (page faults, ~1 s of client
    sys time per 256 MB), which made the client the bottleneck."""
    loc = await start_upload(t, repo)
    body = data if len(data) <= 4 * MB else _stream(memoryview(data))
    await t.req("PUT", with_query(loc, digest=digest), scope_push(repo), data=body,
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(len(data))}, expect=(201,))


async def upload_chunked(t, repo, data, digest, chunk):
    loc = await start_upload(t, repo)
    mv = memoryview(data)
    n = len(mv)
    for off in range(0, n, chunk):
        part = mv[off:off + chunk]
        st, h, _ = await t.req("PATCH", loc, scope_push(repo), data=part, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{off}-{off + len(part) - 1}"}, expect=(202,))
        loc = t.abs(h["Location"])
    await t.req("PUT", with_query(loc, digest=digest), scope_push(repo),
                headers={"Content-Length": "0"}, expect=(201,))


async def blob_exists(t, repo, digest):
    st, _, _ = await t.req("HEAD", f"/v2/{repo}/blobs/{digest}", scope_push(repo), read=False)
    return st == 200


async def ensure_blob(t, repo, data, digest, from_repo=None):
    if from_repo:
        st, h, _ = await t.req("POST", f"/v2/{repo}/blobs/uploads/?" + urllib.parse.urlencode(
            {"mount": digest, "from": from_repo}),
            f"repository:{repo}:pull,push repository:{from_repo}:pull",
            headers={"Content-Length": "0"}, expect=(201, 202))
        if st == 201:
            return
        loc = t.abs(h["Location"])
        await t.req("PUT", with_query(loc, digest=digest), scope_push(repo), data=data,
                    headers={"Content-Type": "application/octet-stream"}, expect=(201,))
        return
    await upload_mono(t, repo, data, digest)


async def put_manifest(t, repo, ref, body, mtype=OCI_MANIFEST):
    await t.req("PUT", f"/v2/{repo}/manifests/{ref}", scope_push(repo), data=body,
                headers={"Content-Type": mtype}, expect=(201,))


async def delete_blob(t, repo, digest):
    try:
        await t.req("DELETE", f"/v2/{repo}/blobs/{digest}", scope_push(repo))
    except Exception:
        pass


def parse_next_link(h, base):
    link = h.get("Link")
    if not link:
        return None
    m = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link)
    return urllib.parse.urljoin(base + "/", m.group(1)) if m else None


async def list_all(t, path, key, scope):
    url = t.url + path
    items = pages = 0
    h = await t.hdrs(scope)
    while url:
        assert_loopback(url)
        async with t.session.get(url, headers=h, allow_redirects=False) as r:
            body = await r.read()
            if r.status != 200:
                raise RuntimeError(f"{t.label}: GET {url} -> {r.status}: {body[:200]!r}")
            nxt = parse_next_link(r.headers, t.url)
        items += len(json.loads(body).get(key) or [])
        pages += 1
        url = nxt
        if pages > 100000:
            raise RuntimeError("pagination does not terminate")
    return items, pages


async def bounded(conc, coros_factory, n):
    """run coros_factory(i) for i in range(n) with at most conc in flight."""
    it = iter(range(n))
    errors = []

    async def worker():
        for i in it:
            try:
                await coros_factory(i)
            except Exception as e:  # keep going, report
                errors.append(repr(e))

    await asyncio.gather(*(worker() for _ in range(conc)))
    return errors


# --------------------------------------------------------------------------
# test data
# --------------------------------------------------------------------------
def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tiny_layer():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        payload = b"regbench layer\n"
        ti = tarfile.TarInfo("regbench.txt")
        ti.size, ti.mtime = len(payload), 1704067200
        tf.addfile(ti, io.BytesIO(payload))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0), sha(raw)


def make_config(diff_ids):
    return json.dumps({
        "created": "2024-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "regbench"}
                    for _ in diff_ids]}, separators=(",", ":")).encode()


def make_manifest(cfg, layers, annotations=None):
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": {"mediaType": OCI_CONFIG, "digest": sha(cfg), "size": len(cfg)},
         "layers": [{"mediaType": OCI_LAYER_GZ, "digest": sha(b), "size": len(b)} for b in layers]}
    if annotations:
        m["annotations"] = annotations
    return json.dumps(m, separators=(",", ":")).encode()


class Data:
    def __init__(self, args):
        self.layer, diff_id = tiny_layer()
        self.config = make_config([diff_id])
        self.base_manifest = make_manifest(self.config, [self.layer])
        rng = random.Random(42)
        self.head_blobs = [rng.randbytes(1024) for _ in range(32)]
        self.big = bytearray(os.urandom(args.blob_mb * MB))
        self.big_serial = 0

    def fresh_big(self):
        """mutate the big buffer so each upload has a new digest (not timed)."""
        self.big_serial += 1
        self.big[:16] = os.urandom(8) + self.big_serial.to_bytes(8, "big")
        return self.big, sha(self.big)


# --------------------------------------------------------------------------
# load generators for request-rate tests
# --------------------------------------------------------------------------
class _RawConn(asyncio.Protocol):
    """Minimal HTTP/1.1 keep-alive client: one request in flight per connection."""

    def __init__(self, gen, stats):
        self.gen, self.st = gen, stats
        self.buf = bytearray()
        self.state = 0        # 0 headers, 1 fixed body, 2 chunk size line, 3 chunk data, 4 trailers
        self.remaining = 0
        self.close_after = False
        self.t0 = 0.0
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, tr):
        self.tr = tr
        tr.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._send()

    def _send(self):
        if time.perf_counter() >= self.st["deadline"]:
            self.tr.close()
            return
        self.is_head, req = self.gen()
        self.t0 = time.perf_counter()
        self.tr.write(req)

    def _complete(self):
        t1 = time.perf_counter()
        if t1 <= self.st["deadline"]:
            if 200 <= self.status < 300:
                self.st["ok"] += 1
            else:
                self.st["bad"] += 1
                self.st["codes"][self.status] = self.st["codes"].get(self.status, 0) + 1
            self.st["lat"].append(t1 - self.t0)
        self.state = 0
        if self.close_after:
            self.tr.close()
        else:
            self._send()

    def data_received(self, data):
        buf = self.buf
        buf += data
        while True:
            if self.state == 0:
                i = buf.find(b"\r\n\r\n")
                if i < 0:
                    return
                head = bytes(buf[:i]).decode("latin-1")
                del buf[:i + 4]
                lines = head.split("\r\n")
                self.status = int(lines[0].split(" ", 2)[1])
                cl, chunked = None, False
                self.close_after = lines[0].startswith("HTTP/1.0")
                for ln in lines[1:]:
                    k, _, v = ln.partition(":")
                    k = k.strip().lower()
                    if k == "content-length":
                        cl = int(v)
                    elif k == "transfer-encoding" and "chunked" in v.lower():
                        chunked = True
                    elif k == "connection":
                        self.close_after = "close" in v.lower()
                if self.is_head or self.status in (204, 304) or 100 <= self.status < 200:
                    self._complete()
                elif chunked:
                    self.state = 2
                elif cl is not None:
                    self.remaining, self.state = cl, 1
                else:  # read until close
                    self.close_after, self.remaining, self.state = True, 1 << 62, 1
            elif self.state == 1:
                if len(buf) < self.remaining:
                    self.remaining -= len(buf)
                    buf.clear()
                    return
                del buf[:self.remaining]
                self._complete()
            elif self.state == 2:
                i = buf.find(b"\r\n")
                if i < 0:
                    return
                size = int(bytes(buf[:i]).split(b";")[0], 16)
                del buf[:i + 2]
                if size == 0:
                    self.state = 4
                else:
                    self.remaining, self.state = size + 2, 3
            elif self.state == 3:
                if len(buf) < self.remaining:
                    self.remaining -= len(buf)
                    buf.clear()
                    return
                del buf[:self.remaining]
                self.state = 2
            elif self.state == 4:
                i = buf.find(b"\r\n")
                if i < 0:
                    return
                line = bytes(buf[:i])
                del buf[:i + 2]
                if not line:
                    self._complete()
            if self.state == 0 and not buf:
                return

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(exc)


class _RawDownload(asyncio.BufferedProtocol):
    """GET one blob over a fresh connection, recv_into a fixed buffer (no
    per-chunk allocations); result: (status, headers_text, body_bytes)."""

    def __init__(self, req):
        self.req = req
        self.buf = memoryview(bytearray(1 << 20))
        self.hdr = bytearray()
        self.need = None
        self.got = 0
        self.status = None
        self.head = ""
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, tr):
        self.tr = tr
        tr.write(self.req)

    def get_buffer(self, hint):
        return self.buf

    def buffer_updated(self, n):
        if self.need is None:
            self.hdr += self.buf[:n]
            i = self.hdr.find(b"\r\n\r\n")
            if i < 0:
                return
            self.head = bytes(self.hdr[:i]).decode("latin-1")
            lines = self.head.split("\r\n")
            self.status = int(lines[0].split(" ", 2)[1])
            cl = [ln.split(":", 1)[1] for ln in lines[1:] if ln.lower().startswith("content-length:")]
            if self.status != 200 or not cl:
                self.tr.close()
                return
            self.need = int(cl[0])
            self.got = len(self.hdr) - i - 4
            self.hdr = None
        else:
            self.got += n
        if self.got >= self.need:
            self.tr.close()

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result((self.status, self.head, self.got))


async def raw_download(host, port, path, headers):
    req = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: regbench-raw/1\r\nConnection: close\r\n"
    req += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(lambda: _RawDownload(req.encode()), host, port)
    return await proto.done


async def raw_load(host, port, method, paths, headers, conc, duration):
    base = f"{method} {{}} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: regbench-raw/1\r\n"
    base += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    reqs = [base.format(p).encode() for p in paths]
    is_head = method == "HEAD"
    loop = asyncio.get_running_loop()
    st = {"ok": 0, "bad": 0, "codes": {}, "lat": [], "errors": 0}
    t_start = time.perf_counter()
    st["deadline"] = t_start + duration

    async def conn_loop(k):
        i = k
        while time.perf_counter() < st["deadline"]:
            def gen():
                nonlocal i
                i += 1
                return is_head, reqs[i % len(reqs)]
            try:
                _, proto = await loop.create_connection(lambda: _RawConn(gen, st), host, port)
                await proto.done
            except OSError:
                st["errors"] += 1
                await asyncio.sleep(0.01)

    await asyncio.gather(*(conn_loop(k) for k in range(conc)))
    elapsed = min(time.perf_counter(), st["deadline"]) - t_start
    lat = sorted(st["lat"])
    q = (lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3) if lat else (lambda p: None)
    return {"rate": st["ok"] / elapsed, "ok": st["ok"], "bad": st["bad"],
            "codes": st["codes"], "conn_errors": st["errors"],
            "p50_ms": q(0.50), "p99_ms": q(0.99), "tool": "raw"}


async def aiohttp_load(t, method, paths, headers, conc, duration):
    deadline = time.perf_counter() + duration
    st = {"ok": 0, "bad": 0, "codes": {}, "lat": []}
    urls = [t.url + p for p in paths]
    t_start = time.perf_counter()

    async def worker(k):
        i = k
        while True:
            t0 = time.perf_counter()
            if t0 >= deadline:
                return
            async with t.session.request(method, urls[i % len(urls)], headers=headers,
                                         allow_redirects=False) as r:
                await r.read()
            t1 = time.perf_counter()
            if t1 <= deadline:
                if r.status == 200:
                    st["ok"] += 1
                else:
                    st["bad"] += 1
                    st["codes"][r.status] = st["codes"].get(r.status, 0) + 1
                st["lat"].append(t1 - t0)
            i += conc

    await asyncio.gather(*(worker(k) for k in range(conc)))
    elapsed = min(time.perf_counter(), deadline) - t_start
    lat = sorted(st["lat"])
    q = (lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3) if lat else (lambda p: None)
    return {"rate": st["ok"] / elapsed, "ok": st["ok"], "bad": st["bad"], "codes": st["codes"],
            "p50_ms": q(0.50), "p99_ms": q(0.99), "tool": "aiohttp"}


WRK_LUA = r"""
local paths = {%(paths)s}
local n = #paths
local i = 0
local hdrs = {%(headers)s}
request = function()
  i = i + 1
  return wrk.format("%(method)s", paths[(i %% n) + 1], hdrs)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('REGBENCH_JSON {"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d,"p50_us":%%d,"p99_us":%%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def wrk_load(t, method, paths, headers, conc, duration, threads):
    if method == "HEAD":
        raise RuntimeError("wrk 4.1 cannot do HEAD (waits for a body)")
    script = WRK_LUA % {"paths": ",".join(lua_str(p) for p in paths),
                        "headers": ",".join(f"[{lua_str(k)}]={lua_str(v)}" for k, v in headers.items()),
                        "method": method}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        thr = max(1, min(threads, conc))
        proc = await asyncio.create_subprocess_exec(
            "wrk", f"-t{thr}", f"-c{conc}", f"-d{max(1, int(round(duration)))}s", "--timeout", "10s", "-s", path,
            t.url + "/", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=duration + 60)
    finally:
        os.unlink(path)
    txt = out.decode(errors="replace")
    m = re.search(r"REGBENCH_JSON (\{.*\})", txt)
    if not m:
        raise RuntimeError(f"wrk output not understood: {txt[-500:]}")
    j = json.loads(m.group(1))
    errs = j["connect"] + j["read"] + j["write"] + j["timeout"]
    ok = j["requests"] - j["status"]
    return {"rate": ok / (j["duration_us"] / 1e6), "ok": ok, "bad": j["status"],
            "socket_errors": errs, "p50_ms": j["p50_us"] / 1e3, "p99_ms": j["p99_us"] / 1e3,
            "tool": f"wrk -t{thr}"}


# --------------------------------------------------------------------------
# benchmark driver
# --------------------------------------------------------------------------
class Bench:
    def __init__(self, args, targets):
        self.args = args
        self.targets = targets
        self.d = Data(args)
        ns = args.namespace
        self.repo_blobs = f"{ns}/rb-blobs"
        self.repo_mf = f"{ns}/rb-manifests"
        self.repo_get = f"{ns}/rb-get"
        self.repo_tags = f"{ns}/rb-tags{args.tags}"
        self.cat_prefix = f"{ns}/rb-cat-"
        self.results = {m: {t.label: [] for t in targets} for m in list(METRICS) + list(MEM_METRICS)}
        self.details = {m: {t.label: [] for t in targets} for m in METRICS}
        self.by_rep = {m: {t.label: {} for t in targets} for m in METRICS}
        self.run_id = f"{int(time.time()):x}"
        self._stop = False
        self.uploaded = {t.label: [] for t in targets}

    # -- memory sampler ------------------------------------------------------
    async def sampler(self):
        while not self._stop:
            for t in self.targets:
                if t.pid:
                    try:
                        r = tree_rss_bytes(t.pid)
                    except Exception:
                        continue
                    t.mem["max"] = max(t.mem["max"], r)
                    t.mem["phase_max"] = max(t.mem["phase_max"], r)
            await asyncio.sleep(self.args.mem_interval)

    def rss_now(self, t):
        return tree_rss_bytes(t.pid) / MB if t.pid else None

    # -- setup ---------------------------------------------------------------
    async def setup(self, t):
        d, a = self.d, self.args
        log(f"[{t.label}] setup: base blobs")
        for repo in (self.repo_mf, self.repo_get, self.repo_tags, self.repo_blobs):
            for blob in (d.config, d.layer):
                if not await blob_exists(t, repo, sha(blob)):
                    await ensure_blob(t, repo, blob, sha(blob),
                                      None if repo == self.repo_mf else self.repo_mf)
        await put_manifest(t, self.repo_mf, "base", d.base_manifest)
        # HEAD pool
        for b in d.head_blobs:
            if not await blob_exists(t, self.repo_get, sha(b)):
                await upload_mono(t, self.repo_get, b, sha(b))
        # GET pool: distinct manifests under distinct tags
        self.get_tags = [f"g-{i:03d}" for i in range(a.get_tags)]

        async def put_get(i):
            body = make_manifest(d.config, [d.layer], {"regbench.get": str(i)})
            await put_manifest(t, self.repo_get, self.get_tags[i], body)
        errs = await bounded(8, put_get, len(self.get_tags))
        if errs:
            raise RuntimeError(f"setup GET pool: {errs[:3]}")
        # download blob
        if "blob_get_c1" in a.metrics or "blob_get_c8" in a.metrics:
            log(f"[{t.label}] setup: {a.blob_mb} MB download blob")
            data, dig = d.fresh_big()
            await upload_mono(t, self.repo_blobs, data, dig)
            t.state["dl_digest"], t.state["dl_size"] = dig, len(data)
            self.uploaded[t.label].append((self.repo_blobs, dig))
        # tags repo
        if "tags_list" in a.metrics:
            have = 0
            try:
                have, _ = await list_all(t, f"/v2/{self.repo_tags}/tags/list", "tags",
                                         f"repository:{self.repo_tags}:pull")
            except Exception:
                pass
            if have < a.tags:
                log(f"[{t.label}] setup: {a.tags} tags (have {have})")
                t0 = time.perf_counter()
                errs = await bounded(16, lambda i: put_manifest(
                    t, self.repo_tags, f"t-{i:06d}", d.base_manifest), a.tags)
                if errs:
                    raise RuntimeError(f"setup tags: {len(errs)} errors, e.g. {errs[:2]}")
                log(f"[{t.label}]   {a.tags} tag PUTs in {time.perf_counter() - t0:.1f}s")
        # catalog repos
        if "catalog" in a.metrics:
            last = f"{self.cat_prefix}{a.repos - 1:05d}"
            st, _, _ = await t.req("HEAD", f"/v2/{last}/manifests/base", scope_push(last),
                                   headers={"Accept": MANIFEST_ACCEPT}, read=False)
            if st != 200:
                log(f"[{t.label}] setup: {a.repos} repos")
                t0 = time.perf_counter()

                async def mk(i):
                    repo = f"{self.cat_prefix}{i:05d}"
                    for blob in (d.config, d.layer):
                        await ensure_blob(t, repo, blob, sha(blob), self.repo_mf)
                    await put_manifest(t, repo, "base", d.base_manifest)
                errs = await bounded(16, mk, a.repos)
                if errs:
                    raise RuntimeError(f"setup repos: {len(errs)} errors, e.g. {errs[:2]}")
                log(f"[{t.label}]   {a.repos} repos in {time.perf_counter() - t0:.1f}s")

    # -- single measurements -------------------------------------------------
    async def m_blob_put_mono(self, t, rep):
        data, dig = self.d.fresh_big()
        await t.auth.header(t.session, scope_push(self.repo_blobs))
        with CpuMeter(t.pid) as cm:
            await upload_mono(t, self.repo_blobs, data, dig)
        self.uploaded[t.label].append((self.repo_blobs, dig))
        return len(data) / MB / cm.wall, cm, {}

    async def m_blob_put_chunked(self, t, rep):
        data, dig = self.d.fresh_big()
        await t.auth.header(t.session, scope_push(self.repo_blobs))
        with CpuMeter(t.pid) as cm:
            await upload_chunked(t, self.repo_blobs, data, dig, self.args.chunk_mb * MB)
        self.uploaded[t.label].append((self.repo_blobs, dig))
        return len(data) / MB / cm.wall, cm, {}

    async def _download(self, t, h):
        path = f"/v2/{self.repo_blobs}/blobs/{t.state['dl_digest']}"
        host, port, scheme = t.hostport()
        if scheme == "http" and self.args.dl_tool == "raw":
            st, head, n = await raw_download(host, port, path, h)
            if st == 200:
                if n != t.state["dl_size"]:
                    raise RuntimeError(f"{t.label}: short blob read {n} != {t.state['dl_size']}")
                return n
            # redirects, chunked or errors: fall through to aiohttp
        url = t.url + path
        n = 0
        while True:
            async with t.session.get(url, headers=h, allow_redirects=False) as r:
                if r.status in (301, 302, 303, 307, 308):
                    url = t.abs(r.headers["Location"])
                    assert_loopback(url)
                    h = {}
                    continue
                if r.status != 200:
                    raise RuntimeError(f"{t.label}: GET blob -> {r.status}")
                while True:
                    chunk = await r.content.readany()
                    if not chunk:
                        break
                    n += len(chunk)
                break
        if n != t.state["dl_size"]:
            raise RuntimeError(f"{t.label}: short blob read {n} != {t.state['dl_size']}")
        return n

    async def _blob_get(self, t, conc, rep):
        """conc workers each GET the whole blob again and again until
        --dl-min-time has passed (a 256 MB GET alone takes ~0.1 s here, too
        short to time); value = all bytes / wall time."""
        h = await t.hdrs(f"repository:{self.repo_blobs}:pull")
        if rep == 0:
            await self._download(t, h)      # warm-up (page cache, runtime)
        counts = []
        with CpuMeter(t.pid) as cm:
            t_end = time.perf_counter() + self.args.dl_min_time

            async def worker():
                n = k = 0
                while k == 0 or time.perf_counter() < t_end:
                    n += await self._download(t, h)
                    k += 1
                counts.append(k)
                return n
            ns = await asyncio.gather(*(worker() for _ in range(conc)))
        return sum(ns) / MB / cm.wall, cm, {"gets": sum(counts)}

    async def m_blob_get_c1(self, t, rep):
        return await self._blob_get(t, 1, rep)

    async def m_blob_get_c8(self, t, rep):
        return await self._blob_get(t, 8, rep)

    async def m_manifest_put(self, t, rep):
        d, n = self.d, self.args.manifests
        bodies = [make_manifest(d.config, [d.layer], {"regbench.run": self.run_id,
                                                      "regbench.seq": f"{rep}-{i}"})
                  for i in range(n)]
        tags = [f"p{self.run_id}-{rep}-{i}" for i in range(n)]
        h = await t.hdrs(scope_push(self.repo_mf), {"Content-Type": OCI_MANIFEST})
        url = f"{t.url}/v2/{self.repo_mf}/manifests/"
        stats = {"ok": 0, "bad": 0}

        async def one(i):
            async with t.session.put(url + tags[i], data=bodies[i], headers=h) as r:
                await r.read()
                stats["ok" if r.status == 201 else "bad"] += 1
        with CpuMeter(t.pid) as cm:
            errs = await bounded(8, one, n)
        stats["exceptions"] = len(errs)
        return stats["ok"] / cm.wall, cm, stats

    async def _rate(self, t, method, paths, extra_headers, conc, scope):
        a = self.args
        h = dict(extra_headers)
        auth = await t.auth.header(t.session, scope)
        if auth:
            h["Authorization"] = auth
        tool = a.get_tool if method == "GET" else a.head_tool
        if tool == "auto":
            tool = "wrk" if (method == "GET" and shutil.which("wrk")) else "raw"
        host, port, scheme = t.hostport()
        if scheme != "http" and tool == "raw":
            tool = "aiohttp"
        with CpuMeter(t.pid) as cm:
            if tool == "wrk":
                r = await wrk_load(t, method, paths, h, conc, a.duration, a.wrk_threads)
            elif tool == "raw":
                r = await raw_load(host, port, method, paths, h, conc, a.duration)
            else:
                r = await aiohttp_load(t, method, paths, h, conc, a.duration)
        if r["bad"]:
            log(f"[{t.label}] WARNING {method} non-2xx responses: {r['bad']} {r.get('codes', '')}")
        return r["rate"], cm, r

    async def _manifest_get(self, t, conc):
        paths = [f"/v2/{self.repo_get}/manifests/{tag}" for tag in self.get_tags]
        return await self._rate(t, "GET", paths, {"Accept": MANIFEST_ACCEPT}, conc,
                                f"repository:{self.repo_get}:pull")

    async def m_manifest_get_c1(self, t, rep):
        return await self._manifest_get(t, 1)

    async def m_manifest_get_c16(self, t, rep):
        return await self._manifest_get(t, 16)

    async def m_manifest_get_c64(self, t, rep):
        return await self._manifest_get(t, 64)

    async def m_blob_head_c64(self, t, rep):
        paths = [f"/v2/{self.repo_get}/blobs/{sha(b)}" for b in self.d.head_blobs]
        return await self._rate(t, "HEAD", paths, {}, 64, f"repository:{self.repo_get}:pull")

    async def _list_latency(self, t, path, key, scope, expect_min):
        q = f"?n={self.args.list_n}" if self.args.list_n else ""
        await list_all(t, path + q, key, scope)  # warm-up, untimed
        samples, info = [], {}
        with CpuMeter(t.pid) as cm:
            t_start = time.perf_counter()
            # at least --list-samples listings, more until --list-min-time (max 200)
            while (len(samples) < self.args.list_samples or
                   (time.perf_counter() - t_start < self.args.list_min_time and len(samples) < 200)):
                t0 = time.perf_counter()
                items, pages = await list_all(t, path + q, key, scope)
                samples.append((time.perf_counter() - t0) * 1e3)
        info = {"items": items, "pages": pages, "n_samples": len(samples),
                "samples_ms": [round(s, 2) for s in samples[:50]]}
        if items < expect_min:
            log(f"[{t.label}] WARNING {path}: only {items} items (expected >= {expect_min})")
        return statistics.median(samples), cm, info

    async def m_tags_list(self, t, rep):
        return await self._list_latency(t, f"/v2/{self.repo_tags}/tags/list", "tags",
                                        f"repository:{self.repo_tags}:pull", self.args.tags)

    async def m_catalog(self, t, rep):
        return await self._list_latency(t, "/v2/_catalog", "repositories", "registry:catalog:*",
                                        self.args.repos)

    # -- orchestration ---------------------------------------------------------
    async def run(self):
        a = self.args
        for t in self.targets:
            await t.open()
        sampler = asyncio.create_task(self.sampler())
        try:
            await asyncio.sleep(max(a.mem_interval * 2, 0.5))
            for t in self.targets:
                if t.pid:
                    self.results["rss_idle"][t.label].append(self.rss_now(t))
                    self.results["pss_idle"][t.label].append(tree_pss_bytes(t.pid) / MB)
                    self.results["procs"][t.label].append(len(pid_tree(t.pid)[0]))
            for t in self.targets:
                await self.setup(t)
            await asyncio.sleep(a.settle)
            for t in self.targets:
                if t.pid:
                    self.results["rss_setup"][t.label].append(self.rss_now(t))
                    self.results["pss_setup"][t.label].append(tree_pss_bytes(t.pid) / MB)
            for m in a.metrics:
                fn = getattr(self, "m_" + m)
                for rep in range(a.reps):
                    order = self.targets if rep % 2 == 0 else list(reversed(self.targets))
                    for t in order:
                        noisy = []
                        for attempt in range(a.retries + 1):
                            t.mem["phase_max"] = 0
                            if a.sync and m in WRITE_METRICS:
                                # start every write test with no dirty pages
                                # left by the previous one (untimed)
                                await asyncio.get_running_loop().run_in_executor(None, os.sync)
                            try:
                                val, cm, info = await fn(t, rep)
                            except Exception as e:
                                log(f"[{t.label}] {m} rep {rep} FAILED: {e!r}")
                                val, err = None, repr(e)
                                break
                            fc = cm.foreign_cpu_pct
                            if fc is None or fc <= a.max_foreign or attempt == a.retries:
                                break
                            log(f"[{t.label}] {m} rep {rep}: {val:.2f} discarded, foreign CPU "
                                f"{fc:.0f}% > {a.max_foreign:.0f}%; retrying")
                            noisy.append({"value": val, "foreign_cpu_pct": round(fc, 1)})
                            await asyncio.sleep(3.0 * (attempt + 1))
                        if val is None:
                            self.details[m][t.label].append({"error": err})
                            continue
                        self.results[m][t.label].append(val)
                        self.by_rep[m][t.label][rep] = val
                        det = cm.as_dict()
                        det.update(info)
                        det["value"] = val
                        if noisy:
                            det["discarded_noisy"] = noisy
                        det["rss_phase_peak_mb"] = round(t.mem["phase_max"] / MB, 1) if t.pid else None
                        self.details[m][t.label].append(det)
                        log(f"[{t.label}] {m:18s} rep {rep}: {val:10.2f} {METRICS[m][0]:5s} "
                            f"client {det['client_cpu_pct']:5.1f}% server "
                            f"{det['server_cpu_pct'] if det['server_cpu_pct'] is not None else '-'}% "
                            f"machine {det['machine_busy_pct']}% foreign {det['foreign_cpu_pct']}%")
                        await asyncio.sleep(a.pause)
            for t in self.targets:
                if t.pid:
                    self.results["rss_peak"][t.label].append(t.mem["max"] / MB)
                    self.results["pss_end"][t.label].append(tree_pss_bytes(t.pid) / MB)
                    hwm = vm_hwm_bytes(t.pid)
                    t.state["vm_hwm_mb"] = hwm / MB if hwm else None
            if not a.no_cleanup:
                for t in self.targets:
                    for repo, dig in self.uploaded[t.label]:
                        await delete_blob(t, repo, dig)
        finally:
            self._stop = True
            await sampler
            for t in self.targets:
                await t.close()


# --------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------
def summarize(bench):
    out = {}
    labels = [t.label for t in bench.targets]
    allm = dict(METRICS)
    allm.update(MEM_METRICS)
    for m, (unit, hib, desc) in allm.items():
        if m in METRICS and m not in bench.args.metrics:
            continue
        row = {"unit": unit, "higher_is_better": hib, "description": desc}
        meds = {}
        for lab in labels:
            vals = bench.results[m][lab]
            if not vals:
                continue
            med = statistics.median(vals)
            meds[lab] = med
            r = {"median": med, "min": min(vals), "max": max(vals), "n": len(vals),
                 "samples": vals}
            det = bench.details.get(m, {}).get(lab, [])
            good = [x for x in det if "error" not in x]
            for k in ("client_cpu_pct", "server_cpu_pct", "machine_busy_pct", "foreign_cpu_pct"):
                xs = [x[k] for x in good if x.get(k) is not None]
                r[k] = statistics.median(xs) if xs else None
            if good:
                r["runs"] = good
            errs = [x["error"] for x in det if "error" in x]
            if errs:
                r["errors"] = errs
            row[lab] = r
        if "a" in meds and "b" in meds and meds["a"]:
            row["ratio_of_medians"] = meds["b"] / meds["a"]
            row["ratio_b_over_a"] = row["ratio_of_medians"]
            br = bench.by_rep.get(m)
            if br:
                pr = [br["b"][r] / br["a"][r] for r in br["a"]
                      if r in br["b"] and br["a"][r]]
                if pr:
                    # paired design: A and B of one rep ran back to back, so
                    # their ratio cancels slow drift of the machine
                    row["paired_ratios"] = pr
                    row["ratio_b_over_a"] = statistics.median(pr)
        out[m] = row
    return out


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.2f}"


def print_table(summary, labels):
    two = len(labels) == 2
    hdr = f"{'metric':18s} {'unit':6s} {'A':>10s} {'spread':>7s}"
    if two:
        hdr += f" {'B':>10s} {'spread':>7s} {'B/A':>6s} {'B/A range':>11s} {'better':>6s}"
    hdr += f"  {'cliCPU%':>11s} {'srvCPU%':>11s}  notes"
    print(hdr)
    print("-" * len(hdr))
    for m, row in summary.items():
        ra, rb = row.get("a"), row.get("b")
        if not ra and not rb:
            continue

        def cell(r):
            if not r:
                return f"{'-':>10s} {'-':>7s}"
            sp = (r["max"] - r["min"]) / r["median"] * 100 if r["median"] else 0
            return f"{fmt(r['median']):>10s} {sp:6.1f}%"
        line = f"{m:18s} {row['unit']:6s} {cell(ra)}"
        if two:
            ratio = row.get("ratio_b_over_a")
            better = ""
            if ratio is not None:
                better = "B" if (ratio > 1) == row["higher_is_better"] else "A"
                if abs(ratio - 1) < 0.05:
                    better = "~"
            pr = row.get("paired_ratios")
            rng = f"{min(pr):.2f}-{max(pr):.2f}" if pr and len(pr) > 1 else "-"
            line += f" {cell(rb)} {fmt(ratio):>6s} {rng:>11s} {better:>6s}"
        cc = "/".join(fmt(r.get("client_cpu_pct")) if r else "-" for r in ([ra, rb] if two else [ra]))
        sc = "/".join(fmt(r.get("server_cpu_pct")) if r else "-" for r in ([ra, rb] if two else [ra]))
        notes = []
        for lab, r in (("A", ra), ("B", rb)):
            if r and r.get("client_cpu_pct") and r["client_cpu_pct"] > 85 and m not in MEM_METRICS:
                notes.append(f"C!{lab}")
            if r and r.get("errors"):
                notes.append(f"ERR{lab}")
            if r and (r.get("foreign_cpu_pct") or 0) > 25:
                notes.append(f"F{lab}={r['foreign_cpu_pct']:.0f}%")
            if r and r.get("runs") and "pages" in r["runs"][0]:
                notes.append(f"{lab}:{r['runs'][0]['items']}it/{r['runs'][0]['pages']}pg")
            if r and r.get("runs") and "tool" in r["runs"][0]:
                if lab == "A":
                    notes.append(r["runs"][0]["tool"])
        line += f"  {cc:>11s} {sc:>11s}  {' '.join(notes)}"
        print(line)
    print("B/A = median over reps of the paired ratio B_rep/A_rep (A and B run back to back, "
          "order alternating); B/A range = min-max of those ratios")
    print("spread = (max-min)/median over reps; B/A > 1 means B has the larger number; "
          "'better' accounts for direction; C! = client CPU > 85% of a core (client-bound?); "
          "F=median CPU% used by other processes/kernel during the runs")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for lab in ("a", "b"):
        ap.add_argument(f"--{lab}", required=(lab == "a"), help=f"registry {lab.upper()} base URL")
        ap.add_argument(f"--{lab}-pid", default=None, help="server PID for RSS/CPU, or 'auto' (listener of the port)")
        ap.add_argument(f"--{lab}-user", default=None)
        ap.add_argument(f"--{lab}-password", default=None)
    ap.add_argument("--namespace", default="regbench", help="first path component of test repos")
    ap.add_argument("--metrics", default=",".join(METRICS),
                    help="comma list of metrics to run (default: all)")
    ap.add_argument("--skip", default="", help="comma list of metrics to skip")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per metric (median)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per request-rate run")
    ap.add_argument("--blob-mb", type=int, default=256)
    ap.add_argument("--chunk-mb", type=int, default=8)
    ap.add_argument("--manifests", type=int, default=1000)
    ap.add_argument("--get-tags", type=int, default=100, help="size of the manifest GET tag pool")
    ap.add_argument("--tags", type=int, default=10000)
    ap.add_argument("--repos", type=int, default=2000)
    ap.add_argument("--list-samples", type=int, default=5, help="minimum timed listings per rep")
    ap.add_argument("--list-min-time", type=float, default=2.0,
                    help="keep listing until this many seconds per rep (median of all)")
    ap.add_argument("--dl-min-time", type=float, default=2.0,
                    help="seconds of repeated blob GETs per download measurement")
    ap.add_argument("--list-n", type=int, default=0, help="?n= page size for lists (0: registry default)")
    ap.add_argument("--get-tool", choices=["auto", "wrk", "raw", "aiohttp"], default="auto")
    ap.add_argument("--head-tool", choices=["auto", "raw", "aiohttp"], default="auto")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--dl-tool", choices=["raw", "aiohttp"], default="raw",
                    help="blob download client (raw: stdlib BufferedProtocol, http only)")
    ap.add_argument("--max-foreign", type=float, default=50.0,
                    help="re-run a measurement when CPU used by other processes exceeds this %% of a core")
    ap.add_argument("--retries", type=int, default=2, help="re-runs allowed per noisy measurement")
    ap.add_argument("--no-sync", dest="sync", action="store_false",
                    help="do not call sync(2) before each write measurement")
    ap.add_argument("--client-cpus", default=None,
                    help="pin this client (and wrk) to these CPUs, e.g. '1' or '0,1'")
    ap.add_argument("--mem-interval", type=float, default=0.2)
    ap.add_argument("--settle", type=float, default=2.0, help="idle seconds before rss_setup")
    ap.add_argument("--pause", type=float, default=0.5, help="pause between runs")
    ap.add_argument("--no-cleanup", action="store_true", help="keep uploaded big blobs")
    ap.add_argument("--quick", action="store_true",
                    help="small smoke run: reps 2, 3 s, 32 MB blob, 200 manifests, 1000 tags, 200 repos")
    ap.add_argument("--json", default=None, help="write results here (default regbench-<time>.json)")
    args = ap.parse_args()
    if args.quick:  # smaller defaults; options given explicitly win
        quick = {"reps": 2, "duration": 3.0, "blob_mb": 32, "manifests": 200, "tags": 1000,
                 "repos": 200, "list_samples": 3, "list_min_time": 0.5, "dl_min_time": 0.5}
        given = {a.split("=")[0] for a in sys.argv[1:] if a.startswith("--")}
        for k, v in quick.items():
            if "--" + k.replace("_", "-") not in given:
                setattr(args, k, v)
    skip = {s for s in args.skip.split(",") if s}
    args.metrics = [m for m in args.metrics.split(",") if m and m not in skip]
    for m in args.metrics:
        if m not in METRICS:
            raise SystemExit(f"unknown metric {m}; known: {', '.join(METRICS)}")
    # bounds
    if not (0 < args.duration <= 120 and 0 < args.reps <= 20 and 0 < args.blob_mb <= 4096
            and args.tags <= 100000 and args.repos <= 50000 and args.manifests <= 100000):
        raise SystemExit("parameters out of bounds")

    if args.client_cpus:
        os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})
    targets = []
    for lab in ("a", "b"):
        url = getattr(args, lab)
        if not url:
            continue
        assert_loopback(url)
        pid = getattr(args, f"{lab}_pid")
        if pid == "auto":
            pid = find_listener_pid(url)
            log(f"[{lab}] auto PID for {url}: {pid}")
        targets.append(Target(lab, url, int(pid) if pid else None,
                              getattr(args, f"{lab}_user"), getattr(args, f"{lab}_password")))

    CpuMeter.all_pids = sorted({t.pid for t in targets if t.pid})
    if any(t.pid is None for t in targets) and args.retries:
        log("no PID for some registry: foreign-CPU check (and its re-runs) disabled")
        args.retries = 0
    bench = Bench(args, targets)
    t0 = time.time()
    try:
        asyncio.run(bench.run())
    except (aiohttp.ClientError, OSError, RuntimeError) as e:
        raise SystemExit(f"regbench: error: {e}")
    summary = summarize(bench)
    labels = [t.label for t in targets]
    print()
    for t in targets:
        print(f"{t.label.upper()} = {t.url}  pid={t.pid}  VmHWM={fmt(t.state.get('vm_hwm_mb'))} MB")
    print_table(summary, labels)
    res = {
        "tool": "regbench.py", "version": 1,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
        "elapsed_s": round(time.time() - t0, 1),
        "machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg(),
                    "python": sys.version.split()[0], "aiohttp": aiohttp.__version__},
        "params": {k: v for k, v in vars(args).items() if "password" not in k},
        "targets": {t.label: {"url": t.url, "pid": t.pid, "vm_hwm_mb": t.state.get("vm_hwm_mb")}
                    for t in targets},
        "metrics": summary,
    }
    path = args.json or time.strftime("regbench-%Y%m%dT%H%M%S.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1, default=str)
    print(f"\nJSON written to {path}")


if __name__ == "__main__":
    main()
