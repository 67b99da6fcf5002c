"""Screenshots of the main pages, for a human to look at: `make screenshots`.

Needs the app served on BASE_URL (default http://127.0.0.1:5000, as `make run`
does) with the demo data, and Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")
OUT = Path(os.environ.get("SCREENSHOT_DIR", "screenshots"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, viewport in (
            ("desktop", {"width": 1280, "height": 800}),
            ("mobile", {"width": 390, "height": 844}),
        ):
            page = browser.new_page(viewport=viewport)
            page.goto(f"{BASE_URL}/login")
            page.screenshot(path=OUT / f"{name}-login.png", full_page=True)
            page.goto(f"{BASE_URL}/register")
            page.click("button[type=submit]")
            page.wait_for_selector(".field.has-error")
            page.screenshot(path=OUT / f"{name}-register-errors.png", full_page=True)
            page.goto(f"{BASE_URL}/login")
            page.fill("#email", "demo@example.com")
            page.fill("#password", "demo-password-1")
            page.click("button[type=submit]")
            page.wait_for_url(f"{BASE_URL}/")
            page.screenshot(path=OUT / f"{name}-dashboard.png", full_page=True)
            pages = (
                ("invoices", "/invoices"),
                ("services", "/services"),
                ("cart", "/cart"),
                ("wallet", "/wallet"),
                ("add-funds", "/wallet/add-funds"),
                ("statement", "/wallet/statement"),
                ("pay", f"/invoices/pay?invoice=PF-{date.today().year}-000002"),
                ("transfer", "/wallet/transfers/1"),
                ("details", "/account/details"),
                ("security", "/account/security"),
                ("twofactor", "/account/security/2fa"),
                ("trusted-users", "/trusted-users"),
                ("trusted-user-new", "/trusted-users/new"),
                ("privacy", "/account/privacy"),
                ("notifications", "/account/notifications"),
                ("notification", "/account/notifications/4"),
            )
            for slug, path in pages:
                page.goto(f"{BASE_URL}{path}")
                page.screenshot(path=OUT / f"{name}-{slug}.png", full_page=True)
            page.goto(f"{BASE_URL}/invoices?status=unpaid")
            page.click("table a.strong")
            page.screenshot(path=OUT / f"{name}-proforma.png", full_page=True)
            page.click("text=Edit billing details")
            page.screenshot(path=OUT / f"{name}-billing.png", full_page=True)
            page.goto(f"{BASE_URL}/invoices?status=paid")
            page.click("table a.strong")
            page.screenshot(path=OUT / f"{name}-tax-invoice.png", full_page=True)
            page.goto(f"{BASE_URL}/services")
            page.click("text=blog.popescu.ro")
            page.screenshot(path=OUT / f"{name}-service.png", full_page=True)
            page.click("text=Sign out")
            page.goto(f"{BASE_URL}/admin/login")
            page.fill("#email", "admin@example.com")
            page.fill("#password", "admin-password-1")
            page.click("button[type=submit]")
            page.wait_for_url(f"{BASE_URL}/admin/")
            page.screenshot(path=OUT / f"{name}-admin.png", full_page=True)
            page.goto(f"{BASE_URL}/admin/bank-transfers")
            page.screenshot(path=OUT / f"{name}-admin-transfers.png", full_page=True)
            page.goto(f"{BASE_URL}/admin/efactura?show=all")
            page.screenshot(path=OUT / f"{name}-admin-efactura.png", full_page=True)
            page.close()
        browser.close()
    print(f"screenshots in {OUT}/")


if __name__ == "__main__":
    main()
