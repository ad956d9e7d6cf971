"""The web UI's pure parts: Markdown sanitising, the sign-in redirect target, the security
headers, template autoescaping and the little filters."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from starlette.responses import Response

from berth.http.web.filters import human_bytes, ms_date
from berth.http.web.framework import CONTENT_SECURITY_POLICY, safe_next, security_headers
from berth.http.web.markdown import render_markdown


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](  javascript:alert(1))",
        "[x][r]\n\n[r]: javascript:alert(1)",
        '<a href="javascript:alert(1)">x</a>',
        "<img src=x onerror=alert(1)>",
        "![x](javascript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        '<iframe src="https://example.com"></iframe>',
        "<svg onload=alert(1)>",
    ],
)
def test_markdown_never_yields_active_content(source: str) -> None:
    elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            elements.append((tag, attrs))

    Collect().feed(str(render_markdown(source)))
    for tag, attrs in elements:
        assert tag in {"p", "a", "img", "code", "strong", "em"}, tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            scheme = (value or "").strip().lower().split(":")[0]
            assert scheme not in {"javascript", "data", "vbscript"}, (tag, name, value)


def test_markdown_keeps_formatting_and_safe_links() -> None:
    html = str(render_markdown("# T\n\n**b** `c` [l](https://example.com/x?a=1&b=2)"))
    assert "<h1>T</h1>" in html
    assert "<strong>b</strong>" in html
    assert "<code>c</code>" in html
    assert (
        '<a href="https://example.com/x?a=1&amp;b=2" rel="noopener noreferrer nofollow">l</a>'
        in html
    )
    assert str(render_markdown(None)) == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/new", "/new"),
        ("/repository/a/b?tab=tags", "/repository/a/b?tab=tags"),
        ("//evil.example/", "/repository/"),
        ("https://evil.example/", "/repository/"),
        ("/\\evil.example", "/repository/"),
        ("", "/repository/"),
        (None, "/repository/"),
    ],
)
def test_sign_in_returns_only_to_local_paths(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_security_headers() -> None:
    r = Response()
    security_headers(r, no_store=True)
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    r = Response()
    security_headers(r, no_store=False)
    assert r.headers["cache-control"] == "private, no-cache"


def test_login_service_icons_join_img_src_only() -> None:
    """SERVICE_ICON origins may serve images, and nothing else."""
    r = Response()
    security_headers(r, no_store=False, img_sources=("https://icons.example.org",))
    csp = r.headers["content-security-policy"]
    assert "img-src 'self' data: https://icons.example.org;" in csp
    assert "script-src 'self';" in csp
    assert csp.count("icons.example.org") == 1


def test_service_icon_must_be_a_url_or_a_path() -> None:
    from berth.auth.settings import oidc_settings

    def block(icon: str) -> dict[str, object]:
        return {"X_LOGIN_CONFIG": {"OIDC_SERVER": "https://sso.example.org", "CLIENT_ID": "c",
                                   "CLIENT_SECRET": "s", "SERVICE_ICON": icon}}  # fmt: skip

    problems: list[str] = []
    (ok,) = oidc_settings(block("https://sso.example.org/logo.svg"), problems)
    assert ok.service_icon == "https://sso.example.org/logo.svg"
    (local,) = oidc_settings(block("/static/sso.svg"), problems)
    assert local.service_icon == "/static/sso.svg"
    assert problems == []
    for bad in ("javascript:alert(1)", "//evil.example.org/x.svg", "fa-key"):
        problems = []
        (refused,) = oidc_settings(block(bad), problems)
        assert refused.service_icon is None
        assert problems == ["X_LOGIN_CONFIG.SERVICE_ICON: must be an http(s) URL or a path"]


def test_templates_autoescape() -> None:
    from berth.http.web.framework import WebApp

    class FakeApi:
        base_url = "http://localhost:5000"

    web = WebApp(FakeApi())  # type: ignore[arg-type]
    out = web.env.from_string("{{ v }}").render(v='<script>"x"</script>')
    assert out == "&lt;script&gt;&#34;x&#34;&lt;/script&gt;"
    for name in ("base.html", "repository/repository.html", "errors/error.html"):
        assert web.env.get_template(name).environment.autoescape


def test_filters() -> None:
    assert human_bytes(0) == "0 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(5 * 1024**3) == "5.0 GiB"
    assert human_bytes(None) == "—"
    assert ms_date(0) == "—"
    assert ms_date(1_700_000_000_000) == "2023-11-14 22:13 UTC"
