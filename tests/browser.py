"""Headless Chromium for the tests that look at pages as a user does.

Set VMPERSONA_SCREENSHOTS=/some/dir to keep a screenshot of each step they mark.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def open_page() -> Iterator:
    """Yields a Playwright page in a fresh browser; closes everything afterwards."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from django.db import connections

    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by
    # the test meanwhile would otherwise be refused as "async unsafe".
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(20_000)
            yield page
        finally:
            # While that loop runs, Django keeps this thread's database connections apart
            # from the ones it had before; close them now, or they outlive the test.
            connections.close_all()
            browser.close()
            if previous is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def shot(page, name: str) -> None:
    folder = os.environ.get("VMPERSONA_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def log_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/profiles/")


def console_problems(page) -> list[str]:
    """A list that fills with what the content security policy refuses on the page and
    with script errors, as they happen; a test asserts it stays empty."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


SIZES = {"desktop": (1366, 768), "phone": (390, 844)}


def shots_at_sizes(page, name: str) -> None:
    """A screenshot at each of ``SIZES`` (``name-desktop``, ``name-phone``), asserting
    that nothing scrolls sideways at either; the page is left at the desktop size."""
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, f"{name}-{size}")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow == 0, f"{name} scrolls sideways at {width}px"
    page.set_viewport_size({"width": 1366, "height": 768})
