"""Push throughput with a webhook notification on the repository, against without one.

Issue 14 asks that delivery stay off the push's hot path: throughput with a webhook
configured >= 0.95x throughput without. Against one fresh Berth (``SSRF_ALLOWED_HOSTS``
allowing the local receiver):

* two repositories get the same tiny image (``plain`` and ``hooked``); ``hooked`` gets a
  ``repo_push`` webhook to an HTTP receiver running in this process (a thread);
* rounds alternate the two repositories (ABBA order), each round pushing ``n`` new tags
  (manifest PUTs, ``conc`` at once) and timing it;
* the result is the median rate of each, their ratio, and whether the receiver got one
  delivery per tag pushed to ``hooked`` with distinct delivery ids (waited for after the
  timing, so deliveries running during the rounds compete for the same CPU, as in
  production).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
from aiohttp import web

from bench.growth import BASE_REPO, Client, GrowthError, _bounded, _image, _sha

PLAIN = "notify/plain"
HOOKED = "notify/hooked"


@contextlib.contextmanager
def _receiver(port: int) -> Iterator[list[str]]:
    """An HTTP receiver on 127.0.0.1:port; yields the delivery ids received."""
    ids: list[str] = []
    ready = threading.Event()
    stop: list[Any] = []

    async def handle(request: web.Request) -> web.Response:
        ids.append(str(orjson.loads(await request.read()).get("delivery_id")))
        return web.Response(text="ok")

    def serve() -> None:
        loop = asyncio.new_event_loop()

        async def main() -> None:
            done = asyncio.Event()
            stop.append(lambda: loop.call_soon_threadsafe(done.set))
            app = web.Application()
            app.router.add_post("/hook", handle)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            ready.set()
            await done.wait()
            await runner.cleanup()

        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=serve, name="bench-receiver", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise GrowthError("the webhook receiver did not start")
    try:
        yield ids
    finally:
        stop[0]()
        thread.join(10)


def _create_webhook(url: str, user: str, password: str, hook: str) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        csrf = http.get("/csrf_token").json()["csrf_token"]
        r = http.post(
            "/api/v1/signin",
            json={"username": user, "password": password},
            headers={"X-CSRF-Token": csrf},
        )
        if r.status_code != 200:
            raise GrowthError(f"signin -> {r.status_code}: {r.text[:200]}")
        r = http.post(
            f"/api/v1/repository/{HOOKED}/notification/",
            json={
                "event": "repo_push",
                "method": "webhook",
                "config": {"url": hook},
                "eventConfig": {},
            },
            headers={"X-CSRF-Token": r.headers["x-next-csrf-token"]},
        )
        if r.status_code != 201:
            raise GrowthError(f"creating the webhook -> {r.status_code}: {r.text[:200]}")


async def _run(
    url: str, user: str, password: str, port: int, n: int, rounds: int, conc: int
) -> dict[str, Any]:
    config, layer, manifest = _image()
    client = Client(url, user, password)
    try:
        await client.probe()
        auth = await client.bearer(
            [f"repository:{r}:pull,push" for r in (BASE_REPO, PLAIN, HOOKED)]
        )
        await client.upload(BASE_REPO, config, auth)
        await client.upload(BASE_REPO, layer, auth)
        for repo in (PLAIN, HOOKED):
            await client.mount(repo, _sha(config), auth)
            await client.mount(repo, _sha(layer), auth)
            await client.put_manifest(repo, "base", manifest, auth)
        await asyncio.to_thread(
            _create_webhook, url, user, password, f"http://127.0.0.1:{port}/hook"
        )
        rates: dict[str, list[float]] = {PLAIN: [], HOOKED: []}
        for r in range(rounds):
            order = (PLAIN, HOOKED) if r % 2 == 0 else (HOOKED, PLAIN)
            for repo in order:

                async def put(i: int, repo: str = repo, r: int = r) -> None:
                    await client.put_manifest(repo, f"r{r}-{i:06d}", manifest, auth)

                t0 = time.perf_counter()
                await _bounded(conc, n, put)
                rates[repo].append(n / (time.perf_counter() - t0))
    finally:
        await client.close()
    plain, hooked = statistics.median(rates[PLAIN]), statistics.median(rates[HOOKED])
    return {
        "pushes_per_round": n,
        "rounds": rounds,
        "concurrency": conc,
        "without_per_s": round(plain, 1),
        "with_webhook_per_s": round(hooked, 1),
        "ratio": round(hooked / plain, 3) if plain else None,
        "rates": {k: [round(v, 1) for v in vs] for k, vs in rates.items()},
    }


def run_notify(
    url: str, user: str, password: str, port: int, *, n: int = 500, rounds: int = 4, conc: int = 8
) -> dict[str, Any]:
    """Time the rounds, then wait (bounded) for every delivery; returns the JSON result."""
    with _receiver(port) as ids:
        result = asyncio.run(_run(url, user, password, port, n, rounds, conc))
        expected = n * rounds  # the "base" tags were pushed before the webhook existed
        deadline = time.monotonic() + 300
        while len(ids) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        result["deliveries"] = len(ids)
        result["distinct_delivery_ids"] = len(set(ids))
        result["all_delivered"] = len(set(ids)) == expected
    return result
