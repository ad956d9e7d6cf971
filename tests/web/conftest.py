"""Browser tests of the web UI: Playwright (PyPI ``playwright``) driving Debian's chromium
(``/usr/bin/chromium``; no browser download) against a real ``berth serve``.

Fixtures:
  server       a running ``berth serve`` (embedded deployment) with users alice and bob
  browser      one chromium for the session
  page         a fresh browser context (own cookies) at 1024x768; any console error or
               uncaught page error fails the test, unless the test allows it first with
               ``console.allow("substring")`` (a 403 page logs its status, for instance)
  shot         ``shot(page, "name")`` saves docs/ui/name.png (the screenshots of docs/ui.md)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright_api

from tests.conftest import embedded_config
from tests.e2e.conftest import (  # noqa: F401 - fixtures and the hook that attaches server logs
    ALICE,
    BerthServer,
    StartServer,
    berth_factory,
    pytest_runtest_makereport,
)

CHROMIUM = "/usr/bin/chromium"
DOCS_UI = Path(__file__).resolve().parents[2] / "docs" / "ui"
BOB = ("bob", "bob-password-1")
VIEWPORT = {"width": 1024, "height": 768}  # the narrowest supported width


@pytest.fixture
def server(berth_factory: StartServer, tmp_path: Path) -> BerthServer:  # noqa: F811
    """``berth serve`` on the embedded deployment, with alice and bob."""
    s = berth_factory(embedded_config(tmp_path), name="web")
    s.create_user(*ALICE)
    s.create_user(*BOB)
    return s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test file. Module scope, not session: Playwright's sync API keeps an
    event loop running in this thread while it is started, and the test files a pytest-xdist
    worker runs after this one (CLI tests calling asyncio.run ...) need the thread free."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-test-deps", pytrace=False)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@dataclass
class Console:
    """Console errors and page errors seen during a test."""

    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def allow(self, fragment: str) -> None:
        """Don't fail on console errors containing ``fragment`` (an expected 403 or 404)."""
        self.allowed.append(fragment)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Any, console: Console) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    p = context.new_page()
    p.set_default_timeout(15_000)
    p.on("console", lambda m: console.errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: console.errors.append(f"page error: {e}"))
    p.on("dialog", lambda d: (console.errors.append(f"dialog opened: {d.message}"), d.dismiss()))
    yield p
    context.close()
    unexpected = console.unexpected()
    if unexpected:
        pytest.fail("browser console errors:\n" + "\n".join(unexpected), pytrace=False)


@pytest.fixture
def shot() -> Callable[[Any, str], None]:
    def save(page: Any, name: str) -> None:
        DOCS_UI.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_UI / f"{name}.png"), full_page=False)

    return save


def sign_in(page: Any, server: BerthServer, user: tuple[str, str] = ALICE) -> None:
    page.goto(f"{server.url}/signin")
    page.get_by_label("Username").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/repository/")
