"""``UpstreamClient``: the one way Berth talks to another registry (proxy cache, mirroring).

Every request goes through ``berth.outbound`` (its SSRF guard at every connection, its
timeouts, its retries with backoff for idempotent requests, its proxies and CA
certificates); this module adds the registry protocol on top:

* authentication as the upstream asks (``WWW-Authenticate``): the Docker token flow
  (``Bearer realm=...,service=...,scope=...``: a token fetched from the realm with the
  credentials as HTTP Basic, or anonymously, kept per scope until it expires) or HTTP Basic;
* manifests of every media type (OCI index and image, Docker schema 2 and list, artifacts),
  read up to a size limit and verified: the body must hash to the digest asked for, and to
  the ``Docker-Content-Digest`` the upstream announces;
* blobs streamed (``open_blob``): the chunks hash as they pass and the stream raises
  ``UpstreamContentInvalid`` instead of ending when the bytes do not hash to the digest or
  exceed the expected size, so a consumer that stores while reading (``BlobStorage.write_blob``)
  never commits them; redirects (to object storage) are followed, each hop guarded, and the
  credentials are not sent to another origin;
* tag listing following the ``Link`` pages; referrers by the API, or by the
  ``sha256-<hex>`` tag when the upstream has no referrers API.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from berth.oci import mediatypes as mt
from berth.oci.digest import InvalidDigest, UnsupportedDigest, digest_of, new_hasher, parse_digest
from berth.outbound import DestinationRefused, OutboundClient, OutboundError, Timeouts
from berth.upstream.errors import (
    UpstreamAuthFailed,
    UpstreamContentInvalid,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRefused,
    UpstreamUnavailable,
)
from berth.upstream.registry import UpstreamRegistry

MANIFEST_TYPES = (
    mt.OCI_INDEX,
    mt.OCI_MANIFEST,
    mt.DOCKER_MANIFEST_LIST,
    mt.DOCKER_MANIFEST,
)
ACCEPT_MANIFESTS = ", ".join(MANIFEST_TYPES)
DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024
_TOKEN_LEEWAY_S = 10.0
_PARAM_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_LINK_NEXT = re.compile(r"<([^>]+)>\s*;\s*rel=\"?next\"?")


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class UpstreamManifest:
    digest: str
    media_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class ManifestHead:
    digest: str
    media_type: str
    size: int


@dataclass(slots=True)
class UpstreamBlob:
    """An open blob download: ``size`` from Content-Length (None when not sent); iterate
    ``chunks()`` once, inside the ``open_blob`` context."""

    digest: str
    size: int | None
    _response: httpx.Response
    _limit: int | None
    _method: str = "GET"

    async def chunks(self) -> AsyncIterator[bytes]:
        algorithm = self.digest.split(":", 1)[0]
        hasher = new_hasher(algorithm)
        total = 0
        try:
            async for chunk in self._response.aiter_raw():
                total += len(chunk)
                if self._limit is not None and total > self._limit:
                    raise UpstreamContentInvalid(
                        f"blob {self.digest} is larger than {self._limit} bytes"
                    )
                hasher.update(chunk)
                yield chunk
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"blob {self.digest}: the download broke: {exc}") from exc
        if self.size is not None and total != self.size:
            raise UpstreamContentInvalid(
                f"blob {self.digest}: {total} bytes received, {self.size} announced"
            )
        actual = f"{algorithm}:{hasher.hexdigest()}"
        if actual != self.digest:
            raise UpstreamContentInvalid(
                f"blob {self.digest}: the upstream's bytes hash to {actual}"
            )


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {"realm": ..., "service": ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)).replace(
            '\\"', '"'
        )
        for m in _PARAM_RE.finditer(rest)
    }
    return scheme.lower(), params


def _check_digest(value: str) -> str:
    try:
        return str(parse_digest(value))
    except (InvalidDigest, UnsupportedDigest) as exc:
        raise UpstreamContentInvalid(f"{value!r} is not a digest: {exc}") from exc


def _is_digest(reference: str) -> bool:
    return ":" in reference


class UpstreamClient:
    """One upstream registry, with optional credentials, over an ``OutboundClient``.

    ``outbound`` decides TLS verification and extra CAs (``OutboundClients.client`` gives one
    per verification choice). Tokens are kept per scope in this object: build one per
    upstream configuration and reuse it.
    """

    def __init__(
        self,
        outbound: OutboundClient,
        registry: UpstreamRegistry,
        credentials: Credentials | None = None,
        *,
        max_manifest_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
        max_blob_bytes: int | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.outbound = outbound
        self.registry = registry
        self.credentials = credentials
        self.max_manifest_bytes = max_manifest_bytes
        self.max_blob_bytes = max_blob_bytes
        self.timeouts = timeouts
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (header value, expires at)
        self._basic = False  # the upstream asked for HTTP Basic

    # ---- authentication ----------------------------------------------------------------
    def _auth_header(self, scope: str) -> str | None:
        if self._basic and self.credentials is not None:
            return self.credentials.basic()
        held = self._tokens.get(scope)
        if held is not None and held[1] > time.monotonic():
            return held[0]
        return None

    async def _authenticate(self, challenge: str, scope: str) -> bool:
        """Answer a 401's challenge; False when there is nothing more to try."""
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if self.credentials is None or self._basic:
                return False
            self._basic = True
            return True
        if scheme != "bearer" or "realm" not in params:
            return False
        query = {"service": params["service"]} if params.get("service") else {}
        if scope:
            query["scope"] = scope
        headers = {"Authorization": self.credentials.basic()} if self.credentials else {}
        response = await self._call("GET", params["realm"], headers=headers, params=query)
        if response.status_code in (401, 403):
            raise UpstreamAuthFailed(
                f"{self.registry.host}: the token service refused "
                f"{'the credentials' if self.credentials else 'anonymous access'}"
                f" ({response.status_code})"
            )
        if response.status_code != 200:
            raise UpstreamUnavailable(
                f"{self.registry.host}: the token service answered {response.status_code}"
            )
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
            expires_in = float(body.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError) as exc:
            raise UpstreamUnavailable(f"{self.registry.host}: unreadable token answer") from exc
        if not isinstance(token, str) or not token:
            raise UpstreamUnavailable(f"{self.registry.host}: the token answer has no token")
        expires = time.monotonic() + max(expires_in - _TOKEN_LEEWAY_S, 1.0)
        self._tokens[scope] = (f"Bearer {token}", expires)
        return True

    # ---- transport ---------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            return await self.outbound.request(
                method, url, headers=headers, params=params, timeout=self.timeouts
            )
        except DestinationRefused as exc:
            raise UpstreamRefused(str(exc)) from exc
        except OutboundError as exc:
            raise UpstreamUnavailable(f"{self.registry.host}: {exc}") from exc

    @contextlib.asynccontextmanager
    async def _open(
        self,
        method: str,
        path: str,
        scope: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        follow_redirects: bool = False,
        retry: bool | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """A response whose body the caller reads; a 401 is answered once and retried.
        ``retry``: the outbound client's retries (None: its default for the method)."""
        url = self.registry.base_url + path
        for attempt in range(2):
            sent = dict(headers or {})
            if auth := self._auth_header(scope):
                sent["Authorization"] = auth
            try:
                async with self.outbound.stream(
                    method,
                    url,
                    headers=sent,
                    params=params,
                    timeout=self.timeouts,
                    follow_redirects=follow_redirects,
                    retry=retry,
                ) as response:
                    if response.status_code == 401 and attempt == 0:
                        challenge = response.headers.get("www-authenticate", "")
                        if await self._authenticate(challenge, scope):
                            continue
                    if response.status_code in (401, 403):
                        raise UpstreamAuthFailed(
                            f"{self.registry.host}: {method} {path} refused "
                            f"({response.status_code})"
                        )
                    yield response
                    return
            except DestinationRefused as exc:
                raise UpstreamRefused(str(exc)) from exc
            except OutboundError as exc:
                raise UpstreamUnavailable(f"{self.registry.host}: {exc}") from exc
        raise UpstreamAuthFailed(f"{self.registry.host}: {method} {path} refused (401)")

    def _scope(self, repository: str) -> str:
        return f"repository:{repository}:pull"

    def _status(self, response: httpx.Response, what: str) -> None:
        if response.status_code == 404:
            raise UpstreamNotFound(f"{self.registry.host}: {what} not found")
        if response.status_code >= 300:
            raise UpstreamUnavailable(
                f"{self.registry.host}: {what}: the upstream answered {response.status_code}"
            )

    # ---- the API -----------------------------------------------------------------------
    async def ping(self, *, retry: bool | None = None) -> bool:
        """Check the credentials (or anonymous access) against ``/v2/``: True when
        credentials were given and accepted, False when anonymous access works. Raises
        ``UpstreamAuthFailed`` when refused. ``retry=False``: one attempt (a probe)."""
        async with self._open("GET", "/v2/", "", retry=retry) as response:
            await response.aread()
            if response.status_code >= 300:
                raise UpstreamUnavailable(
                    f"{self.registry.host}: /v2/ answered {response.status_code}"
                )
        return self.credentials is not None

    async def head_manifest(self, repository: str, reference: str) -> ManifestHead:
        path = f"/v2/{repository}/manifests/{reference}"
        async with self._open(
            "HEAD", path, self._scope(repository), headers={"Accept": ACCEPT_MANIFESTS}
        ) as response:
            self._status(response, f"manifest {repository}:{reference}")
            digest = response.headers.get("docker-content-digest")
            media_type = response.headers.get("content-type", "").split(";")[0].strip()
            size = int(response.headers.get("content-length") or 0)
        if not digest:
            # No digest in the answer (allowed by the spec): the body tells.
            got = await self.get_manifest(repository, reference)
            return ManifestHead(got.digest, got.media_type, len(got.content))
        digest = _check_digest(digest)
        if _is_digest(reference) and digest != reference:
            raise UpstreamContentInvalid(
                f"manifest {repository}@{reference}: the upstream announced {digest}"
            )
        return ManifestHead(digest, media_type, size)

    async def get_manifest(self, repository: str, reference: str) -> UpstreamManifest:
        """The manifest, verified against the digest asked for (by digest) and the digest
        the upstream announced; at most ``max_manifest_bytes``."""
        path = f"/v2/{repository}/manifests/{reference}"
        what = f"manifest {repository}:{reference}"
        async with self._open(
            "GET", path, self._scope(repository), headers={"Accept": ACCEPT_MANIFESTS}
        ) as response:
            self._status(response, what)
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > self.max_manifest_bytes:
                raise UpstreamContentInvalid(
                    f"{what} is larger than {self.max_manifest_bytes} bytes"
                )
            parts: list[bytes] = []
            total = 0
            try:
                async for chunk in response.aiter_raw():
                    total += len(chunk)
                    if total > self.max_manifest_bytes:
                        raise UpstreamContentInvalid(
                            f"{what} is larger than {self.max_manifest_bytes} bytes"
                        )
                    parts.append(chunk)
            except httpx.HTTPError as exc:
                raise UpstreamUnavailable(f"{what}: the download broke: {exc}") from exc
            announced = response.headers.get("docker-content-digest")
            media_type = response.headers.get("content-type", "").split(";")[0].strip()
        content = b"".join(parts)
        if _is_digest(reference):
            expected = _check_digest(reference)
        elif announced:
            expected = _check_digest(announced)
        else:
            expected = digest_of(content)
        algorithm = expected.split(":", 1)[0]
        actual = digest_of(content, algorithm)
        if actual != expected:
            raise UpstreamContentInvalid(f"{what}: the body hashes to {actual}, not {expected}")
        if announced and _check_digest(announced) != digest_of(content, announced.split(":", 1)[0]):
            raise UpstreamContentInvalid(f"{what}: the body does not hash to {announced}")
        if not media_type or media_type in ("application/json", "application/octet-stream"):
            media_type = _media_type_of(content) or media_type
        return UpstreamManifest(actual, media_type, content)

    @contextlib.asynccontextmanager
    async def open_blob(
        self, repository: str, digest: str, *, expected_size: int | None = None
    ) -> AsyncIterator[UpstreamBlob]:
        """The blob's stream (see ``UpstreamBlob``); redirects are followed."""
        digest = _check_digest(digest)
        path = f"/v2/{repository}/blobs/{digest}"
        async with self._open(
            "GET", path, self._scope(repository), follow_redirects=True
        ) as response:
            self._status(response, f"blob {repository}@{digest}")
            declared = response.headers.get("content-length")
            size = int(declared) if declared and declared.isdigit() else expected_size
            if expected_size is not None and size != expected_size:
                raise UpstreamContentInvalid(
                    f"blob {digest}: {size} bytes announced, {expected_size} expected"
                )
            limit = self.max_blob_bytes
            if limit is not None and size is not None and size > limit:
                raise UpstreamContentInvalid(f"blob {digest} is larger than {limit} bytes")
            yield UpstreamBlob(digest, size, response, limit)

    async def blob_size(self, repository: str, digest: str) -> int:
        digest = _check_digest(digest)
        path = f"/v2/{repository}/blobs/{digest}"
        async with self._open(
            "HEAD", path, self._scope(repository), follow_redirects=True
        ) as response:
            self._status(response, f"blob {repository}@{digest}")
            return int(response.headers.get("content-length") or 0)

    async def list_tags(self, repository: str, *, page_size: int = 1000) -> list[str]:
        """Every tag, following the ``Link: <...>; rel="next"`` pages."""
        tags: list[str] = []
        next_path: str | None = f"/v2/{repository}/tags/list"
        params: dict[str, str] | None = {"n": str(page_size)}
        seen: set[str] = set()
        while next_path is not None:
            if next_path in seen:
                break  # a server that links a page to itself
            seen.add(next_path)
            async with self._open(
                "GET", next_path, self._scope(repository), params=params
            ) as response:
                self._status(response, f"tags of {repository}")
                body = await _json_body(response, 8 * 1024 * 1024)
                link = response.headers.get("link")
            tags += [t for t in body.get("tags") or [] if isinstance(t, str)]
            next_path, params = None, None
            if link and (m := _LINK_NEXT.search(link)):
                target = httpx.URL(m.group(1))
                next_path = target.raw_path.decode("ascii")
        return tags

    async def referrers(
        self, repository: str, digest: str, *, artifact_type: str | None = None
    ) -> list[dict[str, Any]]:
        """Descriptors of the manifests whose subject is ``digest``: the referrers API, or
        the ``<alg>-<hex>`` tag schema when the upstream has no such API (404)."""
        digest = _check_digest(digest)
        path = f"/v2/{repository}/referrers/{digest}"
        params = {"artifactType": artifact_type} if artifact_type else None
        async with self._open("GET", path, self._scope(repository), params=params) as response:
            status = response.status_code
            ctype = response.headers.get("content-type", "")
            body = await _json_body(response, self.max_manifest_bytes) if status == 200 else {}
        if status == 200 and (mt.OCI_INDEX in ctype or "manifests" in body):
            found = [d for d in body.get("manifests") or [] if isinstance(d, dict)]
        elif status in (404, 405, 400):
            try:
                index = await self.get_manifest(repository, digest.replace(":", "-", 1))
            except UpstreamNotFound:
                return []
            try:
                parsed = json.loads(index.content)
            except ValueError:
                return []
            listed = parsed.get("manifests") if isinstance(parsed, dict) else None
            found = [d for d in listed or [] if isinstance(d, dict)]
        else:
            raise UpstreamUnavailable(
                f"{self.registry.host}: referrers of {repository}@{digest}: {status}"
            )
        if artifact_type is not None:
            found = [d for d in found if d.get("artifactType") == artifact_type]
        return found


async def _json_body(response: httpx.Response, limit: int) -> dict[str, Any]:
    parts: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limit:
            raise UpstreamContentInvalid(f"answer larger than {limit} bytes")
        parts.append(chunk)
    try:
        body = json.loads(b"".join(parts) or b"{}")
    except ValueError as exc:
        raise UpstreamUnavailable("the upstream's answer is not JSON") from exc
    if not isinstance(body, dict):
        raise UpstreamUnavailable("the upstream's answer is not a JSON object")
    return body


def _media_type_of(content: bytes) -> str | None:
    try:
        body = json.loads(content)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    declared = body.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if "manifests" in body:
        return mt.OCI_INDEX
    if "layers" in body:
        return mt.OCI_MANIFEST
    return None


__all__ = [
    "ACCEPT_MANIFESTS",
    "Credentials",
    "ManifestHead",
    "UpstreamBlob",
    "UpstreamClient",
    "UpstreamError",
    "UpstreamManifest",
]
