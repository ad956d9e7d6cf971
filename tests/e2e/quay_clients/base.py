"""What the replayed clients share: python-requests' ``raise_for_status`` and a session."""

from __future__ import annotations

from typing import Any

import httpx


class ClientFailed(Exception):
    """The client gave up: what ``raise_for_status`` or an Ansible ``fail_json`` reports."""

    def __init__(self, message: str, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.response = response

    @property
    def status(self) -> int | None:
        return self.response.status_code if self.response is not None else None


def raise_for_status(resp: httpx.Response) -> httpx.Response:
    """python-requests: any 4xx/5xx raises (redirects were already followed)."""
    if resp.status_code >= 400:
        raise ClientFailed(
            f"{resp.status_code} for {resp.request.method} {resp.request.url}: {resp.text[:300]}",
            resp,
        )
    return resp


def session(base_url: str = "", **headers: str) -> httpx.Client:
    """A python-requests-like session: follows redirects (308 keeps method and body)."""
    return httpx.Client(base_url=base_url, headers=headers, follow_redirects=True, timeout=60.0)


def json_of(resp: httpx.Response) -> Any:
    return resp.json() if resp.content else None
