"""Request limits enforced before any handler runs."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

MAX_HEADER_BYTES = 64 * 1024  # request line + headers, as most proxies allow


class HeaderLimit:
    """Refuse requests whose URL and headers exceed ``limit`` bytes with 431 and a JSON body."""

    def __init__(self, app: ASGIApp, limit: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            total = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
            for name, value in scope["headers"]:
                total += len(name) + len(value) + 4
            if total > self.limit:
                body = (
                    b'{"errors":[{"code":"SIZE_INVALID","message":"request headers are larger '
                    b'than %d bytes","detail":{}}]}' % self.limit
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 431,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
