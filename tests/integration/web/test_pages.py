"""The web UI's security plumbing and pages over ASGI (embedded; the distributed deployment
in the slow suite): CSRF, CSP and cookie flags, escaping and Markdown sanitising, the same
sessions and the same answers as /api/v1."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx

from tests.integration.api.conftest import configured  # noqa: F401 - the fixture
from tests.integration.conftest import Berth
from tests.integration.web.conftest import Browser, csrf_of


def parsed(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every element of ``html`` as the browser builds it: (tag, attributes)."""
    found: list[tuple[str, dict[str, str | None]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, dict(attrs)))

    Collect().feed(html)
    return found


async def test_root_redirects_to_the_repository_list_and_signin_for_anonymous(
    browser: Browser,
) -> None:
    r = await browser.get("/")
    assert r.status_code == 303
    assert r.headers["location"] == "/repository/"
    r = await browser.get("/new")
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?next=%2Fnew"


async def test_signin_page_sets_a_strict_session_cookie_and_headers(browser: Browser) -> None:
    r = await browser.get("/signin")
    assert r.status_code == 200
    assert '<label class="pf-v5-c-form__label" for="field-username">' in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # http here; https sets Secure
    assert "<script>" not in r.text  # no inline script: only <script src=...>
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text)
    assert " style=" not in r.text


async def test_a_form_without_its_csrf_token_is_refused(browser: Browser) -> None:
    await browser.get("/signin")
    r = await browser.http.post("/signin", data={"username": "alice", "password": "x"})
    assert r.status_code == 403
    assert "CSRF token was invalid or missing." in r.text
    r = await browser.http.post(
        "/signin", data={"username": "alice", "password": "x", "_csrf_token": "forged"}
    )
    assert r.status_code == 403


async def test_the_csrf_header_is_accepted_as_htmx_sends_it(browser: Browser) -> None:
    await browser.sign_in("alice")
    page = await browser.get("/repository/")
    token = csrf_of(page.text)
    assert f"hx-headers='{{&#34;X-CSRF-Token&#34;:&#34;{token}&#34;}}'" in page.text
    r = await browser.http.post("/signout", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert r.status_code == 303


async def test_sign_in_shares_the_api_session_and_sign_out_ends_it(
    browser: Browser, registry: Berth
) -> None:
    r = await browser.submit("/signin", "/signin", {"username": "bob", "password": "nope"})
    assert r.status_code == 403
    assert "Invalid Username or Password" in r.text
    r = await browser.sign_in("alice")
    assert r.headers["location"] == "/"
    cookie = browser.http.cookies.get(registry.settings.session.cookie_name)
    assert cookie
    me = await browser.get("/api/v1/user/", headers={"X-Requested-With": "XMLHttpRequest"})
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    page = await browser.get("/repository/")
    assert "alice" in page.text
    assert "Sign out" in page.text

    r = await browser.submit("/repository/", "/signout", {})
    assert r.status_code == 303
    assert r.headers["location"] == "/signin"
    # The old cookie no longer signs anyone in, on the UI or the API.
    browser.http.cookies.set(registry.settings.session.cookie_name, cookie)
    me = await browser.get("/api/v1/user/", headers={"X-Requested-With": "XMLHttpRequest"})
    assert me.status_code == 401
    r = await browser.get("/new")
    assert r.status_code == 303


async def test_a_password_change_ends_older_sessions(
    browser: Browser, other_browser: Browser, registry: Berth
) -> None:
    await browser.sign_in("alice")
    await other_browser.sign_in("alice")
    user = await registry.services.accounts.get_user("alice")
    await registry.services.accounts.update_user(user.id, password="a-new-password-1")
    for b in (browser, other_browser):
        r = await b.get("/new")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/signin")


async def test_create_a_repository_and_see_its_page(browser: Browser) -> None:
    await browser.sign_in("alice")
    page = await browser.get("/new")
    assert '<option value="alice"' in page.text
    r = await browser.submit(
        "/new",
        "/new",
        {
            "namespace": "alice",
            "name": "webapp",
            "description": "# Hello\n\nA **bold** app.",
            "visibility": "private",
        },
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/repository/alice/webapp"
    page = await browser.get("/repository/alice/webapp")
    assert page.status_code == 200
    assert "<h1>Hello</h1>" in page.text
    assert "<strong>bold</strong>" in page.text
    assert "Repository alice/webapp created." in page.text  # the flash message, once
    assert "podman push localhost:5000/alice/webapp:latest" in page.text  # empty: push
    assert "podman pull localhost:5000/alice/webapp" in page.text
    again = await browser.get("/repository/alice/webapp")
    assert "created." not in again.text
    listing = await browser.get("/repository/")
    assert 'href="/repository/alice/webapp"' in listing.text

    r = await browser.submit(
        "/new", "/new", {"namespace": "alice", "name": "webapp", "visibility": "private"}
    )
    assert r.status_code == 400
    assert "Repository already exists" in r.text


async def test_no_repository_in_a_namespace_you_may_not_create_in(browser: Browser) -> None:
    await browser.sign_in("alice")
    r = await browser.submit("/new", "/new", {"namespace": "bob", "name": "x"})
    assert r.status_code == 400
    assert "You may not create repositories in this namespace." in r.text


async def test_a_description_with_script_and_javascript_links_renders_inert(
    browser: Browser,
) -> None:
    await browser.sign_in("alice")
    evil = (
        '<script>alert("x")</script>\n\n[click](javascript:alert(1)) '
        "<img src=x onerror=alert(2)> [ok](https://example.com/) "
        '<a href="javascript:alert(3)">raw</a> [ref][r]\n\n[r]: JavaScript:alert(4)'
    )
    r = await browser.submit(
        "/new", "/new", {"namespace": "alice", "name": "evil", "description": evil}
    )
    assert r.status_code == 303
    page = await browser.get("/repository/alice/evil")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;" in page.text
    elements = parsed(page.text)
    for tag, attrs in elements:
        assert tag != "script" or attrs.get("src"), "an inline script"
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, name)
    assert "&lt;img src=x onerror=alert(2)&gt;" in page.text  # shown as text
    assert '<a href="https://example.com/" rel="noopener noreferrer nofollow">ok</a>' in page.text


async def test_a_user_without_rights_gets_the_api_answers_and_no_controls(
    browser: Browser, other_browser: Browser, registry: Berth
) -> None:
    await browser.sign_in("alice")
    r = await browser.submit("/new", "/new", {"namespace": "alice", "name": "secret"})
    assert r.status_code == 303
    await other_browser.sign_in("bob")
    r = await other_browser.get("/repository/alice/secret")
    assert r.status_code == 403  # as GET /api/v1/repository/alice/secret answers bob
    assert "podman push" not in r.text
    api = await other_browser.get(
        "/api/v1/repository/alice/secret", headers={"X-Requested-With": "XMLHttpRequest"}
    )
    assert api.status_code == r.status_code
    r = await other_browser.get("/repository/alice/missing")
    assert r.status_code == 403  # permission before existence, as the API
    r = await other_browser.get("/repository/bob/missing")
    assert r.status_code == 404
    listing = await other_browser.get("/repository/")
    assert "alice/secret" not in listing.text

    await registry.set_public("alice/secret")
    r = await other_browser.get("/repository/alice/secret")
    assert r.status_code == 200
    assert "podman push" not in r.text  # read-only: no push commands


async def test_unknown_pages_answer_an_html_404_and_api_paths_keep_json(browser: Browser) -> None:
    r = await browser.get("/no/such/page")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Not found" in r.text
    r = await browser.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    r = await browser.get("/v2/nothing/here/x")
    assert not r.headers["content-type"].startswith("text/html")


async def test_search_finds_readable_repositories_only(
    browser: Browser, other_browser: Browser
) -> None:
    await browser.sign_in("alice")
    await browser.submit("/new", "/new", {"namespace": "alice", "name": "findme"})
    r = await browser.get("/search", params={"q": "FINDME"})
    assert 'href="/repository/alice/findme"' in r.text
    await other_browser.sign_in("bob")
    r = await other_browser.get("/search", params={"q": "findme"})
    assert "alice/findme" not in r.text


async def test_static_assets_are_served(browser: Browser) -> None:
    for path in (
        "/static/vendor/patternfly/patternfly.min.css",
        "/static/vendor/htmx/htmx.min.js",
        "/static/berth.js",
        "/static/berth.css",
    ):
        r = await browser.get(path)
        assert r.status_code == 200, path


async def test_star_with_htmx_swaps_the_button(browser: Browser) -> None:
    await browser.sign_in("alice")
    await browser.submit("/new", "/new", {"namespace": "alice", "name": "shiny"})
    page = await browser.get("/repository/")
    token = csrf_of(page.text)
    r = await browser.http.post(
        "/repository/alice/shiny/star",
        data={"starred": "true"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert r.status_code == 200
    assert 'aria-label="Unstar alice/shiny"' in r.text
    starred = await browser.get("/repository/", params={"view": "starred"})
    assert 'href="/repository/alice/shiny"' in starred.text
    r = await browser.http.post(
        "/repository/bob/hidden/star",
        data={"starred": "true"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert r.status_code == 404


async def test_configuration_switches(configured: Any) -> None:  # noqa: F811
    """Anonymous access off: every page but sign-in needs a user; sign-up off: 404; https:
    Secure cookies; read-only: writes answer 503 (sign-in still works)."""
    async with configured(
        FEATURE_ANONYMOUS_ACCESS=False,
        FEATURE_USER_CREATION=False,
        PREFERRED_URL_SCHEME="https",
        REGISTRY_STATE="readonly",
    ) as berth:
        transport = httpx.ASGITransport(app=berth.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://localhost:5000") as h:
            b = Browser(h)
            r = await b.get("/repository/")
            assert r.status_code == 303
            assert r.headers["location"] == "/signin?next=%2Frepository%2F"
            assert "; secure" in r.headers["set-cookie"].lower()
            r = await b.get("/signin")
            assert r.status_code == 200
            assert "Create account" not in r.text
            assert (await b.get("/createaccount")).status_code == 303  # as any page: sign in
            await b.sign_in("alice")
            assert (await b.get("/createaccount")).status_code == 404
            r = await b.submit("/repository/", "/new", {"namespace": "alice", "name": "ro"})
            assert r.status_code == 503
            assert "read-only" in r.text
