"""What every page has: the icon a browser shows in its tab, and anchors that land in
view below the sticky top bar."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

APP_CSS = Path(__file__).resolve().parent.parent / "static" / "css" / "app.css"


def test_favicon_is_a_static_file_linked_from_every_page(client, users):
    path = finders.find("favicon.svg")
    assert path and Path(path).read_text().startswith("<svg")
    # The login page (no user yet) and a signed-in page link it.
    html = client.get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    client.force_login(users["viewer"])
    html = client.get("/profiles/").content.decode()
    assert 'href="/static/favicon.svg"' in html and "data:image/svg+xml" not in html


def test_favicon_ico_answers_without_a_login(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == "/static/favicon.svg"
    assert "max-age" in response["Cache-Control"]


def test_anchored_targets_stop_below_the_sticky_top_bar(client, users):
    css = APP_CSS.read_text()
    assert re.search(r"\.topbar \{[^}]*position: sticky", css)
    assert re.search(r"\[id\] \{ scroll-margin-top: calc\(var\(--topbar-h\) \+ \d+px\); \}", css)
    # The bar's height, as it wraps, is measured by a script every page runs right after
    # the bar (before the browser jumps to a #target); tests/profiles_app/test_browser.py
    # looks at where the review box lands.
    client.force_login(users["approver"])
    html = client.get("/profiles/").content.decode()
    header_end = html.index("</header>")
    assert html.index('<script src="/static/js/topbar.js"></script>') > header_end
    assert html.index('<script src="/static/js/topbar.js"></script>') < html.index(
        '<main class="page">'
    )
    assert finders.find("js/topbar.js")
