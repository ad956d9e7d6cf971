"""What operators and load balancers read: Quay's ``/health/instance`` and
``/health/endtoend``, Prometheus's ``/metrics``, and the middleware that measures requests.

Health answers have Quay's shape, ``{"data": {"services": {name: bool}}, "status_code": N}``
with HTTP status N (200 healthy, 503 not); why a check failed goes to the log, not to
anonymous callers.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from berth.metrics import Recorder, route_kind
from berth.metrics.prometheus import CONTENT_TYPE, Sample

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from berth.health.services import Health
    from berth.services import Services


class RequestMetrics:
    """Reports every HTTP request to the recorder: route kind, status, time, body bytes."""

    def __init__(self, app: ASGIApp, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        sent = 0
        received = 0

        async def counting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        method = scope["method"]
        try:
            await self.app(
                scope, receive if method in ("GET", "HEAD") else counting_receive, counting_send
            )
        finally:
            self.recorder.request(
                route_kind(scope["path"]),
                method,
                status,
                time.perf_counter() - started,
                received,
                sent,
            )


def _health_response(health: Health) -> Response:
    body = {"data": {"services": health.services}, "status_code": health.status_code}
    return Response(
        orjson.dumps(body), status_code=health.status_code, media_type="application/json"
    )


def observe_routes(svc: Services) -> list[Route]:
    async def instance(_request: Request) -> Response:
        assert svc.health is not None
        return _health_response(await svc.health.instance())

    async def endtoend(_request: Request) -> Response:
        assert svc.health is not None
        return _health_response(await svc.health.endtoend())

    async def metrics(_request: Request) -> Response:
        samples = [Sample("berth_uploads_in_flight", "Upload sessions started and not yet "
                          "finished.", await svc.registry.uploads_in_flight())]  # fmt: skip
        for lane, (depth, age) in sorted((await svc.jobs.lane_stats()).items()):
            samples.append(
                Sample("berth_jobs_queued", "Jobs waiting in each lane.", depth, {"lane": lane})
            )
            samples.append(
                Sample(
                    "berth_jobs_oldest_age_seconds",
                    "How long the oldest due job of each lane has waited.",
                    age,
                    {"lane": lane},
                )
            )
        return Response(svc.metrics.render(samples), media_type=CONTENT_TYPE)

    return [
        Route("/health/instance", instance, methods=["GET"]),
        Route("/health", instance, methods=["GET"]),  # Quay's aliases
        Route("/health/endtoend", endtoend, methods=["GET"]),
        Route("/status", endtoend, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
