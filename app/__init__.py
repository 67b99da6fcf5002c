"""Billfold: the client area and staff admin of a web-hosting billing system."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, session
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config, config_from_env


def create_app(config: type[Config] | None = None, overrides: dict | None = None) -> Flask:
    """Build the app from a config class (default: from BILLFOLD_ENV)."""
    app = Flask(__name__, template_folder="../templates", static_folder="../static", instance_relative_config=True)
    app.config.from_object(config or config_from_env())
    app.config.update(overrides or {})
    _check_config(app)

    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        # Only as many X-Forwarded-* hops as we have proxies; never a raw header.
        # X-Forwarded-Host is not trusted: email links use SERVER_NAME anyway.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    # The packages are imported here, not at the top: each of them imports app.extensions and
    # app.core (so this package) at import time, and only create_app wires them together.
    from app import cli
    from app.access import guard
    from app.clients import ro_counties
    from app.core import errors, i18n, ids, queue, sql, templating
    from app.core import htmx as toasts
    from app.core.ratelimit import limiter
    from app.einvoice import services as efactura
    from app.extensions import csrf, db, htmx, login_manager, migrate
    from app.hosting import handlers as hosting_handlers
    from app.invoices import guards, tax
    from app.notify import handlers, sweeper
    from app.security import signin as login
    from app.wallet import services as wallet_services

    for ext in (db, login_manager, csrf, htmx):
        ext.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    limiter.init_app(app)

    for module in (
        i18n,
        ids,
        login,
        queue,
        sql,
        templating,
        toasts,
        errors,
        cli,
        guards,
        guard,
        wallet_services,
        tax,
        ro_counties,
    ):
        module.init_app(app)
    # Event handlers run in the order they subscribe: hosting renews a paid invoice's
    # services before notify writes about it.
    for module in (hosting_handlers, handlers, sweeper, efactura):
        module.init_app(app)

    from app.admin import routes as admin
    from app.auth import views as auth
    from app.casework import views as casework
    from app.dashboard import views as dashboard
    from app.einvoice import views as einvoice
    from app.hosting import views as hosting
    from app.invoices import views as invoices
    from app.notify import views as notify
    from app.profile import views as profile
    from app.security import views as security
    from app.trusted_users import views as trusted_users
    from app.wallet import views as wallet

    for module in (
        auth,
        dashboard,
        security,
        profile,
        notify,
        invoices,
        einvoice,
        wallet,
        hosting,
        trusted_users,
        casework,
        admin,
    ):
        app.register_blueprint(module.bp)

    _import_models()
    _register_request_hooks(app)
    return app


def _check_config(app: Flask) -> None:
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY is not set: refusing to start without it (see README, Configuration)")
    if app.config["ENV_NAME"] == "production" and not app.config.get("PUBLIC_HOST_SET"):
        raise RuntimeError("SERVER_NAME is not set: emails would link to the wrong host (see README)")
    production = app.config["ENV_NAME"] == "production"
    if production and app.config["PAYMENT_GATEWAY"] == "test" and not app.config.get("ALLOW_TEST_GATEWAY"):
        raise RuntimeError(
            "PAYMENT_GATEWAY is the built-in test gateway, which accepts any valid card number without "
            "charging it: configure a real gateway (or set ALLOW_TEST_GATEWAY=1 for a staging site)"
        )
    if production and _memory_rate_limits(app) and not app.config.get("RATELIMIT_STORAGE_URI_SET"):
        raise RuntimeError(
            "Rate limits would be counted in memory, separately by each worker process (4 gunicorn workers "
            "allow 4 times the wrong passwords): set REDIS_URL or RATELIMIT_STORAGE_URI=redis://... so all "
            "workers share them (or RATELIMIT_STORAGE_URI=memory:// explicitly for a single-process site)"
        )
    try:
        ZoneInfo(app.config["BILLING_TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        raise RuntimeError(
            f"BILLING_TIMEZONE {app.config['BILLING_TIMEZONE']!r} is not a time zone (use a name like Europe/Bucharest)"
        ) from None
    _check_seller(app.config["SELLER"])
    from app.core.i18n import LANGUAGES

    if app.config["DEFAULT_LANGUAGE"] not in LANGUAGES:
        raise RuntimeError(
            f"DEFAULT_LANGUAGE {app.config['DEFAULT_LANGUAGE']!r} has no catalog: use one of {', '.join(LANGUAGES)}"
        )
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgres://") or uri.startswith("postgresql://"):
        # psycopg 3 is the installed driver.
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri.split("://", 1)[1]
    if uri.startswith("sqlite:///"):
        from pathlib import Path

        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if uri.startswith("sqlite"):
        # Locked reads take SQLite's write lock (app.core.sql): a writer waits its turn
        # for up to 30 s rather than pysqlite's default 5 s before "database is locked".
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options["connect_args"] = {"timeout": 30, **options.get("connect_args", {})}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _check_seller(seller: dict) -> None:
    """The seller's address must be one an e-invoice can carry: a Romanian seller's county is an
    ISO 3166-2:RO code, and in Bucharest the city is the sector (CIUS-RO BR-RO-100, BR-RO-110)."""
    from stdnum import iban

    from app.clients.ro_counties import COUNTIES, SECTORS

    if seller.get("iban") and not iban.is_valid(seller["iban"]):
        raise RuntimeError(f"SELLER_IBAN {seller['iban']!r} is not a valid IBAN")
    if seller.get("country") != "RO":
        return
    if seller.get("county") not in COUNTIES:
        raise RuntimeError(
            f"SELLER_COUNTY {seller.get('county')!r} is not a Romanian county code: use ISO 3166-2:RO, "
            "e.g. RO-CJ for Cluj or RO-B for Bucharest"
        )
    if seller["county"] == "RO-B" and seller.get("city") not in SECTORS:
        raise RuntimeError(
            f"SELLER_CITY {seller.get('city')!r}: a Bucharest seller's city is its sector, SECTOR1 to SECTOR6"
        )


def _memory_rate_limits(app: Flask) -> bool:
    return app.config.get("RATELIMIT_ENABLED", True) and app.config["RATELIMIT_STORAGE_URI"].startswith("memory://")


def _import_models() -> None:
    """Every model must be imported for Alembic autogenerate and relationships."""
    from app.approvals import models as _approvals  # noqa: F401
    from app.audit import models as _audit  # noqa: F401
    from app.casework import models as _casework  # noqa: F401
    from app.clients import models as _clients  # noqa: F401
    from app.einvoice import models as _einvoice  # noqa: F401
    from app.hosting import models as _hosting  # noqa: F401
    from app.invoices import models as _invoices  # noqa: F401
    from app.notify import models as _notify  # noqa: F401
    from app.profile import models as _profile  # noqa: F401
    from app.security import models as _security  # noqa: F401
    from app.staff import models as _staff  # noqa: F401
    from app.wallet import models as _wallet  # noqa: F401


# htmx works under it: no inline script or style, no eval (hx-on is not used).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _register_request_hooks(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        return "ok", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}

    @app.get("/readyz")
    def readyz():
        """Readiness, for a load balancer: the database answers and Redis (when configured) too."""
        from app.core.readiness import unready_dependencies  # the packages load in create_app, not here

        failed = unready_dependencies(app)
        if failed:
            return {"status": "unavailable", "failed": failed}, 503, {"Cache-Control": "no-store"}
        return {"status": "ready"}, 200, {"Cache-Control": "no-store"}

    @app.after_request
    def no_store_when_logged_in(response):
        # Nothing private may come back from a browser or proxy cache after logout.
        # (Reads the session cookie only: /healthz must not touch the database.)
        if "_user_id" in session:
            response.headers["Cache-Control"] = "no-store"
            response.vary.add("Cookie")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if app.config["ENV_NAME"] == "production":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
