"""The superusers' global messages (``/api/v1/messages``) as a banner on every page: plain
text escaped, Markdown rendered and sanitised, gone once deleted."""

from __future__ import annotations

from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import Berth
from tests.integration.web.conftest import Browser


async def test_global_messages_show_on_every_page(registry: Berth, browser: Browser) -> None:
    root = bearer(await oauth_token(registry, "root"))
    for content, media_type, severity in [
        ("Maintenance <script>alert(1)</script> tonight", "text/plain", "warning"),
        ("Read the **new** [policy](https://example.org/policy)", "text/markdown", "error"),
    ]:
        r = await registry.http.post(
            "/api/v1/messages",
            json={"message": {"content": content, "media_type": media_type, "severity": severity}},
            headers=root,
        )
        assert r.status_code == 201, r.text

    page = await browser.get("/signin")  # anonymous visitors see them too
    assert page.status_code == 200
    assert "Maintenance &lt;script&gt;alert(1)&lt;/script&gt; tonight" in page.text
    assert "<script>alert(1)" not in page.text
    assert "<strong>new</strong>" in page.text
    assert 'href="https://example.org/policy"' in page.text
    assert "pf-m-warning berth-alert berth-banner" in page.text
    assert "pf-m-danger berth-alert berth-banner" in page.text

    await browser.sign_in("alice")
    page = await browser.get("/repository/")
    assert page.text.count("berth-banner__content") == 2

    listed = (await registry.http.get("/api/v1/messages")).json()["messages"]
    for m in listed:
        r = await registry.http.delete(f"/api/v1/message/{m['uuid']}", headers=root)
        assert r.status_code == 204
    page = await browser.get("/repository/")
    assert "berth-banner" not in page.text
