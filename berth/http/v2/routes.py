"""The registry protocol: OCI Distribution 1.1 and Docker Registry HTTP API v2.

Repository names may contain slashes, so one route takes the whole path and the tail
(``/manifests/<ref>``, ``/blobs/uploads/<id>`` ...) picks the handler. Handlers only parse
HTTP, ask ``AuthService.allowed`` and call the registry services.
"""

from __future__ import annotations

import os
import re
import stat
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, overload

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from berth.audit.services import Performer
from berth.auth.errors import AuthError, InvalidCredentials
from berth.auth.services import Caller
from berth.authz import ANONYMOUS, Action
from berth.http.v2.errors import API_VERSION, error_response, translate
from berth.oci import mediatypes as mt
from berth.registry.errors import (
    BlobUploadInvalid,
    DigestInvalid,
    NameUnknown,
    RangeInvalid,
    RegistryError,
    SizeInvalid,
)
from berth.registry.pullthrough import STALE
from berth.registry.repositories import RepoName, RepoRow

if TYPE_CHECKING:
    from starlette.types import Send

    from berth.services import Services

RouteHandler = Callable[["V2", Request, "Ctx", re.Match[str]], Awaitable[Response]]

#: Quay's log kinds of a refused registry action (ACTION_LOG_AUDIT_*_FAILURES), and the
#: message its v2 ``Unauthorized`` carries into their metadata.
_REFUSAL_KINDS: dict[str, str] = {
    Action.PULL: "pull_repo_failed",
    Action.PUSH: "push_repo_failed",
    Action.DELETE: "delete_tag_failed",
}
UNAUTHORIZED_MESSAGE = "access to the requested resource is not authorized"

_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Ctx:
    """Per-request context: the services, the caller and the repository name."""

    __slots__ = ("caller", "repo", "svc")

    def __init__(self, svc: Services, caller: Caller, repo: RepoName) -> None:
        self.svc = svc
        self.caller = caller
        self.repo = repo

    def performer(self, request: Request) -> Performer | None:
        """Who acts, for the usage log (None: anonymous)."""
        p = self.caller.principal
        if p.is_anonymous or not p.name:
            return None
        return Performer(p.name, p.user_id, request.client.host if request.client else None)

    def log_meta(self, request: Request) -> dict[str, object]:
        """What Quay adds to a registry action's log metadata: the user agent and the
        caller's public details (``username``; ``is_robot`` for a robot)."""
        p = self.caller.principal
        meta: dict[str, object] = {"user-agent": request.headers.get("user-agent", "")}
        if not p.is_anonymous and p.name:
            meta["username"] = p.name
            if p.is_robot:
                meta["is_robot"] = True
        return meta


def _json(
    data: object,
    status: int = 200,
    headers: dict[str, str] | None = None,
    media_type: str = "application/json",
) -> Response:
    return Response(
        orjson.dumps(data),
        status_code=status,
        media_type=media_type,
        headers={**API_VERSION, **(headers or {})},
    )


def _empty(status: int, headers: dict[str, str]) -> Response:
    return Response(b"", status_code=status, headers={**API_VERSION, **headers})


class _BlobStream(StreamingResponse):
    """A blob's chunks as the storage driver yields them: bytes, or (on a transient read) its
    own bytearray buffers, which Starlette's StreamingResponse would refuse and which Granian
    copies before ``send`` returns."""

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        async for chunk in self.body_iterator:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _range_header(size: int) -> str:
    return f"0-{max(size - 1, 0)}"


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        from berth.registry.errors import TooLarge

        raise TooLarge(f"body is larger than {limit} bytes", {"size": int(declared)})
    parts: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            from berth.registry.errors import TooLarge

            raise TooLarge(f"body is larger than {limit} bytes", {"size": total})
        parts.append(chunk)
    return b"".join(parts)


class V2:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        s = svc.settings
        self.realm = f"{s.base_url}/v2/auth"
        self.service = s.server_hostname
        self.page_size = max(s.api.v2_pagination_size, 100)
        self.public_catalog = s.api.public_catalog
        self.anonymous_access = s.auth.anonymous_access
        self.open = s.auth.open_registry
        self.rate_limited = s.rate_limits.enabled

    async def _limited(self, request: Request, caller: Caller, repo: RepoName) -> Response | None:
        """BERTH_RATE_LIMITS' ``v2`` (and the namespace's override): 429 with Retry-After."""
        p = caller.principal
        ip = request.client.host if request.client else "-"
        who = f"{p.kind}:{p.name}" if not p.is_anonymous else f"ip:{ip}"
        limited = await self.svc.limiter.check("v2", who, repo.namespace)
        if limited is None:
            return None
        return error_response(
            "TOO_MANY_REQUESTS",
            f"too many requests: retry after {limited.retry_after_s} seconds",
            {"limit": limited.bucket},
            headers={"Retry-After": str(limited.retry_after_s)},
        )

    # ---- auth helpers -------------------------------------------------------------------
    def challenge(self, scope: str | None = None, error: str | None = None) -> str:
        value = f'Bearer realm="{self.realm}",service="{self.service}"'
        if scope:
            value += f',scope="{scope}"'
        if error:
            value += f',error="{error}"'
        return value

    async def require(
        self, request: Request, ctx: Ctx, action: str, reference: str | None = None
    ) -> Response | None:
        """None when allowed; otherwise the 401/403 answer. A refused manifest pull, push
        or delete (``reference`` given) is logged when ACTION_LOG_AUDIT_*_FAILURES ask."""
        if await self.svc.auth.allowed(ctx.caller, ctx.repo, action):
            return None
        if reference is not None:
            kind = _REFUSAL_KINDS.get(action)
            logs = self.svc.usage_logs
            if kind is not None and logs.audits_refusal(kind):
                who = ctx.performer(request) or Performer(
                    None, None, request.client.host if request.client else None
                )
                await logs.record_refusal(
                    kind, ctx.repo.namespace, ctx.repo.name, reference, who, UNAUTHORIZED_MESSAGE
                )
        wanted = (
            "pull" if action == Action.PULL else ("pull,push" if action == Action.PUSH else "*")
        )
        scope = f"repository:{ctx.repo.full}:{wanted}"
        if ctx.caller.principal.is_anonymous or ctx.caller.via_token:
            return error_response(
                "UNAUTHORIZED",
                "authentication required",
                [{"Type": "repository", "Name": ctx.repo.full, "Action": wanted}],
                headers={
                    "WWW-Authenticate": self.challenge(
                        scope, "insufficient_scope" if ctx.caller.via_token else None
                    )
                },
            )
        return error_response(
            "DENIED",
            "requested access to the resource is denied",
            {"repository": ctx.repo.full, "action": wanted},
        )

    # ---- entry points ------------------------------------------------------------------
    async def base(self, request: Request) -> Response:
        try:
            caller = await self.svc.auth.caller(request.headers.get("authorization"))
        except AuthError as e:
            return translate(e, self.challenge()) or error_response("UNAUTHORIZED", str(e))
        if caller.principal.is_anonymous and not caller.via_token and not self.open:
            return error_response(
                "UNAUTHORIZED",
                "authentication required",
                headers={"WWW-Authenticate": self.challenge()},
            )
        return _json({})

    async def token(self, request: Request) -> Response:
        auth = self.svc.auth
        params = request.query_params
        try:
            scopes = auth.parse_scopes(params.getlist("scope"))
            header = request.headers.get("authorization")
            if header and header.lower().startswith("basic "):
                username, password = auth.parse_basic(header)
                principal = await auth.authenticate_basic(
                    username, password, ip=request.client.host if request.client else None
                )
            elif header:
                raise InvalidCredentials("Unsupported authorization scheme")
            else:
                if not scopes:
                    raise InvalidCredentials("authentication required")
                if not self.anonymous_access:
                    raise InvalidCredentials("anonymous access is disabled")
                principal = ANONYMOUS
            token = await auth.issue_token(principal, service=params.get("service"), scopes=scopes)
        except (AuthError, RegistryError) as e:
            return translate(e, self.challenge()) or error_response("UNAUTHORIZED", str(e))
        return _json({"token": token})

    async def catalog(self, request: Request) -> Response:
        try:
            caller = await self.svc.auth.caller(request.headers.get("authorization"))
        except AuthError as e:
            return translate(e, self.challenge()) or error_response("UNAUTHORIZED", str(e))
        scope = self.svc.auth.catalog_scope(caller.principal, public=self.public_catalog)
        try:
            n = self._page_n(request, self.page_size)
        except RegistryError as e:
            return translate(e) or error_response("INVALID_REQUEST", str(e))
        last = request.query_params.get("last")
        names, more = await self.svc.registry.manifests.catalog(scope, n=n, last=last)
        headers = {}
        if more and names:
            q = urllib.parse.urlencode({"n": n, "last": names[-1]})
            headers["Link"] = f'</v2/_catalog?{q}>; rel="next"'
        return _json({"repositories": names}, headers=headers)

    @overload
    @staticmethod
    def _page_n(request: Request, default: int, cap: int | None = None) -> int: ...
    @overload
    @staticmethod
    def _page_n(request: Request, default: None, cap: int | None = None) -> int | None: ...
    @staticmethod
    def _page_n(request: Request, default: int | None, cap: int | None = None) -> int | None:
        value = request.query_params.get("n")
        if value is None or value == "":
            return default
        if not value.isdigit():
            raise RegistryError("n must be a non-negative integer")
        n = int(value)
        limit = cap if cap is not None else default
        return min(n, limit) if limit is not None else n

    async def dispatch(self, request: Request) -> Response:
        path = request.path_params["path"]
        found = _route(request.method, path)
        if found is None:
            return error_response("NAME_UNKNOWN", "unknown route", {"path": path}, status=404)
        m, handler = found
        try:
            repo = self.svc.registry.name(m.group("name"))
        except RegistryError as e:
            return translate(e) or error_response("NAME_INVALID", str(e))
        try:
            caller = await self.svc.auth.caller(request.headers.get("authorization"))
        except AuthError as e:
            scope = f"repository:{repo.full}:pull"
            return translate(e, self.challenge(scope)) or error_response("UNAUTHORIZED", str(e))
        if self.rate_limited and (limited := await self._limited(request, caller, repo)):
            return limited
        ctx = Ctx(self.svc, caller, repo)
        try:
            return await handler(self, request, ctx, m)
        except ClientDisconnect:
            return Response(b"", status_code=400)
        except (RegistryError, AuthError) as e:
            resp = translate(e, self.challenge())
            if resp is None:
                raise
            return resp
        except Exception as e:
            resp = translate(e)
            if resp is None:
                raise
            return resp

    # ---- tags and referrers ------------------------------------------------------------
    async def h_tags(self, request: Request, ctx: Ctx, _m: re.Match[str]) -> Response:
        if denied := await self.require(request, ctx, Action.PULL):
            return denied
        n = self._page_n(request, None, cap=10000)
        last = request.query_params.get("last")
        names, more = await self.svc.registry.manifests.list_tags(ctx.repo, n=n, last=last)
        headers = {}
        if more and names:
            q = urllib.parse.urlencode({"n": n, "last": names[-1]})
            headers["Link"] = f'</v2/{ctx.repo.full}/tags/list?{q}>; rel="next"'
        return _json({"name": ctx.repo.full, "tags": names}, headers=headers)

    async def h_referrers(self, request: Request, ctx: Ctx, m: re.Match[str]) -> Response:
        if denied := await self.require(request, ctx, Action.PULL):
            return denied
        repo = await self.svc.registry.repository(ctx.repo)
        artifact_type = request.query_params.get("artifactType")
        items = await self.svc.registry.manifests.referrers(
            repo, m.group("digest"), artifact_type=artifact_type
        )
        headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type else {}
        return _json(
            {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": items},
            headers=headers,
            media_type=mt.OCI_INDEX,
        )

    # ---- manifests ---------------------------------------------------------------------
    async def h_manifest(self, request: Request, ctx: Ctx, m: re.Match[str]) -> Response:
        ref = m.group("ref")
        registry = self.svc.registry
        proxied = registry.pull_through is not None and await registry.pull_through.proxies(
            ctx.repo.namespace
        )
        if request.method in ("GET", "HEAD"):
            if denied := await self.require(request, ctx, Action.PULL, ref):
                return denied
            if proxied:
                return await self._proxied_manifest(request, ctx, ref)
            if request.method == "GET":  # a pull: logged through the pull log's buffer
                data = await registry.manifests.get(
                    ctx.repo, ref, pull_by=ctx.performer(request), log_meta=ctx.log_meta(request)
                )
            else:
                data = await registry.manifests.get(ctx.repo, ref)
            headers = {
                **API_VERSION,
                "Docker-Content-Digest": data.digest,
                "ETag": f'"{data.digest}"',
                "Content-Length": str(len(data.content)),
            }
            body = b"" if request.method == "HEAD" else data.content
            return Response(body, media_type=data.media_type, headers=headers)
        if request.method == "PUT":
            if (
                proxied
                and registry.pull_through is not None
                and not ctx.caller.principal.is_anonymous
            ):
                await registry.pull_through.refuse_push(ctx.repo)
            if denied := await self.require(request, ctx, Action.PUSH, ref):
                return denied
            body = await _read_limited(request, registry.manifests.max_bytes)
            repo = await registry.repository_for_push(
                ctx.repo,
                create=True,
                create_namespace=ctx.caller.principal.is_superuser or self.open,
            )
            result = await registry.manifests.put(
                repo,
                ref,
                body,
                request.headers.get("content-type"),
                performer=ctx.performer(request),
                log_meta=ctx.log_meta(request),
            )
            headers = {
                "Location": f"/v2/{ctx.repo.full}/manifests/{result.digest}",
                "Docker-Content-Digest": result.digest,
            }
            if result.subject:
                headers["OCI-Subject"] = result.subject
            return _empty(201, headers)
        if request.method == "DELETE":
            if denied := await self.require(request, ctx, Action.DELETE, ref):
                return denied
            repo = await registry.repository_for_push(ctx.repo, create=False)
            await registry.manifests.delete(
                repo, ref, performer=ctx.performer(request), log_meta=ctx.log_meta(request)
            )
            return _empty(202, {})
        return _method_not_allowed()

    async def _proxied_manifest(self, request: Request, ctx: Ctx, ref: str) -> Response:
        """A manifest of a proxy-cache organization (berth.registry.pullthrough)."""
        pull_through = self.svc.registry.pull_through
        assert pull_through is not None
        if request.method == "GET":
            pulled = await pull_through.manifest(
                ctx.repo, ref, pull_by=ctx.performer(request), log_meta=ctx.log_meta(request)
            )
        else:
            pulled = await pull_through.manifest(ctx.repo, ref)
        data = pulled.data
        headers = {
            **API_VERSION,
            "Docker-Content-Digest": data.digest,
            "ETag": f'"{data.digest}"',
            "Content-Length": str(len(data.content)),
            "X-Proxy-Cache": pulled.source,
        }
        if pulled.source == STALE:
            headers["Warning"] = '110 - "Response is Stale"'
        body = b"" if request.method == "HEAD" else data.content
        return Response(body, media_type=data.media_type, headers=headers)

    async def _proxied_blob(self, request: Request, ctx: Ctx, digest: str) -> Response | None:
        """A blob of a proxy-cache organization that is not stored yet: streamed while it
        is fetched and stored; None when it is stored (served as any other)."""
        pull_through = self.svc.registry.pull_through
        assert pull_through is not None
        pulled = await pull_through.blob(ctx.repo, digest, head=request.method == "HEAD")
        if pulled.local:
            return None
        headers = {
            **API_VERSION,
            "Docker-Content-Digest": pulled.digest,
            "X-Proxy-Cache": pulled.source,
        }
        if pulled.size is not None:
            headers["Content-Length"] = str(pulled.size)
        if request.method == "HEAD" or pulled.chunks is None:
            return _empty(200, {**headers, "Content-Type": "application/octet-stream"})
        return StreamingResponse(
            pulled.chunks, media_type="application/octet-stream", headers=headers
        )

    # ---- blobs -------------------------------------------------------------------------
    async def h_blob(self, request: Request, ctx: Ctx, m: re.Match[str]) -> Response:
        registry = self.svc.registry
        digest = m.group("digest")
        if request.method in ("GET", "HEAD"):
            if denied := await self.require(request, ctx, Action.PULL):
                return denied
            if registry.pull_through is not None and await registry.pull_through.proxies(
                ctx.repo.namespace
            ):
                proxied = await self._proxied_blob(request, ctx, digest)
                if proxied is not None:
                    return proxied
            if request.method == "HEAD":
                info = await registry.blobs.stat(ctx.repo, digest)
                return _empty(
                    200,
                    {
                        "Content-Length": str(info.size),
                        "Docker-Content-Digest": info.digest,
                        "Content-Type": "application/octet-stream",
                        "Accept-Ranges": "bytes",
                    },
                )
            dl = await registry.blobs.download(ctx.repo, digest)
            headers = {
                **API_VERSION,
                "Docker-Content-Digest": dl.digest,
                "Accept-Ranges": "bytes",
            }
            if dl.redirect_url:
                return RedirectResponse(dl.redirect_url, status_code=307, headers=headers)
            if dl.local_path and "range" not in request.headers:
                # Whole blob: the server sends the file itself (ASGI pathsend), zero-copy.
                try:
                    st = os.stat(dl.local_path)
                except FileNotFoundError:
                    st = None
                if st is not None and stat.S_ISREG(st.st_mode):
                    return FileResponse(
                        dl.local_path,
                        stat_result=st,
                        media_type="application/octet-stream",
                        headers=headers,
                    )
            return self._stream_blob(request, dl.digest, dl.size, headers)
        if request.method == "DELETE":
            if denied := await self.require(request, ctx, Action.DELETE):
                return denied
            repo = await registry.repository_for_push(ctx.repo, create=False)
            await registry.blobs.delete(repo, digest)
            return _empty(202, {})
        return _method_not_allowed()

    def _stream_blob(
        self, request: Request, digest: str, size: int, headers: dict[str, str]
    ) -> Response:
        offset, length, status = 0, size, 200
        rng = request.headers.get("range")
        if rng:
            m = _RANGE.match(rng.strip())
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    offset = int(m.group(1))
                    end = int(m.group(2)) if m.group(2) else size - 1
                else:
                    offset = max(size - int(m.group(2)), 0)
                    end = size - 1
                end = min(end, size - 1)
                if offset >= size or end < offset:
                    return _empty(416, {"Content-Range": f"bytes */{size}"})
                length, status = end - offset + 1, 206
                headers = {**headers, "Content-Range": f"bytes {offset}-{end}/{size}"}
        headers = {**headers, "Content-Length": str(length)}
        transient = request.app.state.server_copies_body
        stream = self.svc.registry.blobs.stream(digest, offset, length, transient=transient)
        return _BlobStream(
            stream,  # type: ignore[arg-type]  # bytearray chunks too: _BlobStream sends them as-is
            status_code=status,
            media_type="application/octet-stream",
            headers=headers,
        )

    # ---- uploads -----------------------------------------------------------------------
    def _upload_headers(self, ctx: Ctx, upload_id: str, size: int) -> dict[str, str]:
        return {
            "Location": f"/v2/{ctx.repo.full}/blobs/uploads/{upload_id}",
            "Docker-Upload-UUID": upload_id,
            "Range": _range_header(size),
        }

    async def h_upload_start(self, request: Request, ctx: Ctx, _m: re.Match[str]) -> Response:
        if request.method != "POST":
            return _method_not_allowed()
        registry = self.svc.registry
        # A proxy cache refuses pushes by name (anonymous callers get the usual challenge).
        if (
            not ctx.caller.principal.is_anonymous
            and registry.pull_through is not None
            and await registry.pull_through.proxies(ctx.repo.namespace)
        ):
            await registry.pull_through.refuse_push(ctx.repo)
        if denied := await self.require(request, ctx, Action.PUSH):
            return denied
        repo = await registry.repository_for_push(
            ctx.repo, create=True, create_namespace=ctx.caller.principal.is_superuser or self.open
        )
        q = request.query_params
        mount, source = q.get("mount"), q.get("from")
        if mount and source:
            mounted = await self._mount(ctx, repo, mount, source)
            if mounted is not None:
                return mounted
        if digest := q.get("digest"):
            info = await registry.blobs.put_monolithic(repo, digest, _body(request))
            return _empty(
                201,
                {
                    "Location": f"/v2/{ctx.repo.full}/blobs/{info.digest}",
                    "Docker-Content-Digest": info.digest,
                },
            )
        upload = await registry.blobs.start_upload(repo)
        return _empty(202, self._upload_headers(ctx, upload.id, upload.size))

    async def _mount(self, ctx: Ctx, repo: RepoRow, digest: str, source: str) -> Response | None:
        registry = self.svc.registry
        try:
            source_name = registry.name(source)
        except RegistryError:
            return None
        if not await self.svc.auth.allowed(ctx.caller, source_name, Action.PULL):
            return None  # not readable: fall back to a normal upload
        source_repo = await registry.find(source_name)
        if source_repo is None:
            return None
        info = await registry.blobs.mount(repo, digest, source_repo)
        if info is None:
            return None
        return _empty(
            201,
            {
                "Location": f"/v2/{ctx.repo.full}/blobs/{info.digest}",
                "Docker-Content-Digest": info.digest,
            },
        )

    async def h_upload(self, request: Request, ctx: Ctx, m: re.Match[str]) -> Response:
        upload_id = m.group("upload")
        registry = self.svc.registry
        if denied := await self.require(request, ctx, Action.PUSH):
            return denied
        repo = await registry.repository_for_push(ctx.repo, create=False)
        if request.method == "GET":
            info = await registry.blobs.upload_status(repo, upload_id)
            return _empty(204, self._upload_headers(ctx, info.id, info.size))
        if request.method in ("PATCH", "PUT"):
            try:
                start, end = _content_range(request)
            except BlobUploadInvalid as e:
                # Spec: a malformed Content-Range is a 416, like an out-of-order chunk.
                info = await registry.blobs.upload_status(repo, upload_id)
                raise RangeInvalid(e.message, info.size) from e
        if request.method == "PATCH":
            info = await registry.blobs.append(
                repo, upload_id, _body(request), start=start, end=end
            )
            return _empty(202, self._upload_headers(ctx, info.id, info.size))
        if request.method == "PUT":
            digest = request.query_params.get("digest")
            if not digest:
                raise DigestInvalid("the digest query parameter is required", {})
            has_body = request.headers.get("content-length") not in (None, "0") or (
                "chunked" in request.headers.get("transfer-encoding", "")
            )
            blob = await registry.blobs.finish(
                repo,
                upload_id,
                digest,
                _body(request) if has_body else None,
                start=start,
                end=end,
            )
            return _empty(
                201,
                {
                    "Location": f"/v2/{ctx.repo.full}/blobs/{blob.digest}",
                    "Docker-Content-Digest": blob.digest,
                    "Content-Length": "0",
                },
            )
        if request.method == "DELETE":
            await registry.blobs.cancel(repo, upload_id)
            return _empty(204, {})
        return _method_not_allowed()


# Paths under /v2/<name>/..., in match order, each with the method of ``V2`` that serves it.
_TAIL: list[tuple[str, re.Pattern[str], RouteHandler]] = [
    ("GET", re.compile(r"^(?P<name>.+)/tags/list$"), V2.h_tags),
    ("GET", re.compile(r"^(?P<name>.+)/referrers/(?P<digest>[^/]+)$"), V2.h_referrers),
    ("*", re.compile(r"^(?P<name>.+)/manifests/(?P<ref>[^/]+)$"), V2.h_manifest),
    ("*", re.compile(r"^(?P<name>.+)/blobs/uploads/?$"), V2.h_upload_start),
    ("*", re.compile(r"^(?P<name>.+)/blobs/uploads/(?P<upload>[^/]+)$"), V2.h_upload),
    ("*", re.compile(r"^(?P<name>.+)/blobs/(?P<digest>[^/]+)$"), V2.h_blob),
]


def _route(method: str, path: str) -> tuple[re.Match[str], RouteHandler] | None:
    for allowed, pattern, handler in _TAIL:
        if allowed not in ("*", method) and not (allowed == "GET" and method == "HEAD"):
            continue
        if m := pattern.match(path):
            return m, handler
    return None


def _content_range(request: Request) -> tuple[int | None, int | None]:
    value = request.headers.get("content-range")
    if not value:
        return None, None
    m = _CONTENT_RANGE.match(value.strip())
    if not m:
        raise BlobUploadInvalid("malformed Content-Range", {"Content-Range": value})
    start, end = int(m.group(1)), int(m.group(2))
    if end < start:
        raise BlobUploadInvalid("Content-Range ends before it starts", {"Content-Range": value})
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) != end - start + 1:
        raise SizeInvalid("Content-Length does not match Content-Range", {"Content-Range": value})
    return start, end


def _method_not_allowed() -> Response:
    return error_response("UNSUPPORTED", "method not allowed", status=405)


def v2_routes(svc: Services) -> list[Route]:
    v2 = V2(svc)
    methods = ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"]
    return [
        Route("/v2/", v2.base, methods=["GET", "HEAD"]),
        Route("/v2", v2.base, methods=["GET", "HEAD"]),
        Route("/v2/auth", v2.token, methods=["GET"]),
        Route("/v2/_catalog", v2.catalog, methods=["GET"]),
        Route("/v2/{path:path}", v2.dispatch, methods=methods),
    ]


__all__ = ["NameUnknown", "v2_routes"]
