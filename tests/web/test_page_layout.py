"""The main pages at a phone's width (360 px) and a desktop's (1280 px): nothing scrolls
sideways, axe-core finds nothing, and the suite writes their screenshots to docs/screenshots/
(committed; the README shows a few). And the first load of each stays small."""

from __future__ import annotations

from typing import Any

import pytest

from tests.search_cases import BIRTH_REGISTRATION
from tests.web.browser import DESKTOP, PHONE, no_horizontal_scroll, screenshot
from tests.web.conftest import Browsing

MAIN_PAGES = [
    ("trang-chu", "/", 200),
    ("tim-kiem", "/thu-tuc?q=dang+ky+khai+sinh", 200),
    ("thu-tuc", f"/thu-tuc/{BIRTH_REGISTRATION}", 200),
    ("co-quan-cap-so", "/co-quan?cap=so", 200),
    ("co-quan", "/co-quan/HT-STP", 200),
    ("linh-vuc", "/linh-vuc?cap=xa", 200),
    ("dang-nhap", "/dang-nhap", 200),
    ("dang-ky", "/dang-ky", 200),
    ("kich-hoat", "/kich-hoat", 200),
    ("khong-tim-thay", "/khong-co-trang-nay", 404),
]
FIRST_LOAD_LIMIT = 150 * 1024
"""Bytes over the wire (compressed bodies and headers) of a page and everything it loads."""


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360px", "1280px"])
def test_main_pages_fit_the_screen(browsing: Browsing, viewport: dict[str, int]) -> None:
    page = browsing.open(viewport=viewport)
    for name, path, status in MAIN_PAGES:
        browsing.goto(page, path, status=status)
        assert no_horizontal_scroll(page), f"{path} scrolls sideways at {viewport['width']} px"
        screenshot(page, name)


def test_first_load_of_every_main_page_is_small(browsing: Browsing) -> None:
    for _, path, status in MAIN_PAGES:
        page = browsing.open()  # a fresh context: nothing cached
        transferred: list[tuple[str, int]] = []

        def finished(request: Any, into: list[tuple[str, int]] = transferred) -> None:
            sizes = request.sizes()
            into.append((request.url, sizes["responseBodySize"] + sizes["responseHeadersSize"]))

        page.on("requestfinished", finished)
        browsing.goto(page, path, status=status)
        page.wait_for_load_state("load")
        total = sum(size for _, size in transferred)
        assert total <= FIRST_LOAD_LIMIT, f"{path}: {total} bytes: {transferred}"
        assert any("bootstrap" in url for url, _ in transferred)  # the styles were counted
