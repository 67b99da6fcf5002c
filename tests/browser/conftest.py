"""Fixtures for the browser tests: headless Chromium (Content Security Policy checked),
a screenshot of every open page when a test fails (tmp/screenshots), and axe-core."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import pytest

from tests.conftest import unavailable

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "tmp" / "screenshots"
AXE = next((Path(__file__).resolve().parent / "vendor").glob("axe-*.min.js"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures know whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(request) -> bool:
    report = getattr(request.node, "report_call", None)
    return report is None or report.failed


def _screenshot_all(request, contexts) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.nodeid.split("::", 1)[-1])
    for c, context in enumerate(contexts):
        for p, tab in enumerate(context.pages):
            try:
                tab.screenshot(path=str(SCREENSHOTS / f"{name}-{c}-{p}.png"), full_page=True)
            except Exception:  # noqa: S112 - a page that died still lets the others be saved
                continue


def _watch_csp(tab) -> None:
    tab.csp_violations = []
    tab.on(
        "console",
        lambda message: "Content Security Policy" in message.text and tab.csp_violations.append(message.text),
    )


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session (each test opens its own contexts)."""
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
        except Exception as error:
            unavailable(f"Chromium at {CHROMIUM} does not start: {error}")
        yield browser
        browser.close()


@pytest.fixture
def new_context(chromium, request):
    """new_context(**options) -> a fresh browser context (its own cookies); its pages are
    CSP-watched, screenshotted if the test fails, and closed after the test."""
    contexts = []

    def make(**options):
        context = chromium.new_context(**options)
        context.set_default_timeout(10_000)
        context.on("page", _watch_csp)
        contexts.append(context)
        return context

    yield make
    if _failed(request):
        _screenshot_all(request, contexts)
    violations = [v for context in contexts for tab in context.pages for v in tab.csp_violations]
    for context in contexts:
        context.close()
    assert violations == [], "the pages must work under the CSP"


@pytest.fixture
def page(new_context):
    return new_context().new_page()


@functools.cache
def _axe_source() -> str:
    return AXE.read_text()


def axe_check(tab, *, context: str = "") -> None:
    """Run axe-core on the page; fail on any serious or critical violation."""
    if not tab.evaluate("() => typeof window.axe !== 'undefined'"):
        tab.evaluate(_axe_source() + "\n;true")  # through the DevTools protocol: the page's CSP stays as it is
    result = tab.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    lines = [
        f"{v['id']} ({v['impact']}): {v['help']} at " + ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in bad
    ]
    assert not bad, f"axe on {context or tab.url}:\n" + "\n".join(lines)
