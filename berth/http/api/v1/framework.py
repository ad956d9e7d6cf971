"""The /api/v1 framework: route table, caller resolution, CSRF, bodies, errors.

Every resource is an ``ApiRoute`` (method, path under ``/api/v1``, handler, and what
discovery documents). ``build_routes`` turns the table into Starlette routes with Quay's
routing rules: exact paths, a 308 to the slashed URL for slash-less collection paths,
``{repository}`` spanning ``ns/name`` (``%2F`` arrives decoded), 405 with a JSON message.

Each request runs the same pipeline: resolve the caller (OAuth bearer first, or an SSO JWT
of a configured OIDC provider, then the session cookie; Basic is ignored; an unknown bearer
is anonymous), refuse writes in
read-only mode, check CSRF for writes without a bearer, apply anonymous protection, run
the handler, then refresh the session cookie and ``X-Next-CSRF-Token``.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from berth.audit.services import Performer
from berth.auth.oidc import OidcError, unverified_issuer
from berth.http.api.v1.errors import (
    ANONYMOUS_MESSAGE,
    BAD_REQUEST_MESSAGE,
    CSRF_MESSAGE,
    METHOD_NOT_ALLOWED_MESSAGE,
    NOT_FOUND_MESSAGE,
    NOT_JSON_MESSAGE,
    READ_ONLY_MESSAGE,
    XHR_MESSAGE,
    AbortError,
    ApiProblem,
    MessageError,
    forbidden,
    fresh_login_required,
    invalid_request,
    json_response,
    requires_auth,
)
from berth.http.api.v1.schema import validation_error
from berth.http.api.v1.session import SessionCodec, SessionData, new_csrf_token
from berth.identity.accounts import AccountService, UserRecord
from berth.identity.errors import AccountError
from berth.oauth.services import ALL_SCOPES, Grant, OAuthService, expand_scopes

if TYPE_CHECKING:
    from berth.config import Settings
    from berth.services import Services

API_PREFIX = "/api/v1"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FALSY = frozenset({"false", "False", "0", "FALSE", "", "null"})


def truthy_bool(value: str | None) -> bool:
    """Quay's query booleans: only false/False/FALSE/0/empty/null are false."""
    return value is not None and value not in _FALSY


class RepositoryConvertor(Convertor[str]):
    """``{repository}``: ``namespace/name`` with extra ``/`` segments allowed."""

    regex = r"[^/]+(?:/[^/]+)+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


# ------------------------------------------------------------------------------ callers


@dataclass(frozen=True)
class ApiCaller:
    """Who calls /api/v1 and how. ``scopes`` is None for a browser session (unlimited)."""

    kind: str  # "anonymous" | "oauth" | "session"
    user: UserRecord | None = None
    scopes: frozenset[str] | None = None
    grant: Grant | None = None
    session: SessionData | None = None
    superuser_account: bool = False  # listed in SUPER_USERS or flagged

    @property
    def authenticated(self) -> bool:
        return self.user is not None

    def has_scope(self, scope: str) -> bool:
        """Does the credential allow ``scope`` (implications included)? Sessions: always."""
        if self.user is None:
            return False
        return self.scopes is None or scope in expand_scopes(self.scopes)

    @property
    def is_superuser(self) -> bool:
        """Superuser powers need the account *and* a session or a ``super:user`` token."""
        return self.superuser_account and self.has_scope("super:user")


ANONYMOUS_CALLER = ApiCaller("anonymous")


# ------------------------------------------------------------------------------- routes

Handler = Callable[["Ctx"], Awaitable[Response]]


@dataclass(frozen=True)
class Param:
    name: str
    type: str = "string"
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str  # under ``prefix``; ``{name}`` parameters, ``{repository}`` spans a slash
    handler: Handler
    summary: str = ""
    tag: str = "api"
    anon_allowed: bool = False
    internal: bool = False
    body: dict[str, Any] | None = None  # JSON schema (documented; handlers validate)
    body_name: str | None = None
    query: tuple[Param, ...] = ()
    scopes: tuple[str, ...] = ()
    prefix: str = API_PREFIX
    csrf: bool = True  # False: outside Quay's API blueprint (no CSRF, no OAuth)
    oauth: bool = True
    readonly_exempt: bool = False
    enabled: bool = True  # False: behind a disabled feature flag, answers 404

    @property
    def full_path(self) -> str:
        return self.prefix + self.path


@dataclass
class ApiApp:
    """What handlers reach: the services of the composition root, the session codec and
    the route table."""

    svc: Services
    codec: SessionCodec
    routes: list[ApiRoute] = field(default_factory=list)

    @property
    def accounts(self) -> AccountService:
        return self.svc.accounts

    @property
    def oauth(self) -> OAuthService:
        return self.svc.oauth

    async def is_namespace_admin(self, user: UserRecord, namespace: str) -> bool:
        """May ``user`` administer ``namespace``? Its own always; organizations as admin."""
        if namespace == user.username or self.is_superuser_account(user):
            return True
        return await self.svc.orgs.administers(user.id, namespace)

    def encrypted_password(self, password: str) -> str:
        """Quay's ``encrypted_password``: the password sealed with DATABASE_SECRET_KEY."""
        return self.svc.auth.client_key(password)

    @property
    def settings(self) -> Settings:
        """The typed sections (``settings.api``, ``.session``, ``.auth``, ``.registry``,
        ``.policies``): handlers read configuration here, never the parsed file."""
        return self.svc.settings

    @property
    def base_url(self) -> str:
        return self.svc.settings.base_url

    def is_superuser_account(self, user: UserRecord | None) -> bool:
        if user is None or user.kind != "user" or not self.settings.api.super_users_enabled:
            return False
        return user.superuser_flag or user.username in self.svc.settings.super_users

    def is_readonly_superuser_account(self, user: UserRecord | None) -> bool:
        """GLOBAL_READONLY_SUPER_USERS or the stored flag (LDAP_GLOBAL_READONLY_SUPERUSER_FILTER):
        reads everything, writes nothing more than its own roles allow."""
        if user is None or user.kind != "user" or not self.settings.api.super_users_enabled:
            return False
        return (
            user.readonly_superuser_flag
            or user.username in self.svc.settings.global_readonly_super_users
        )

    async def resolve(self, request: Request, route: ApiRoute) -> ApiCaller:
        session = self.codec.load(request.cookies.get(self.cookie_name))
        if route.oauth:
            header = request.headers.get("authorization", "")
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                grant = await self.oauth.validate_token(value.strip())
                if grant is not None:
                    user = await self.accounts.get_user_by_id(grant.user_id)
                    if user is not None and user.enabled:
                        return ApiCaller(
                            "oauth",
                            user,
                            grant.scopes,
                            grant,
                            session,
                            self.is_superuser_account(user),
                        )
                elif value.count(".") == 2 and self.svc.oidc is not None:
                    sso = await self._sso_caller(value.strip(), request, session)
                    if sso is not None:
                        return sso
        return await self.session_caller(session)

    async def session_caller(self, session: SessionData | None) -> ApiCaller:
        """The caller a session cookie stands for (the web UI resolves its pages with it):
        signed in while the user is enabled and the session's generation is the user's
        current one (sign-out and a password change rotate it); anonymous otherwise."""
        if session is not None and session.user_id is not None:
            user = await self.accounts.get_user_by_id(session.user_id)
            if (
                user is not None
                and user.enabled
                and user.session_uuid is not None
                and user.session_uuid == session.generation
            ):
                return ApiCaller(
                    "session", user, None, None, session, self.is_superuser_account(user)
                )
            session = SessionData(csrf=session.csrf)  # signed out elsewhere: keep the CSRF
        return ApiCaller("anonymous", session=session)

    async def _sso_caller(
        self, token: str, request: Request, session: SessionData | None
    ) -> ApiCaller | None:
        """Quay's SSO JWT bearer (quay-api.md 2.2): a JWT whose issuer is a configured OIDC
        login service, checked like an ID token (signature, issuer, audience = the client id,
        expiry); its user is found or created as at sign-in. A JWT of another issuer is
        no SSO token (None); an invalid one is refused at once (401)."""
        logins = self.svc.oidc
        assert logins is not None
        issuer = unverified_issuer(token)
        service = logins.for_issuer(issuer) if issuer else None
        if service is None:
            return None
        try:
            claims = await service.verify(token, audience=service.settings.client_id)
            linked = await logins.account(
                service, claims, ip=request.client.host if request.client else None
            )
        except (OidcError, AccountError) as e:
            raise AbortError(401, f"Invalid SSO token: {e}") from e
        user = await self.accounts.get_user_by_id(linked.id)
        if user is None or not user.enabled:
            raise AbortError(401, "Invalid SSO token: the account is disabled")
        return ApiCaller(
            "oauth", user, frozenset(ALL_SCOPES), None, session, self.is_superuser_account(user)
        )

    @property
    def cookie_name(self) -> str:
        return self.settings.session.cookie_name


class Ctx:
    """One request: its caller, parameters, body helpers and the session to send back."""

    def __init__(self, api: ApiApp, request: Request, route: ApiRoute, caller: ApiCaller) -> None:
        self.api = api
        self.request = request
        self.route = route
        self.caller = caller
        self.params: dict[str, str] = dict(request.path_params)
        self.session: SessionData | None = caller.session
        self.session_changed = False
        self._form: dict[str, str] | None = None

    # ---- input -------------------------------------------------------------------------
    def query(self, name: str, default: str | None = None) -> str | None:
        return self.request.query_params.get(name, default)

    def query_bool(self, name: str, default: bool = False) -> bool:
        value = self.request.query_params.get(name)
        return default if value is None else truthy_bool(value)

    def query_int(self, name: str, default: int | None = None) -> int | None:
        value = self.request.query_params.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError as e:
            raise invalid_request(f"{name}: invalid integer {value!r}") from e

    async def body(
        self, schema: dict[str, Any] | None = None, *, optional: bool = False
    ) -> dict[str, Any]:
        """The JSON body, with Werkzeug's 415/400 answers and schema validation."""
        payload = await self.request.body()
        if optional and not payload.strip():
            return {}
        mimetype = self.request.headers.get("content-type", "").split(";")[0].strip().lower()
        is_json = mimetype == "application/json" or (
            mimetype.startswith("application/") and mimetype.endswith("+json")
        )
        if not is_json:
            raise MessageError(415, NOT_JSON_MESSAGE)
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError as e:
            raise MessageError(400, BAD_REQUEST_MESSAGE) from e
        if data is None:
            raise invalid_request("Missing JSON body")
        schema = schema if schema is not None else self.route.body
        if schema is not None:
            problem = validation_error(data, schema)
            if problem:
                raise invalid_request(problem)
        return data  # type: ignore[no-any-return]  # orjson.loads is Any; the schema checked it

    async def form(self) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body (no multipart)."""
        if self._form is None:
            text = (await self.request.body()).decode("utf-8", "replace")
            self._form = dict(urllib.parse.parse_qsl(text, keep_blank_values=True))
        return self._form

    # ---- checks ------------------------------------------------------------------------
    @property
    def is_readonly_superuser(self) -> bool:
        """A global read-only superuser, through a session or a ``super:user`` token."""
        return self.api.is_readonly_superuser_account(self.caller.user) and self.caller.has_scope(
            "super:user"
        )

    def require_user(self, scope: str | None = "user:admin") -> UserRecord:
        """The caller's own account (401 anonymous; 403 robot or token lacking ``scope``)."""
        user = self.caller.user
        if user is None:
            raise requires_auth()
        if user.kind != "user" or (scope is not None and not self.caller.has_scope(scope)):
            raise forbidden()
        return user

    def require_fresh_login(self) -> None:
        """Browser sessions older than FRESH_LOGIN_TIMEOUT must sign in again."""
        c = self.caller
        if c.kind != "session" or c.user is None or not c.user.has_password:
            return
        limit = self.api.settings.session.fresh_login_timeout_s
        login_at = c.session.login_at if c.session else None
        if login_at is None or time.time() - login_at > limit:
            raise fresh_login_required()

    def require_superuser(self, *, fresh: bool = True) -> UserRecord:
        """A superuser (with ``super:user`` on a token); on a GET also a global read-only
        superuser (GLOBAL_READONLY_SUPER_USERS), who may read every superuser route and
        change nothing."""
        if self.caller.user is None:
            raise requires_auth()
        if not self.caller.is_superuser and not (
            self.request.method in SAFE_METHODS and self.is_readonly_superuser
        ):
            raise forbidden()
        if fresh:
            self.require_fresh_login()
        return self.caller.user

    async def verify_csrf(self) -> None:
        """Writes without an OAuth token must echo the session's CSRF token (header, query
        ``_csrf_token`` or form field), else 403 ``{"error": ...}``."""
        if self.caller.kind == "oauth":
            return
        form_token = None
        ctype = self.request.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            form_token = (await self.form()).get("_csrf_token")
        if not _csrf_ok(self, form_token):
            raise AbortError(403, CSRF_MESSAGE)

    # ---- session -----------------------------------------------------------------------
    def set_session(self, session: SessionData | None) -> None:
        self.session = session
        self.session_changed = True

    def ensure_session(self) -> SessionData:
        if self.session is None:
            self.set_session(SessionData(csrf=new_csrf_token()))
        assert self.session is not None
        return self.session

    @property
    def actor_ip(self) -> str | None:
        return self.request.client.host if self.request.client else None

    def performer(self) -> Performer:
        """The caller as services write it into usage logs: user (none when anonymous),
        address, and the OAuth token it came with (``oauth_token_id`` in the metadata, as
        Quay logs it)."""
        user = self.caller.user
        grant = self.caller.grant
        return Performer(
            user.username if user else None,
            user.id if user else None,
            self.actor_ip,
            grant.token_uuid if grant else None,
        )


def _csrf_ok(ctx: Ctx, form_token: str | None) -> bool:
    session = ctx.caller.session
    if session is None:
        return False
    sent = (
        ctx.request.headers.get("x-csrf-token")
        or ctx.request.query_params.get("_csrf_token")
        or form_token
    )
    return bool(sent) and sent == session.csrf


_BROWSERS = ("mozilla", "chrome", "safari", "opera", "msie", "trident", "edge")


def _looks_like_browser(user_agent: str) -> bool:
    ua = user_agent.lower()
    return any(b in ua for b in _BROWSERS)


async def run(api: ApiApp, route: ApiRoute, request: Request) -> Response:
    ctx: Ctx | None = None
    try:
        ctx = Ctx(api, request, route, await api.resolve(request, route))
        method = request.method
        if (
            method not in SAFE_METHODS
            and api.settings.api.registry_readonly
            and not route.readonly_exempt
        ):
            raise MessageError(503, READ_ONLY_MESSAGE, is_readonly=True)
        if route.csrf and method not in SAFE_METHODS:
            await ctx.verify_csrf()
        if (
            route.prefix == API_PREFIX
            and not route.anon_allowed
            and not api.settings.auth.anonymous_access
            and ctx.caller.user is None
        ):
            raise AbortError(401, ANONYMOUS_MESSAGE)
        if (
            route.prefix == API_PREFIX
            and method == "GET"
            and api.settings.api.browser_api_calls_xhr_only
            and ctx.caller.kind != "oauth"
            and _looks_like_browser(request.headers.get("user-agent", ""))
            and request.headers.get("x-requested-with", "").lower() != "xmlhttprequest"
        ):
            raise AbortError(400, XHR_MESSAGE)
        if api.settings.rate_limits.enabled and route.prefix == API_PREFIX:
            await _rate_limit(ctx)
        response = await route.handler(ctx)
    except ApiProblem as e:
        response = e.response(api.base_url)
    if ctx is not None:
        _finish(api, ctx, response)
    return response


async def _rate_limit(ctx: Ctx) -> None:
    """BERTH_RATE_LIMITS' ``api`` (and the namespace's override), per caller: the OAuth or
    app token, else the user, else the client address; 429 with Retry-After."""
    c = ctx.caller
    if c.grant is not None:
        who = f"token:{c.grant.token_uuid}"
    elif c.user is not None:
        who = f"{c.user.kind}:{c.user.username}"
    else:
        who = f"ip:{ctx.actor_ip or '-'}"
    params = ctx.params
    namespace = params.get("orgname") or params.get("namespace")
    if namespace is None and "repository" in params:
        namespace = str(params["repository"]).split("/", 1)[0]
    limited = await ctx.api.svc.limiter.check("api", who, namespace)
    if limited is not None:
        problem = MessageError(
            429,
            f"Too many requests: retry after {limited.retry_after_s} seconds",
            error_type="TOO_MANY_REQUESTS",
        )
        problem.headers = {"Retry-After": str(limited.retry_after_s)}
        raise problem


def _finish(api: ApiApp, ctx: Ctx, response: Response) -> None:
    if ctx.session_changed:
        secure = api.settings.url_scheme == "https"
        if ctx.session is None:
            response.delete_cookie(api.cookie_name, path="/", secure=secure, httponly=True)
        else:
            response.set_cookie(
                api.cookie_name,
                api.codec.dump(ctx.session),
                max_age=api.codec.max_age_s,
                path="/",
                secure=secure,
                httponly=True,
                samesite="lax",
            )
    if ctx.session is not None:
        response.headers["X-Next-CSRF-Token"] = ctx.session.csrf


def _starlette_path(path: str) -> str:
    return path.replace("{repository}", "{repository:repository}")


def build_routes(api: ApiApp, routes: list[ApiRoute]) -> list[BaseRoute]:
    """Starlette routes for the table: one per path, a 308 twin for slashed collections."""
    register_url_convertor("repository", RepositoryConvertor())
    api.routes = list(routes)
    by_path: dict[str, dict[str, ApiRoute]] = {}
    for r in routes:
        methods = by_path.setdefault(r.full_path, {})
        if r.method in methods:
            raise ValueError(f"duplicate route {r.method} {r.full_path}")
        methods[r.method] = r
    all_methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
    table: list[tuple[str, Any]] = []
    for path, methods in by_path.items():
        table.append((path, _endpoint(api, methods)))
        bare = path.rstrip("/")
        if path.endswith("/") and bare and bare not in by_path:
            table.append((bare, _redirect_slash))
    # Werkzeug's weighting: more static segments first, so ``/repository/{repository}/tag``
    # reaches the tag collection's redirect rather than a repository named ``.../tag``.
    table.sort(key=lambda entry: -_static_segments(entry[0]))
    return [Route(_starlette_path(p), ep, methods=all_methods) for p, ep in table]


def _static_segments(path: str) -> int:
    return sum(1 for seg in path.split("/") if seg and not seg.startswith("{"))


def fallback_routes() -> list[BaseRoute]:
    """Unknown paths under /api/v1: Werkzeug's 404 text as flask-restful renders it."""

    async def not_found(_request: Request) -> Response:
        return json_response({"message": NOT_FOUND_MESSAGE}, 404)

    return [
        Route(
            API_PREFIX + "/{rest:path}",
            not_found,
            methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"],
        )
    ]


def _endpoint(
    api: ApiApp, methods: dict[str, ApiRoute]
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        method = request.method
        route = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
        if route is None:
            allowed = {*methods, "OPTIONS"} | ({"HEAD"} if "GET" in methods else set())
            allow = {"Allow": ", ".join(sorted(allowed))}
            if method == "OPTIONS":  # Flask answers OPTIONS itself
                return Response(status_code=200, headers=allow)
            return json_response({"message": METHOD_NOT_ALLOWED_MESSAGE}, 405, allow)
        if not route.enabled:
            return json_response({"message": NOT_FOUND_MESSAGE}, 404)
        return await run(api, route, request)  # the server drops a HEAD body

    return endpoint


async def _redirect_slash(request: Request) -> Response:
    """Werkzeug's strict slashes: the slash-less form of a collection path answers 308."""
    url = request.url
    target = url.path + "/"
    if url.query:
        target += "?" + url.query
    return Response(
        status_code=308,
        headers={"Location": str(url.replace(path=url.path + "/"))},
        media_type="text/html",
        content=(
            "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
            f"<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the "
            f'target URL: <a href="{target}">{target}</a>. If not, click the link.\n'
        ),
    )
