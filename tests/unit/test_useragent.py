"""User agents as people read them."""

from __future__ import annotations

import pytest

from app.core.useragent import describe

CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


@pytest.mark.parametrize(
    ("agent", "shown"),
    [
        (CHROME_LINUX, "Chrome on Linux"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "Safari on iPhone",
        ),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox on macOS"),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.5.0", "curl/8.5.0"),
        (None, "Unknown browser"),
        ("", "Unknown browser"),
    ],
)
def test_describe(agent, shown):
    assert describe(agent) == shown


def test_the_security_page_names_the_browser_and_keeps_the_full_string_as_a_title(app):
    from tests.helpers import login, make_owner

    make_owner(app)
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = CHROME_LINUX
    login(client)
    page = client.get("/account/security").get_data(as_text=True)
    assert f'<td title="{CHROME_LINUX}">Chrome on Linux</td>' in page
