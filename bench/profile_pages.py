"""Profile the benchmarked pages in-process with pyinstrument: where a request's time goes.

    source .ci/postgres.sh && start_postgres
    .venv/bin/python bench/profile_pages.py [--clients 10000] [--requests 200] [--page dashboard]

The same data set and pages as bench/pages.py (seeded once, then reused), served by
the Flask test client in this process, one request at a time, so the profile shows
the application's own work per request (no queueing, no HTTP parsing). Prints, per
page, the mean milliseconds per request and pyinstrument's call tree.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyinstrument import Profiler  # noqa: E402

from app import create_app  # noqa: E402
from app.benchdata import PASSWORD, STAFF_EMAIL, client_email  # noqa: E402
from bench.pages import deep_page, discover, ensure_data, server_env  # noqa: E402
from config import DevelopmentConfig  # noqa: E402


class InProcess:
    """bench.pages.Browser's surface over the Flask test client."""

    def __init__(self, app) -> None:
        self.client = app.test_client()

    def page(self, path: str, expect: str) -> str:
        response = self.client.get(path)
        content = response.get_data(as_text=True)
        if response.status_code != 200 or expect not in content:
            raise RuntimeError(f"{path}: HTTP {response.status_code} without {expect!r}")
        return content

    def sign_in(self, login_path: str, email: str) -> InProcess:
        page = self.client.get(login_path).get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = self.client.post(login_path, data={"email": email, "password": PASSWORD, "csrf_token": token})
        if response.status_code != 302:
            raise RuntimeError(f"sign-in of {email} failed: HTTP {response.status_code}")
        return self


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="profiled requests per page")
    parser.add_argument("--page", action="append", help="only these pages (by label prefix)")
    args = parser.parse_args()

    url = ensure_data(args.clients, reseed=False)
    found = discover(url, args.clients)
    os.environ.update(server_env(url))
    app = create_app(DevelopmentConfig, {"SQLALCHEMY_DATABASE_URI": url})  # (config.py read the environment at import)
    client = InProcess(app).sign_in("/login", client_email(found["client"]))
    heavy = InProcess(app).sign_in("/login", client_email(found["heavy"]))
    staff = InProcess(app).sign_in("/admin/login", STAFF_EMAIL)
    deep, depth = deep_page(heavy, "/invoices", hops=150)
    cid = found["client"]
    pages = [
        ("/healthz", client, "/healthz", "ok"),
        ("dashboard", client, "/", found["unpaid"]),
        ("invoice list", client, "/invoices", "PF-"),
        (f"invoice list page {depth}", heavy, deep, "<table"),
        ("invoice view", client, f"/invoices/{found['unpaid']}", found["unpaid"]),
        ("wallet", client, "/wallet", "<table"),
        ("statement", client, "/wallet/statement", "<table"),
        ("notifications", client, "/account/notifications", "<table"),
        ("admin client search", staff, f"/admin/clients?q=Client+{cid}", f"Client {cid}"),
        ("admin client profile", staff, f"/admin/clients/{cid}", f"Client {cid}"),
    ]
    for label, browser, path, expect in pages:
        if args.page and not any(label.startswith(p) for p in args.page):
            continue
        for _ in range(10):  # warm: the caches, the connection pool, the compiled templates
            browser.page(path, expect)
        profiler = Profiler(interval=0.0005)
        started = time.perf_counter()
        with profiler:
            for _ in range(args.requests):
                browser.page(path, expect)
        mean = (time.perf_counter() - started) / args.requests * 1000
        print(f"\n===== {label} ({path}): {mean:.1f} ms per request, in-process =====")
        print(profiler.output_text(unicode=False, color=False, show_all=False, short_mode=True))


if __name__ == "__main__":
    main()
