"""The browser the page tests drive: Debian's chromium through Playwright (Playwright's own
browser download cannot reach its server here), axe-core (web/node_modules, pinned by
web/package-lock.json) run on every page a test visits, and the checks every page passes."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import ROOT

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # as root (CI, this machine) Chromium refuses to start without it
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("PORTAL_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


MISSING_BROWSER = (
    "the page tests need Debian's chromium and it is not installed: `apt-get install -y "
    "chromium` (make test installs it when run as root), or set PORTAL_CHROMIUM"
)
MISSING_AXE = f"axe-core is not installed at {AXE}: run `cd web && npm ci` (make test does it)"


@dataclass
class PageAudit:
    """What the checks found on the pages one test visited."""

    violations: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)


def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now, one line each. The script
    is evaluated through the DevTools protocol, which the page's CSP does not govern."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        AXE_TAGS,
    )
    lines = []
    for violation in result["violations"]:
        targets = [json.dumps(node["target"]) for node in violation["nodes"][:3]]
        lines.append(
            f"{page.url}: {violation['id']} ({violation['impact']}): "
            f"{violation['help']} at {', '.join(targets)}"
        )
    return lines


def no_horizontal_scroll(page: Any) -> bool:
    return bool(
        page.evaluate(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def screenshot(page: Any, name: str) -> Path:
    """docs/screenshots/<name>-<width>.png, the top of the page as a person first sees it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    path = SCREENSHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(path))
    return path
