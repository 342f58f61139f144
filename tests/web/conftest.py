"""Fixtures of the page tests: one Chromium for the session, and `browsing`, which opens
pages (JavaScript on or off, phone or desktop width) and audits each page a test looks at:
axe-core's WCAG 2.1 A/AA rules (JavaScript on), no console error (a CSP refusal is one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import Stack
from tests.web.browser import (
    AXE,
    CHROMIUM_ARGS,
    DESKTOP,
    MISSING_AXE,
    MISSING_BROWSER,
    axe_violations,
    chromium_path,
)


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Any]:
    """Fails (never skips) without a browser: the pages are not tested without one. One per
    module, started after the portal: Playwright's synchronous API keeps an event loop running
    in this thread until it stops, and `asyncio.run` (the stack's and other modules' database
    set-up) cannot run while it does."""
    executable = chromium_path()
    if executable is None:
        pytest.fail(MISSING_BROWSER, pytrace=False)
    if not AXE.exists():
        pytest.fail(MISSING_AXE, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Browsing:
    """Pages of one test. `open()` gives a page in a fresh context (its own cookies);
    `look(page)` audits the page it shows; at the end every page loaded with JavaScript on
    must have been looked at, and no page may have logged an error."""

    def __init__(self, browser: Any, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[Any] = []
        self.loaded: list[tuple[Any, str]] = []
        self.audited: set[tuple[int, str]] = set()
        self.violations: list[str] = []
        self.console_errors: list[str] = []
        self.js: dict[int, bool] = {}
        self.foreign: list[str] = []

    def open(self, *, js: bool = True, viewport: dict[str, int] = DESKTOP) -> Any:
        context = self.browser.new_context(
            base_url=self.base_url,
            viewport=viewport,
            java_script_enabled=js,
            locale="vi-VN",
        )
        self.contexts.append(context)
        page = context.new_page()
        self.js[id(page)] = js

        def on_console(message: Any) -> None:
            if message.type != "error":
                return
            document_status = message.text.startswith("Failed to load resource") and (
                message.location.get("url") == page.url
            )  # the page's own 4xx/5xx status, which the tests check themselves
            if not document_status:
                self.console_errors.append(f"{page.url}: {message.text}")

        def on_load() -> None:
            if js:
                self.loaded.append((page, page.url))

        page.on("console", on_console)
        page.on("load", on_load)
        return page

    def look(self, page: Any) -> Any:
        """Audit the page as it is (axe needs JavaScript: pages seen only with it off are
        audited where a test looks at them with it on)."""
        if self.js[id(page)]:
            key = (id(page), page.url)
            if key not in self.audited:
                self.audited.add(key)
                self.violations += axe_violations(page)
        return page

    def goto(self, page: Any, path: str, status: int = 200) -> Any:
        response = page.goto(path)
        assert response is not None and response.status == status, (
            f"{path}: {response.status if response else None}"
        )
        return self.look(page)

    def not_ours(self, origin: str) -> None:
        """Pages of another site a test serves (an attacker's) are not the portal's to audit."""
        self.foreign.append(origin)

    def close(self) -> None:
        unaudited = sorted(
            {
                url
                for page, url in self.loaded
                if (id(page), url) not in self.audited
                and not any(url.startswith(origin) for origin in self.foreign)
            }
        )
        for context in self.contexts:
            context.close()
        assert not self.violations, "accessibility (axe, WCAG 2.1 A/AA):\n" + "\n".join(
            self.violations
        )
        assert not self.console_errors, "console errors:\n" + "\n".join(self.console_errors)
        assert not unaudited, f"pages loaded but not audited: {unaudited}"


@pytest.fixture
def browsing(browser: Any, stack: Stack) -> Iterator[Browsing]:
    session = Browsing(browser, stack.base_url)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="session")
def admin_headers(stack: Stack) -> dict[str, str]:
    response = httpx.post(
        f"{stack.base_url}/api/v1/accounts/token",
        data={"username": stack.admin_email, "password": stack.admin_password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
