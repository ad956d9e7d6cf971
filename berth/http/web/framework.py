"""The web UI's page framework: route table, caller resolution, CSRF, security headers,
rendering, flash messages and error pages.

A page is a ``WebRoute`` (path, methods, handler, who may open it) whose handler takes a
``Page`` and returns a response, usually ``page.render("area/template.html", ...)``. Every
request runs the same pipeline (``run``):

1. resolve the caller from the browser session cookie that ``/api/v1`` uses (same cookie, same
   codec, same sign-out/password-change invalidation: ``ApiApp.session_caller``); pages never
   accept OAuth bearers or Basic credentials;
2. give an anonymous visitor a session holding a CSRF token, so every form can carry it;
3. refuse a write (POST/PUT/PATCH/DELETE) without the session's CSRF token (form field
   ``_csrf_token`` or header ``X-CSRF-Token``, which htmx sends from ``hx-headers`` on
   ``<body>``): 403;
   In read-only mode (REGISTRY_STATE: readonly) writes answer 503 as the API's do, except
   on ``open`` routes (sign-in, sign-out);
4. send anonymous callers to ``/signin`` when the page needs a user or
   FEATURE_ANONYMOUS_ACCESS is off;
5. run the handler with an API ``Ctx`` (``page.ctx``) so the page calls the same access
   helpers (``berth.http.api.v1.repos.access`` ...) and services as ``/api/v1``; an
   ``ApiProblem`` it raises becomes the HTML error page with the API's status;
6. write the session cookie back (HttpOnly, SameSite=Lax, Secure under https) and the
   security headers (CSP without inline scripts, ``frame-ancestors 'none'``, nosniff,
   no-store for pages that show secrets, ``private, no-cache`` for every other page).
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from berth.http.api.v1.errors import (
    NOT_FOUND_MESSAGE,
    READ_ONLY_MESSAGE,
    ApiProblem,
    MessageError,
)
from berth.http.api.v1.framework import SAFE_METHODS, ApiApp, ApiCaller, ApiRoute, Ctx
from berth.http.api.v1.session import SessionData, new_csrf_token
from berth.http.web import filters
from berth.http.web.markdown import render_markdown
from berth.http.web.nav import sidebar

if TYPE_CHECKING:
    from berth.identity.accounts import UserRecord

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
FLASH_COOKIE = "berth_flash"
CSRF_FIELD = "_csrf_token"

# No inline script or style anywhere: behaviour lives in /static/berth.js and htmx
# attributes, styling in PatternFly's classes and /static/berth.css.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

PageHandler = Callable[["Page"], Awaitable[Response]]


@dataclass(frozen=True)
class WebRoute:
    """One page. ``signed_in``: anonymous visitors go to ``/signin?next=...``; otherwise the
    page is open to anonymous visitors when FEATURE_ANONYMOUS_ACCESS is on (the page's own
    access checks still apply). ``no_store``: the page shows a secret (tokens, passwords):
    never cached."""

    path: str
    handler: PageHandler
    methods: tuple[str, ...] = ("GET",)
    name: str | None = None
    signed_in: bool = True
    open: bool = False  # reachable by anyone even with FEATURE_ANONYMOUS_ACCESS off (sign-in)
    no_store: bool = False
    enabled: bool = True  # False: behind a disabled feature flag, answers 404


class Redirect(Exception):
    """Raise from anywhere in a page to answer with a 303 to ``url``."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


@dataclass
class WebApp:
    """What pages reach: the API's composition (services, session codec, settings) and the
    template environment."""

    api: ApiApp
    env: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            # Templates ship in the package: no stat() of each one at every render.
            auto_reload=False,
        )
        self.env.globals["registry_host"] = self.registry_host
        self.env.globals["query_with"] = filters.query_with
        self.env.filters["bytes"] = filters.human_bytes
        self.env.filters["ms_date"] = filters.ms_date
        self.env.filters["seconds_date"] = filters.seconds_date

    @property
    def registry_host(self) -> str:
        """``host[:port]`` as clients pull with it (SERVER_HOSTNAME)."""
        return urllib.parse.urlsplit(self.api.base_url).netloc or self.api.base_url

    @property
    def img_sources(self) -> tuple[str, ...]:
        """The origins of the OpenID Connect providers' SERVICE_ICON images."""
        icons = (s.service_icon for s in self.api.settings.oidc if s.service_icon)
        origins = {
            f"{u.scheme}://{u.netloc}" for u in map(urllib.parse.urlsplit, icons) if u.netloc
        }
        return tuple(sorted(origins))

    @property
    def secure_cookies(self) -> bool:
        return self.api.settings.url_scheme == "https"


class Page:
    """One page request: the caller, the API context for access checks, the form, and the
    response helpers (``render``, ``redirect``, ``flash``)."""

    def __init__(self, web: WebApp, request: Request, route: WebRoute, ctx: Ctx) -> None:
        self.web = web
        self.request = request
        self.route = route
        self.ctx = ctx
        self.params: dict[str, str] = dict(request.path_params)
        self._flash_out: list[tuple[str, str]] = []
        self._flash_in = _read_flash(request.cookies.get(FLASH_COOKIE))
        self.banners: list[dict[str, Any]] = []  # the global messages (/api/v1/messages)

    # ---- who ---------------------------------------------------------------------------
    @property
    def caller(self) -> ApiCaller:
        return self.ctx.caller

    @property
    def user(self) -> UserRecord | None:
        return self.ctx.caller.user

    def require_user(self) -> UserRecord:
        user = self.ctx.caller.user
        if user is None:
            raise Redirect(signin_url(self.request))
        return user

    @property
    def csrf_token(self) -> str:
        return self.ctx.ensure_session().csrf

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    # ---- input -------------------------------------------------------------------------
    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    async def form(self) -> dict[str, str]:
        """The urlencoded form (``_csrf_token`` already checked)."""
        return await self.ctx.form()

    # ---- output ------------------------------------------------------------------------
    def flash(self, message: str, kind: str = "success") -> None:
        """Show ``message`` on the next page rendered (``kind``: success, info, warning,
        danger: PatternFly's alert variants)."""
        self._flash_out.append((kind, message))

    def redirect(self, url: str) -> Response:
        """303 to ``url`` (after a form post: the browser GETs it)."""
        return RedirectResponse(url, status_code=303)

    def render(self, template: str, status: int = 200, **data: Any) -> Response:
        """``template`` with ``data`` and the layout's context (user, CSRF token, sidebar,
        flash messages). htmx requests of a fragment render the same way: a fragment
        template simply doesn't extend ``base.html``."""
        messages, self._flash_in = self._flash_in, []
        html = self.web.env.get_template(template).render(
            **self.layout(),
            flashes=messages,
            **data,
        )
        return HTMLResponse(html, status_code=status)

    def layout(self) -> dict[str, Any]:
        """What ``base.html`` reads on every page."""
        user = self.user
        superuser = self.caller.is_superuser
        return {
            "request": self.request,
            "current_user": user,
            "is_superuser": superuser,
            "csrf_token": self.csrf_token,
            "csrf_field": CSRF_FIELD,
            "csrf_headers": orjson.dumps({"X-CSRF-Token": self.csrf_token}).decode(),
            "nav": sidebar(
                self.request.url.path,
                signed_in=user is not None,
                superuser=superuser or self.ctx.is_readonly_superuser,
            ),
            "settings": self.web.api.settings,
            "banners": self.banners,
        }


def signin_url(request: Request) -> str:
    target = request.url.path + (("?" + request.url.query) if request.url.query else "")
    return "/signin?" + urllib.parse.urlencode({"next": target})


def safe_next(value: str | None, default: str = "/repository/") -> str:
    """A local path to go to after sign-in (no scheme, no host, no ``//``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def _read_flash(raw: str | None) -> list[tuple[str, str]]:
    if not raw:
        return []
    try:
        items = orjson.loads(base64.urlsafe_b64decode(raw.encode()))
        return [(str(k), str(m)) for k, m in items][:5]
    except (ValueError, TypeError):
        return []


def _write_flash(items: list[tuple[str, str]]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(items)).decode()


def security_headers(
    response: Response, *, no_store: bool, img_sources: tuple[str, ...] = ()
) -> None:
    """The headers every HTML answer carries. ``img_sources``: origins images may also come
    from (the sign-in buttons' SERVICE_ICON)."""
    h = response.headers
    csp = CONTENT_SECURITY_POLICY
    if img_sources:
        csp = csp.replace("img-src 'self' data:", "img-src 'self' data: " + " ".join(img_sources))
    h["Content-Security-Policy"] = csp
    h["X-Frame-Options"] = "DENY"
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "same-origin"
    h["Cache-Control"] = "no-store" if no_store else "private, no-cache"
    if no_store:
        h["Pragma"] = "no-cache"


def error_page(web: WebApp, page: Page | None, status: int, message: str) -> Response:
    """The HTML error page (403, 404, ...), with the API's status and message."""
    template = web.env.get_template("errors/error.html")
    context: dict[str, Any] = page.layout() if page is not None else _bare_layout()
    html = template.render(**context, flashes=[], status=status, message=message)
    return HTMLResponse(html, status_code=status)


def _bare_layout() -> dict[str, Any]:
    return {
        "request": None,
        "current_user": None,
        "is_superuser": False,
        "csrf_token": "",
        "csrf_field": CSRF_FIELD,
        "csrf_headers": "{}",
        "nav": [],
        "settings": None,
        "banners": [],
    }


async def run(web: WebApp, route: WebRoute, request: Request) -> Response:
    api = web.api
    # The API context pages hand to the access helpers: a browser session only (no OAuth
    # bearer, no Basic), CSRF on writes.
    api_route = ApiRoute(
        request.method, route.path, _unused_handler, prefix="", oauth=False, anon_allowed=True
    )
    session = api.codec.load(request.cookies.get(api.cookie_name))
    caller = await api.session_caller(session)
    ctx = Ctx(api, request, api_route, caller)
    page = Page(web, request, route, ctx)
    if ctx.session is None:
        ctx.set_session(SessionData(csrf=new_csrf_token()))
    try:
        if request.method not in SAFE_METHODS:
            await ctx.verify_csrf()  # 403 {"error": "CSRF token was invalid or missing."}
            if api.settings.api.registry_readonly and not route.open:
                raise MessageError(503, READ_ONLY_MESSAGE)  # as /api/v1 writes answer
        anonymous_ok = route.open or (not route.signed_in and api.settings.auth.anonymous_access)
        if caller.user is None and not anonymous_ok:
            raise Redirect(signin_url(request))
        if request.method == "GET" and not page.is_htmx:
            page.banners = await _banners(api)
        response = await route.handler(page)
    except Redirect as r:
        response = page.redirect(r.url)
    except ApiProblem as e:
        if e.status == 401 and caller.user is None:
            response = page.redirect(signin_url(request))
        else:
            response = error_page(web, page, e.status, _problem_message(e))
    _finish(web, page, response)
    return response


SEVERITY_ALERT = {"info": "info", "warning": "warning", "error": "danger"}


async def _banners(api: ApiApp) -> list[dict[str, Any]]:
    """The superusers' global messages (``/api/v1/messages``), shown on top of every page:
    Markdown ones rendered and sanitised, plain ones escaped by the template."""
    service = api.svc.messages
    if service is None:
        return []
    return [
        {
            "kind": SEVERITY_ALERT.get(m.severity, "info"),
            "content": render_markdown(m.content) if m.media_type == "text/markdown" else m.content,
        }
        for m in await service.list()
    ]


def _problem_message(e: ApiProblem) -> str:
    return str(e) or "Error"


async def _unused_handler(_ctx: Ctx) -> Response:  # pragma: no cover - never called
    raise NotImplementedError


def _finish(web: WebApp, page: Page, response: Response) -> None:
    api = web.api
    ctx = page.ctx
    secure = web.secure_cookies
    if ctx.session_changed:
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
    if page._flash_out:
        response.set_cookie(
            FLASH_COOKIE,
            _write_flash(page._flash_out),
            path="/",
            secure=secure,
            httponly=True,
            samesite="lax",
        )
    elif page.request.cookies.get(FLASH_COOKIE) and not page._flash_in:
        response.delete_cookie(FLASH_COOKIE, path="/", secure=secure, httponly=True)
    security_headers(response, no_store=page.route.no_store, img_sources=web.img_sources)


class UiPathConvertor(Convertor[str]):
    """Any path but the registry's and the API's (``/v2``, ``/api``): those keep their own
    JSON 404s."""

    regex = r"(?!v2(?:/|$)|api(?:/|$)).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def build_routes(web: WebApp, routes: list[WebRoute]) -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for r in routes:
        if not r.enabled:
            continue
        out.append(Route(r.path, _endpoint(web, r), methods=list(r.methods), name=r.name))
    return out


def _endpoint(web: WebApp, route: WebRoute) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await run(web, route, request)

    return endpoint


def not_found_route(web: WebApp) -> BaseRoute:
    """Any other GET outside ``/v2`` and ``/api``: the HTML 404 page (with the layout, so the
    visitor can navigate on)."""

    async def handler(page: Page) -> Response:
        return error_page(web, page, 404, NOT_FOUND_MESSAGE)

    register_url_convertor("uipath", UiPathConvertor())
    route = WebRoute("/{rest:uipath}", handler, signed_in=False)
    return Route(route.path, _endpoint(web, route), methods=["GET", "HEAD"])
