"""The "cost growth" check: does listing get slower per item as a registry grows?

Against one running Berth (plain HTTP, the token flow a client uses):

* tags: a repository with ``small`` tags and one with ``large`` tags; time the full
  ``/v2/<repo>/tags/list`` (following ``Link``) and divide by the number of tags.
* catalog: ``small`` repositories, time the full ``/v2/_catalog``; grow to ``large``
  repositories and time it again; divide by the number of repositories.

* web UI (issue 13 point 5): at each size, the first page of the tags tab
  (``/repository/<repo>?tab=tags``) against the matching ``/api/v1`` call (the tags API's
  first page of 50 live tags), and the repository list (``/repository/?view=ns:growth``)
  against ``GET /api/v1/repository?namespace=growth&last_modified=true`` (both 100 a page),
  signed in through ``/signin`` as a browser is (the same session cookie for both). The
  reported numbers are the UI/API ratio at each size and the UI's large/small ratio (a
  first page that costs the same at 1,000 and 100,000 items is flat: 1.0).

The reported ratio is time-per-item at the large size over time-per-item at the small
size: 1.0 means the cost per item does not grow with the registry (an indexed, paged
listing); 10 would mean a listing that is quadratic in size. Seeding goes over HTTP too
(manifest PUTs, cross-repository blob mounts) so nothing here depends on Berth's schema.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import io
import json
import re
import statistics
import tarfile
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.servers import tree_rss_mb

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
NAMESPACE = "growth"
ROBOT_ORG = "growthbots"
BASE_REPO = f"{NAMESPACE}/base"
SEED_CONCURRENCY = 16
SCOPES_PER_TOKEN = 40  # keeps the token (and its Authorization header) a few KB


class GrowthError(RuntimeError):
    pass


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _image() -> tuple[bytes, bytes, bytes]:
    """A tiny real image: (config, gzip layer, manifest)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        payload = b"berth bench growth\n"
        info = tarfile.TarInfo("growth.txt")
        info.size, info.mtime = len(payload), 1704067200
        tf.addfile(info, io.BytesIO(payload))
    raw = buf.getvalue()
    layer = gzip.compress(raw, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [_sha(raw)]},
        },
        separators=(",", ":"),
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": _sha(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER_GZ, "digest": _sha(layer), "size": len(layer)}],
        },
        separators=(",", ":"),
    ).encode()
    return config, layer, manifest


@dataclass
class Point:
    items: int
    pages: int
    median_ms: float
    samples: int
    seed_s: float

    @property
    def per_item_us(self) -> float:
        return self.median_ms * 1000 / self.items if self.items else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "pages": self.pages,
            "median_ms": round(self.median_ms, 3),
            "per_item_us": round(self.per_item_us, 3),
            "samples": self.samples,
            "seed_s": round(self.seed_s, 1),
        }


@dataclass
class RssSampler:
    """Peak RSS of a process tree, sampled in a thread while the check runs."""

    pid: int
    interval: float = 0.2
    peak_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        def loop() -> None:
            while not self._stop.is_set():
                self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=loop, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()


class Client:
    """Just enough of the registry protocol, with Docker token auth, over one httpx pool."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base = base_url.rstrip("/")
        self.basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.http = httpx.AsyncClient(
            base_url=self.base,
            timeout=httpx.Timeout(120.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )
        self.realm = ""
        self.service = ""
        self.tokens: dict[str, str] = {}
        self.catalog_scope_refused: str | None = None
        self.open = False

    async def close(self) -> None:
        await self.http.aclose()

    async def probe(self, *, open_ok: bool = False) -> None:
        r = await self.http.get("/v2/")
        if open_ok and r.status_code == 200:
            self.open = True  # a registry without authentication (distribution here)
            return
        challenge = r.headers.get("www-authenticate", "")
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        if r.status_code != 401 or not challenge.lower().startswith("bearer"):
            raise GrowthError(f"GET /v2/ -> {r.status_code} {challenge!r}: expected a Bearer 401")
        self.realm, self.service = params["realm"], params.get("service", "")

    async def token(self, scopes: list[str]) -> httpx.Response:
        params = [("service", self.service)] + [("scope", s) for s in scopes]
        return await self.http.get(self.realm, params=params, headers={"Authorization": self.basic})

    async def bearer(self, scopes: list[str]) -> str:
        key = " ".join(scopes)
        if key not in self.tokens:
            r = await self.token(scopes)
            if r.status_code != 200:
                raise GrowthError(f"token for {scopes[:2]}... -> {r.status_code}: {r.text[:200]}")
            body = r.json()
            self.tokens[key] = "Bearer " + (body.get("token") or body["access_token"])
        return self.tokens[key]

    async def catalog_auth(self) -> str:
        """A token for the catalog: scope registry:catalog:*, else a token without scopes."""
        if self.open:
            return ""
        r = await self.token(["registry:catalog:*"])
        if r.status_code == 200:
            body = r.json()
            return "Bearer " + (body.get("token") or body["access_token"])
        self.catalog_scope_refused = f"{r.status_code}: {r.text[:200]}"
        return await self.bearer([])

    async def request(
        self, method: str, url: str, auth: str, expect: tuple[int, ...], **kw: Any
    ) -> httpx.Response:
        headers = (
            {"Authorization": auth, **kw.pop("headers", {})} if auth else kw.pop("headers", {})
        )
        r = await self.http.request(method, url, headers=headers, **kw)
        if r.status_code not in expect:
            raise GrowthError(f"{method} {url} -> {r.status_code}: {r.text[:300]}")
        return r

    async def upload(self, repo: str, data: bytes, auth: str) -> None:
        r = await self.request("POST", f"/v2/{repo}/blobs/uploads/", auth, (202,))
        loc = urllib.parse.urljoin(self.base + "/", r.headers["location"])
        sep = "&" if "?" in loc else "?"
        await self.request(
            "PUT",
            f"{loc}{sep}digest={_sha(data)}",
            auth,
            (201,),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )

    async def mount(self, repo: str, digest: str, auth: str) -> None:
        q = urllib.parse.urlencode({"mount": digest, "from": BASE_REPO})
        r = await self.request("POST", f"/v2/{repo}/blobs/uploads/?{q}", auth, (201, 202))
        if r.status_code == 202:
            raise GrowthError(f"mount of {digest} into {repo} was not honoured (202)")

    async def put_manifest(self, repo: str, ref: str, body: bytes, auth: str) -> None:
        await self.request(
            "PUT",
            f"/v2/{repo}/manifests/{ref}",
            auth,
            (201,),
            content=body,
            headers={"Content-Type": OCI_MANIFEST},
        )

    async def list_all(self, path: str, key: str, auth: str) -> tuple[int, int]:
        url: str | None = path
        items = pages = 0
        while url:
            r = await self.request("GET", url, auth, (200,))
            items += len(r.json().get(key) or [])
            pages += 1
            link = r.headers.get("link")
            m = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link or "")
            url = m.group(1) if m else None
            if pages > 100_000:
                raise GrowthError(f"{path}: pagination does not terminate")
        return items, pages


@dataclass
class UiPoint:
    """The web UI's page against the matching /api/v1 call on the same data."""

    items: int
    ui_ms: float
    api_ms: float
    samples: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "ui_ms": round(self.ui_ms, 3),
            "api_ms": round(self.api_ms, 3),
            "ui_over_api": round(self.ui_ms / self.api_ms, 3) if self.api_ms else None,
            "samples": self.samples,
        }


class WebSession:
    """A browser-like client: signs in through the sign-in page, then GETs pages and the
    API with the session cookie (as the web UI's own htmx requests do)."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=300)
        self.user, self.password = user, password
        self.csrf: str | None = None

    async def sign_in(self) -> None:
        page = await self.http.get("/signin")
        m = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        if page.status_code != 200 or m is None:
            raise GrowthError(f"GET /signin -> {page.status_code}: no sign-in form")
        form = {"_csrf_token": m.group(1), "username": self.user, "password": self.password}
        r = await self.http.post("/signin", data={**form, "next": "/repository/"})
        if r.status_code != 303:
            raise GrowthError(f"POST /signin -> {r.status_code}: {r.text[:200]}")

    async def api_write(self, method: str, url: str, body: dict[str, Any]) -> None:
        """A write to /api/v1 with the session, as the UI's scripts make it (CSRF header)."""
        if self.csrf is None:
            r = await self.http.get("/api/v1/user/", headers={"X-Requested-With": "XMLHttpRequest"})
            self.csrf = r.headers.get("X-Next-CSRF-Token")
            if r.status_code != 200 or not self.csrf:
                raise GrowthError(f"GET /api/v1/user/ -> {r.status_code}: no CSRF token")
        r = await self.http.request(
            method, url, json=body,
            headers={"X-Requested-With": "XMLHttpRequest", "X-CSRF-Token": self.csrf},
        )  # fmt: skip
        self.csrf = r.headers.get("X-Next-CSRF-Token") or self.csrf
        if r.status_code not in (200, 201):
            raise GrowthError(f"{method} {url} -> {r.status_code}: {r.text[:200]}")

    async def get_ms(self, url: str, api: bool) -> float:
        headers = {"X-Requested-With": "XMLHttpRequest"} if api else {}
        t0 = time.perf_counter()
        r = await self.http.get(url, headers=headers)
        ms = (time.perf_counter() - t0) * 1000
        if r.status_code != 200:
            raise GrowthError(f"GET {url} -> {r.status_code}: {r.text[:200]}")
        return ms

    async def pair(
        self, items: int, ui_url: str, api_url: str, min_samples: int, min_time: float
    ) -> UiPoint:
        """Median of interleaved samples of the page and the API call (warm-up first)."""
        await self.get_ms(ui_url, False)
        await self.get_ms(api_url, True)
        ui: list[float] = []
        api: list[float] = []
        t_start = time.perf_counter()
        while len(ui) < min_samples or (time.perf_counter() - t_start < min_time and len(ui) < 200):
            ui.append(await self.get_ms(ui_url, False))
            api.append(await self.get_ms(api_url, True))
        return UiPoint(items, statistics.median(ui), statistics.median(api), len(ui))

    async def close(self) -> None:
        await self.http.aclose()


async def _bounded(conc: int, n: int, fn: Callable[[int], Awaitable[None]]) -> None:
    it = iter(range(n))
    errors: list[BaseException] = []

    async def worker() -> None:
        for i in it:
            if errors:
                return
            try:
                await fn(i)
            except Exception as e:  # stop the others, report the first
                errors.append(e)
                return

    await asyncio.gather(*(worker() for _ in range(conc)))
    if errors:
        raise errors[0]


async def _time_listing(
    client: Client, path: str, key: str, auth: str, min_samples: int, min_time: float
) -> tuple[int, int, float, int]:
    await client.list_all(path, key, auth)  # warm-up
    samples: list[float] = []
    t_start = time.perf_counter()
    items = pages = 0
    while len(samples) < min_samples or (
        time.perf_counter() - t_start < min_time and len(samples) < 200
    ):
        t0 = time.perf_counter()
        items, pages = await client.list_all(path, key, auth)
        samples.append((time.perf_counter() - t0) * 1000)
    return items, pages, statistics.median(samples), len(samples)


def _log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), "[growth]", msg, flush=True)


async def _run(
    url: str,
    user: str,
    password: str,
    tag_sizes: tuple[int, int],
    repo_sizes: tuple[int, int],
    robot_sizes: tuple[int, int],
    min_samples: int,
    min_time: float,
) -> dict[str, Any]:
    config, layer, manifest = _image()
    client = Client(url, user, password)
    web = WebSession(url, user, password)
    ui_tags: list[UiPoint] = []
    ui_repos: list[UiPoint] = []
    ui_robots: list[UiPoint] = []
    ui_error: str | None = None
    signed_in = False

    async def ui_pair(target: list[UiPoint], items: int, page: str, api: str) -> None:
        nonlocal ui_error, signed_in
        if ui_error is not None:
            return
        try:
            if not signed_in:
                await web.sign_in()
                signed_in = True
            point = await web.pair(items, page, api, min_samples, min_time)
        except (GrowthError, httpx.HTTPError) as e:
            ui_error = str(e)
            _log(f"web UI timing FAILED: {e}")
            return
        target.append(point)
        _log(f"web UI {page}: {point.ui_ms:.2f} ms, /api/v1: {point.api_ms:.2f} ms")

    try:
        await client.probe()
        base_auth = await client.bearer([f"repository:{BASE_REPO}:pull,push"])
        await client.upload(BASE_REPO, config, base_auth)
        await client.upload(BASE_REPO, layer, base_auth)
        await client.put_manifest(BASE_REPO, "base", manifest, base_auth)

        # tags: one repository per size
        tag_points = []
        for n in tag_sizes:
            repo = f"{NAMESPACE}/tags-{n}"
            auth = await client.bearer(
                [f"repository:{repo}:pull,push", f"repository:{BASE_REPO}:pull"]
            )
            t0 = time.perf_counter()
            await client.mount(repo, _sha(config), auth)
            await client.mount(repo, _sha(layer), auth)

            async def put_tag(i: int, repo: str = repo, auth: str = auth) -> None:
                await client.put_manifest(repo, f"t-{i:06d}", manifest, auth)

            await _bounded(SEED_CONCURRENCY, n, put_tag)
            seed_s = time.perf_counter() - t0
            _log(f"{n} tags pushed in {seed_s:.1f}s ({n / seed_s:.0f}/s)")
            # a pull token asked for now that the repository exists (as a client would)
            pull = await client.bearer([f"repository:{repo}:pull"])
            items, pages, ms, k = await _time_listing(
                client, f"/v2/{repo}/tags/list", "tags", pull, min_samples, min_time
            )
            if items != n:
                raise GrowthError(f"{repo}: tags/list returned {items} tags, expected {n}")
            tag_points.append(Point(items, pages, ms, k, seed_s))
            _log(f"tags/list of {n}: {ms:.2f} ms in {pages} page(s)")
            await ui_pair(
                ui_tags,
                n,
                f"/repository/{repo}?tab=tags",
                f"/api/v1/repository/{repo}/tag/?onlyActiveTags=true&limit=50&page=1",
            )

        # catalog: grow one registry from small to large
        cat_points = []
        made = 0
        for n in repo_sizes:
            want = n - 1  # plus the base repository
            t0 = time.perf_counter()
            names = [f"{NAMESPACE}/r{i:06d}" for i in range(made, want)]
            for start in range(0, len(names), SCOPES_PER_TOKEN):
                batch = names[start : start + SCOPES_PER_TOKEN]
                auth = await client.bearer(
                    [f"repository:{r}:pull,push" for r in batch] + [f"repository:{BASE_REPO}:pull"]
                )

                async def make_repo(i: int, batch: list[str] = batch, auth: str = auth) -> None:
                    repo = batch[i]
                    await client.mount(repo, _sha(config), auth)
                    await client.mount(repo, _sha(layer), auth)
                    await client.put_manifest(repo, "base", manifest, auth)

                await _bounded(SEED_CONCURRENCY, len(batch), make_repo)
            client.tokens.clear()
            made = max(made, want)
            seed_s = time.perf_counter() - t0
            _log(f"{n} repositories in the registry (+{len(names)} in {seed_s:.1f}s)")
            cat_auth = await client.catalog_auth()
            items, pages, ms, k = await _time_listing(
                client, "/v2/_catalog", "repositories", cat_auth, min_samples, min_time
            )
            if items < n:
                raise GrowthError(f"/v2/_catalog returned {items} repositories, expected >= {n}")
            cat_points.append(Point(items, pages, ms, k, seed_s))
            _log(f"catalog of {items}: {ms:.2f} ms in {pages} page(s)")
            await ui_pair(
                ui_repos,
                n,
                f"/repository/?view=ns:{NAMESPACE}",
                f"/api/v1/repository?namespace={NAMESPACE}&last_modified=true",
            )

        # robots: one organization grown from small to large; its robots tab lists them all
        # (as Quay's does), so here the cost per robot is what must stay flat
        made = 0
        for n in robot_sizes:
            if ui_error is not None:
                break
            try:
                if not signed_in:
                    await web.sign_in()
                    signed_in = True
                if made == 0:
                    await web.api_write(
                        "POST", "/api/v1/organization/",
                        {"name": ROBOT_ORG, "email": f"{ROBOT_ORG}@example.com"},
                    )  # fmt: skip
                t0 = time.perf_counter()

                async def make_robot(i: int, start: int = made) -> None:
                    await web.api_write(
                        "PUT", f"/api/v1/organization/{ROBOT_ORG}/robots/r{start + i:06d}",
                        {"description": f"growth robot {start + i}"},
                    )  # fmt: skip

                await _bounded(SEED_CONCURRENCY // 4, n - made, make_robot)
                _log(f"{n} robots in {ROBOT_ORG} (+{n - made} in {time.perf_counter() - t0:.1f}s)")
                made = n
            except (GrowthError, httpx.HTTPError) as e:
                ui_error = f"robots: {e}"
                _log(f"web UI robots FAILED: {e}")
                break
            await ui_pair(
                ui_robots,
                n,
                f"/organization/{ROBOT_ORG}?tab=robots",
                f"/api/v1/organization/{ROBOT_ORG}/robots?permissions=true&token=false",
            )
    finally:
        await client.close()
        await web.close()

    def ui_summary(points: list[UiPoint]) -> dict[str, Any]:
        small, large = points[0], points[-1]
        growth = large.ui_ms / small.ui_ms if len(points) > 1 and small.ui_ms else None
        return {
            "points": [p.as_dict() for p in points],
            "ui_large_over_small": round(growth, 3) if growth else None,
            "worst_ui_over_api": max(p.as_dict()["ui_over_api"] or 0 for p in points),
        }

    def summary(points: list[Point]) -> dict[str, Any]:
        small, large = points[0], points[-1]
        ratio = large.per_item_us / small.per_item_us if small.per_item_us else None
        return {"points": [p.as_dict() for p in points], "per_item_ratio": ratio}

    out = {"tags_list": summary(tag_points), "catalog": summary(cat_points)}
    ui: dict[str, Any] = {}
    if ui_tags:
        ui["tags_tab"] = ui_summary(ui_tags)
    if ui_repos:
        ui["repository_list"] = ui_summary(ui_repos)
    if ui_robots:
        ui["robots_tab"] = ui_summary(ui_robots)
        if len(ui_robots) > 1:  # the whole list: per robot, large over small
            small, large = ui_robots[0], ui_robots[-1]
            ui["robots_tab"]["ui_per_item_large_over_small"] = round(
                (large.ui_ms / large.items) / (small.ui_ms / small.items), 3
            )
    if ui_error is not None:
        ui["error"] = ui_error
    out["web_ui"] = ui
    if client.catalog_scope_refused:
        out["catalog"]["note"] = (
            "token scope registry:catalog:* refused "
            f"({client.catalog_scope_refused}); timed with a scope-less token"
        )
    return out


def run_growth(
    url: str,
    pid: int,
    user: str,
    password: str,
    tag_sizes: tuple[int, int],
    repo_sizes: tuple[int, int],
    robot_sizes: tuple[int, int] = (100, 1_000),
    *,
    min_samples: int = 5,
    min_time: float = 2.0,
) -> dict[str, Any]:
    """Seed and time; returns the JSON-able result (ratios, points, peak RSS)."""
    with RssSampler(pid) as rss:
        t0 = time.perf_counter()
        result = asyncio.run(
            _run(url, user, password, tag_sizes, repo_sizes, robot_sizes, min_samples, min_time)
        )
    result["rss_peak_mb"] = round(rss.peak_mb, 1)
    result["elapsed_s"] = round(time.perf_counter() - t0, 1)
    return result


async def _catalog_pair(
    a_url: str, b_url: str, user: str, password: str, reps: int, min_samples: int, min_time: float
) -> dict[str, Any]:
    a = Client(a_url, user, password)
    b = Client(b_url, user, password)
    try:
        await a.probe(open_ok=True)
        await b.probe()
        auth = {id(a): await a.catalog_auth(), id(b): await b.catalog_auth()}
        runs: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
        for rep in range(reps):
            order = [("a", a), ("b", b)] if rep % 2 == 0 else [("b", b), ("a", a)]
            for label, client in order:
                items, pages, ms, k = await _time_listing(
                    client, "/v2/_catalog", "repositories", auth[id(client)], min_samples, min_time
                )
                runs[label].append({"ms": ms, "items": items, "pages": pages, "samples": k})
    finally:
        await a.close()
        await b.close()
    paired = [rb["ms"] / ra["ms"] for ra, rb in zip(runs["a"], runs["b"], strict=True)]
    return {
        "a_ms": statistics.median(r["ms"] for r in runs["a"]),
        "b_ms": statistics.median(r["ms"] for r in runs["b"]),
        "ratio_b_over_a": statistics.median(paired),
        "paired_ratios": paired,
        "runs": runs,
        "note": (
            f"Berth refused the token scope registry:catalog:* ({b.catalog_scope_refused}); "
            "timed by berth bench with a token without scopes (distribution: no auth), same "
            "repositories, full listing following Link, median of paired runs"
        ),
    }


def catalog_fallback(
    a_url: str, b_url: str, user: str, password: str, *, reps: int = 3, quick: bool = False
) -> dict[str, Any]:
    """Time the full catalog of A (no auth) and B (token) when regbench could not."""
    return asyncio.run(
        _catalog_pair(
            a_url,
            b_url,
            user,
            password,
            reps,
            3 if quick else 5,
            0.5 if quick else 2.0,
        )
    )
