"""Configuration classes, read from the environment (and `.env` when present)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
load_dotenv(BASE_DIR / ".env")


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def engine_options(*, pgbouncer: bool = False) -> dict:
    """SQLAlchemy engine options; behind PgBouncer, psycopg prepares no statements."""
    return {"pool_pre_ping": True} | ({"connect_args": {"prepare_threshold": None}} if pgbouncer else {})


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # Old keys, comma separated: tokens and sessions signed with them still verify.
    SECRET_KEY_FALLBACKS = [k for k in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if k]

    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'billfold.sqlite3'}")
    # Behind PgBouncer in transaction mode (DATABASE_PGBOUNCER=1) each transaction may get
    # another server connection, so psycopg must not prepare statements (they live on one).
    DATABASE_PGBOUNCER = env_bool("DATABASE_PGBOUNCER")
    SQLALCHEMY_ENGINE_OPTIONS = engine_options(pgbouncer=DATABASE_PGBOUNCER)

    # Jobs go to RQ when REDIS_URL is set; without it they run in-process.
    REDIS_URL = os.environ.get("REDIS_URL") or None
    RQ_QUEUE = os.environ.get("RQ_QUEUE", "billfold")
    # A queue per kind of job, so each can have workers of its own (`worker.py --queues mail`); each
    # defaults to RQ_QUEUE. The billing run's cron entry reads RQ_QUEUE_BILLING from the environment too.
    RQ_QUEUE_MAIL = os.environ.get("RQ_QUEUE_MAIL") or RQ_QUEUE
    RQ_QUEUE_SMS = os.environ.get("RQ_QUEUE_SMS") or RQ_QUEUE
    RQ_QUEUE_BILLING = os.environ.get("RQ_QUEUE_BILLING") or RQ_QUEUE

    # Links in emails are built from these, never from the request's Host header.
    PUBLIC_HOST = os.environ.get("SERVER_NAME", "127.0.0.1:5000")
    PUBLIC_HOST_SET = bool(os.environ.get("SERVER_NAME"))
    PUBLIC_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")

    # Number of reverse proxies in front of the app whose X-Forwarded-* we trust.
    TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0)

    BRAND_NAME = os.environ.get("BRAND_NAME", "Billfold Hosting")
    DEFAULT_CURRENCY = os.environ.get("DEFAULT_CURRENCY", "EUR")
    DEFAULT_COUNTRY = os.environ.get("DEFAULT_COUNTRY", "RO")
    DEFAULT_LANGUAGE = os.environ.get("DEFAULT_LANGUAGE", "en")

    # Outbound email. MAIL_BACKEND: console (store and print) or smtp.
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "console")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = env_int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = env_bool("MAIL_USE_TLS")
    MAIL_USE_SSL = env_bool("MAIL_USE_SSL")
    MAIL_TIMEOUT = env_int("MAIL_TIMEOUT", 10)
    # A worker keeps its SMTP connection from message to message: at most this many messages on one,
    # and not after this many idle seconds (servers drop quiet sessions; RFC 5321 waits 5 minutes).
    MAIL_CONNECTION_MAX_MESSAGES = env_int("MAIL_CONNECTION_MAX_MESSAGES", 500)
    MAIL_CONNECTION_IDLE_SECONDS = env_int("MAIL_CONNECTION_IDLE_SECONDS", 30)
    # Emails written together (a billing run) go to the worker in batches of this many per job.
    OUTBOX_BATCH = env_int("OUTBOX_BATCH", 100)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Billfold Hosting <billing@localhost>")
    # Tries per message, and the waits (seconds) between them.
    # Email retries: after 1, 5, 15 minutes, 1, 3, 6 and 12 hours, then daily: ten attempts over about three days.
    OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 10)
    # Embedded shape (no REDIS_URL): the serving process sweeps the outbox this often (0: never).
    OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 60)
    OUTBOX_RETRY_INTERVALS = [60, 300, 900, 3600, 10800, 21600, 43200, 86400]

    # The billing run: renewal proformas N days before due, suspension M days
    # after, termination K days after (each can be overridden per client).
    RENEWAL_DAYS_BEFORE = env_int("RENEWAL_DAYS_BEFORE", 14)
    SUSPEND_DAYS_AFTER = env_int("SUSPEND_DAYS_AFTER", 5)
    TERMINATE_DAYS_AFTER = env_int("TERMINATE_DAYS_AFTER", 30)
    # The last warning before termination goes this many days before it (0: none).
    TERMINATION_WARNING_DAYS = env_int("TERMINATION_WARNING_DAYS", 3)
    BILLING_RUN_BATCH = env_int("BILLING_RUN_BATCH", 1000)
    # An order nobody paid: its proforma and services are cancelled this many days after due (0: never).
    ORDER_CANCEL_DAYS = env_int("ORDER_CANCEL_DAYS", 30)
    INVOICES_PER_PAGE = 20

    # Four-eyes: a staff balance change (edit credit, add credit, a bank transfer credited
    # with another amount than declared) above this amount, in minor units of the client's
    # currency, waits for a second staff member (0: every one waits). Requests expire after
    # FOUR_EYES_TTL_HOURS.
    FOUR_EYES_THRESHOLD_MINOR = env_int("FOUR_EYES_THRESHOLD_MINOR", 10000)
    FOUR_EYES_TTL_HOURS = env_int("FOUR_EYES_TTL_HOURS", 48)

    # The seller's time zone: the date on an invoice, the year of its number and the
    # billing run's "today" are the seller's calendar day (IANA name, e.g. Europe/Bucharest).
    BILLING_TIMEZONE = os.environ.get("BILLING_TIMEZONE", "UTC")
    # The seller printed on every invoice.
    SELLER = {
        "name": os.environ.get("SELLER_NAME", "Billfold Hosting SRL"),
        "tax_id": os.environ.get("SELLER_TAX_ID", "RO12345678"),
        "registration": os.environ.get("SELLER_REGISTRATION", "J40/1234/2020"),
        "address": os.environ.get("SELLER_ADDRESS", "Str. Exemplu 1, 010101 Bucuresti, Sector 1"),
        # The address in parts, as an e-invoice (UBL, CIUS-RO) wants it: county as an ISO 3166-2
        # code ("RO-B", "RO-CJ"); a Bucharest seller's city is its sector, "SECTOR1".."SECTOR6".
        "street": os.environ.get("SELLER_STREET", "Str. Exemplu 1"),
        "city": os.environ.get("SELLER_CITY", "SECTOR1"),
        "county": os.environ.get("SELLER_COUNTY", "RO-B"),
        "postcode": os.environ.get("SELLER_POSTCODE", "010101"),
        "country": os.environ.get("SELLER_COUNTRY", "RO"),
        "email": os.environ.get("SELLER_EMAIL", "billing@example.com"),
        "phone": os.environ.get("SELLER_PHONE", "+40212345678"),
        "bank": os.environ.get("SELLER_BANK", "Banca Exemplu"),
        "iban": os.environ.get("SELLER_IBAN", "RO49AAAA1B31007593840000"),
    }
    # RON per unit of a foreign currency, written on each tax invoice issued in that currency
    # (its seller snapshot's "ron_rate"): RO e-Factura wants the VAT of a EUR invoice in RON too
    # (BT-111). Set the day's BNR rate, e.g. RON_EXCHANGE_RATES='{"EUR": "4.9775"}' (no feed yet).
    RON_EXCHANGE_RATES = json.loads(os.environ.get("RON_EXCHANGE_RATES", "{}"))
    # RO e-Factura: report each tax invoice and credit note to ANAF (SPV) as a CIUS-RO e-invoice.
    # Off by default. On: EFACTURA_ENABLED=1, EFACTURA_CIF (the seller's CIF, digits without "RO")
    # and EFACTURA_ACCESS_TOKEN (the OAuth2 token of ANAF's certificate sign-in, valid 90 days).
    EFACTURA_ENABLED = env_bool("EFACTURA_ENABLED")
    EFACTURA_CIF = os.environ.get("EFACTURA_CIF", "")
    EFACTURA_API_URL = os.environ.get("EFACTURA_API_URL", "https://api.anaf.ro/prod/FCTEL/rest")  # .../test/... to try
    EFACTURA_ACCESS_TOKEN = os.environ.get("EFACTURA_ACCESS_TOKEN", "")
    EFACTURA_TIMEOUT = float(os.environ.get("EFACTURA_TIMEOUT", "30"))  # seconds per request to ANAF
    EFACTURA_POLL_SECONDS = env_int("EFACTURA_POLL_SECONDS", 300)  # how often an upload's state is asked
    # An upload that got no answer: how long its message may take to appear in ANAF's list before
    # the document is uploaded again (until then it is only looked for, never sent twice).
    EFACTURA_RECONCILE_SECONDS = env_int("EFACTURA_RECONCILE_SECONDS", 6 * 3600)
    # Standard VAT rates (basis points) by buyer country, for EU consumers (OSS)
    # and domestic sales. Override with VAT_RATES='{"RO": 2100, ...}'.
    VAT_RATES = {
        "AT": 2000,
        "BE": 2100,
        "BG": 2000,
        "CY": 1900,
        "CZ": 2100,
        "DE": 1900,
        "DK": 2500,
        "EE": 2400,
        "ES": 2100,
        "FI": 2550,
        "FR": 2000,
        "GR": 2400,
        "HR": 2500,
        "HU": 2700,
        "IE": 2300,
        "IT": 2200,
        "LT": 2100,
        "LU": 1700,
        "LV": 2100,
        "MT": 1800,
        "NL": 2100,
        "PL": 2300,
        "PT": 2300,
        "RO": 2100,
        "SE": 2500,
        "SI": 2200,
        "SK": 2300,
    } | json.loads(os.environ.get("VAT_RATES", "{}"))

    # Reverse charge needs a VAT number the EU VIES register confirmed. VAT_CHECKER: vies (the EU
    # VIES REST service; the production default) or offline (development and tests: VIES test
    # numbers "100" valid, "200" invalid, 201-699 unknown; the numbers in VIES_OFFLINE_VALID valid,
    # those in VIES_OFFLINE_UNAVAILABLE unknown; anything else invalid).
    VAT_CHECKER = os.environ.get("VAT_CHECKER", "offline")
    VIES_URL = os.environ.get("VIES_URL", "https://ec.europa.eu/taxation_customs/vies/rest-api/check-vat-number")
    VIES_TIMEOUT = env_int("VIES_TIMEOUT", 10)  # seconds
    # Our own VAT number sent as requester: VIES then returns a consultation number (proof of the check).
    VIES_REQUESTER = os.environ.get("VIES_REQUESTER", os.environ.get("SELLER_TAX_ID", "RO12345678"))
    VIES_FRESH_DAYS = env_int("VIES_FRESH_DAYS", 30)  # a valid or invalid answer is reused this long
    VIES_RETRY_MINUTES = env_int("VIES_RETRY_MINUTES", 15)  # an unknown answer is asked again after this
    VIES_OFFLINE_VALID = os.environ.get("VIES_OFFLINE_VALID", "DE136695976")
    VIES_OFFLINE_UNAVAILABLE = os.environ.get("VIES_OFFLINE_UNAVAILABLE", "")
    # Wallet top-ups (minor units of the client's currency).
    WALLET_TOPUP_PRESETS = [
        int(v) for v in os.environ.get("WALLET_TOPUP_PRESETS", "5000,10000,15000,20000,25000").split(",")
    ]
    WALLET_TOPUP_CUSTOM = env_bool("WALLET_TOPUP_CUSTOM", False)  # allow an amount that is not a preset
    WALLET_TOPUP_MIN = env_int("WALLET_TOPUP_MIN", 1000)
    WALLET_TOPUP_MAX = env_int("WALLET_TOPUP_MAX", 500000)
    LEDGER_PER_PAGE = 25
    # Card payments: "test" is the built-in test gateway.
    PAYMENT_GATEWAY = os.environ.get("PAYMENT_GATEWAY", "test")
    PAYMENT_WEBHOOK_SECRET = os.environ.get("PAYMENT_WEBHOOK_SECRET", "")
    ALLOW_TEST_GATEWAY = env_bool("ALLOW_TEST_GATEWAY")
    # Bank transfer proofs live here, outside static/.
    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER", str(BASE_DIR / "instance" / "uploads"))
    PROOF_MAX_BYTES = 5 * 1024 * 1024
    # Files staff upload to a client profile (under UPLOAD_FOLDER/client-files); at most
    # MAX_CONTENT_LENGTH (a bigger request is refused before it is read).
    CLIENT_FILE_MAX_BYTES = env_int("CLIENT_FILE_MAX_BYTES", 5 * 1024 * 1024)

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # "Keep me signed in": how long a browser's session can be restored after it is closed.
    # The cookie names one recorded session; ending that session (or a password, 2FA, email
    # or IP allow-list change) makes it worthless.
    REMEMBER_COOKIE_DAYS = env_int("REMEMBER_COOKIE_DAYS", 30)
    # A sign-in refused because of the IP allow-list emails the user once per address per this many seconds.
    BLOCKED_SIGNIN_ALERT_SECONDS = env_int("BLOCKED_SIGNIN_ALERT_SECONDS", 3600)
    # Staff: TOTP two-factor is mandatory (enrolment is forced at the first sign-in) outside
    # development; a staff session ends after this many idle minutes; an invitation link lasts this long.
    STAFF_2FA_REQUIRED = env_bool("STAFF_2FA_REQUIRED", True)
    STAFF_IDLE_MINUTES = env_int("STAFF_IDLE_MINUTES", 30)
    STAFF_INVITE_MAX_AGE = env_int("STAFF_INVITE_MAX_AGE", 7 * 86400)
    # Login as client (staff support access): at most this many minutes at a time; the
    # client's owner is emailed when one starts unless IMPERSONATION_NOTIFY_OWNER=0.
    IMPERSONATION_MAX_MINUTES = env_int("IMPERSONATION_MAX_MINUTES", 60)
    IMPERSONATION_NOTIFY_OWNER = env_bool("IMPERSONATION_NOTIFY_OWNER", True)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    MAX_CONTENT_LENGTH = 6 * 1024 * 1024
    PASSWORD_MIN_LENGTH = 10
    PASSWORD_RESET_MAX_AGE = env_int("PASSWORD_RESET_MAX_AGE", 3600)
    EMAIL_CHANGE_MAX_AGE = env_int("EMAIL_CHANGE_MAX_AGE", 86400)
    SIGNUP_CONFIRM_MAX_AGE = env_int("SIGNUP_CONFIRM_MAX_AGE", 86400)  # the link that finishes a sign-up
    TRUSTED_USER_INVITE_MAX_AGE = env_int("TRUSTED_USER_INVITE_MAX_AGE", 7 * 86400)
    LOGIN_LINK_MAX_AGE = env_int("LOGIN_LINK_MAX_AGE", 7 * 86400)  # invoice links in emails

    # SMS. SMS_BACKEND: console (log and store) or http (a generic gateway).
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "console")
    SMS_SENDER = os.environ.get("SMS_SENDER", "Billfold")  # at most 11 characters
    SMS_HTTP_URL = os.environ.get("SMS_HTTP_URL", "")
    SMS_HTTP_TOKEN = os.environ.get("SMS_HTTP_TOKEN", "")
    SMS_HTTP_FIELD_TO = os.environ.get("SMS_HTTP_FIELD_TO", "to")
    SMS_HTTP_FIELD_TEXT = os.environ.get("SMS_HTTP_FIELD_TEXT", "text")
    SMS_HTTP_FIELD_FROM = os.environ.get("SMS_HTTP_FIELD_FROM", "from")
    SMS_HTTP_TIMEOUT = env_int("SMS_HTTP_TIMEOUT", 10)
    # Abuse limits: only these countries, at most this many per number / account a day.
    SMS_COUNTRIES = [c for c in os.environ.get("SMS_COUNTRIES", "RO,MD,DE,FR,IT,ES,GB,NL,BE,AT,HU,BG").split(",") if c]
    SMS_DAILY_CAP_PER_NUMBER = env_int("SMS_DAILY_CAP_PER_NUMBER", 5)
    SMS_DAILY_CAP_PER_ACCOUNT = env_int("SMS_DAILY_CAP_PER_ACCOUNT", 20)
    # Quiet hours in the client's time zone: a message due at night waits for the morning.
    SMS_QUIET_START = os.environ.get("SMS_QUIET_START", "20:00")
    SMS_QUIET_END = os.environ.get("SMS_QUIET_END", "09:00")
    SMS_MAX_ATTEMPTS = env_int("SMS_MAX_ATTEMPTS", 5)
    # Invoice reminders: days before due, on due (0) and after due.
    REMINDER_DAYS_BEFORE = env_int("REMINDER_DAYS_BEFORE", 3)
    REMINDER_DAYS_AFTER = [int(d) for d in os.environ.get("REMINDER_DAYS_AFTER", "3").split(",") if d]
    # Rate limits (Flask-Limiter). Storage: Redis in production, memory otherwise.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL") or "memory://"
    # Memory storage counts per process: production accepts it only when named on purpose
    # (RATELIMIT_STORAGE_URI=memory:// for a single-process site), never as the silent default.
    RATELIMIT_STORAGE_URI_SET = bool(os.environ.get("RATELIMIT_STORAGE_URI"))
    RATELIMIT_HEADERS_ENABLED = True
    # A moving window is exact: a fixed window would allow twice the limit across a window boundary.
    RATELIMIT_STRATEGY = "moving-window"
    # Redis down: limit in memory rather than fail the login page.
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATE_LIMIT_LOGIN_IP = os.environ.get("RATE_LIMIT_LOGIN_IP", "20 per minute")
    RATE_LIMIT_LOGIN_ACCOUNT = os.environ.get("RATE_LIMIT_LOGIN_ACCOUNT", "5 per minute;20 per hour")
    RATE_LIMIT_TOKEN_IP = os.environ.get("RATE_LIMIT_TOKEN_IP", "30 per minute")


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    SECRET_KEY = Config.SECRET_KEY or "dev-only-not-secret"
    STAFF_2FA_REQUIRED = env_bool("STAFF_2FA_REQUIRED", False)  # the demo staff account signs in with a password
    RON_EXCHANGE_RATES = Config.RON_EXCHANGE_RATES or {"EUR": "4.9775", "USD": "4.3210"}  # example rates, not BNR's


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    REDIS_URL = None
    PUBLIC_HOST = "billing.example.test"
    PUBLIC_SCHEME = "https"
    PASSWORD_HASH_FAST = True  # cheap argon2 parameters keep the suite quick
    RATELIMIT_ENABLED = False  # the rate-limit tests turn it on
    RATELIMIT_STORAGE_URI = "memory://"
    VAT_CHECKER = "offline"
    VIES_OFFLINE_VALID = "DE136695976"  # the EU VAT number the tests bill reverse charge to
    VIES_OFFLINE_UNAVAILABLE = ""
    STAFF_2FA_REQUIRED = True  # as in production; tests/support/staff.py signs staff in with a TOTP code
    RON_EXCHANGE_RATES = Config.RON_EXCHANGE_RATES or {"EUR": "4.9775", "USD": "4.3210"}  # example rates, not BNR's


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PUBLIC_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "https")
    PREFERRED_URL_SCHEME = PUBLIC_SCHEME
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp")
    VAT_CHECKER = os.environ.get("VAT_CHECKER", "vies")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    """The config class named by BILLFOLD_ENV (default: development)."""
    name = os.environ.get("BILLFOLD_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"BILLFOLD_ENV must be one of {', '.join(CONFIGS)}, not {name!r}") from None
