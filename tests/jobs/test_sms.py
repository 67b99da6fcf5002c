"""SMS delivery: segments, quiet hours, abuse limits, the `http` backend against a
real gateway on loopback, at-most-once sending, the sweeper and a real RQ worker."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

import app.notify.sms as sms_module
from app.core.queue import get_queue
from app.core.types import utcnow
from app.extensions import db
from app.notify.errors import DeliveryFailed
from app.notify.models import SmsMessage, SmsStatus
from app.notify.sms import (
    UNKNOWN_OUTCOME,
    fits_one_segment,
    gsm7_segments,
    quiet_hours_delay,
    send_sms,
)
from tests.helpers import make_owner
from tests.support.sms import PHONE, add_sms, allowed

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "gateway-secret-token"

# --- a real SMS gateway on loopback ---------------------------------------------


class Gateway(http.server.ThreadingHTTPServer):
    """Records every POST; answers with `status` and `answer` after `delay` seconds."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), GatewayHandler)
        self.requests: list[dict] = []
        self.status = 200
        self.answer: bytes = b'{"id": "gw-1"}'
        self.delay = 0.0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/send"


class GatewayHandler(http.server.BaseHTTPRequestHandler):
    server: Gateway

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.requests.append(
                {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
            )
        time.sleep(self.server.delay)
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.answer)))
        self.end_headers()
        self.wfile.write(self.server.answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    server = Gateway()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def gateway_config(gateway: Gateway) -> dict:
    return {
        "SMS_BACKEND": "http",
        "SMS_HTTP_URL": gateway.url,
        "SMS_HTTP_TOKEN": TOKEN,
        "SMS_HTTP_FIELD_TO": "msisdn",
        "SMS_HTTP_FIELD_TEXT": "message",
        "SMS_HTTP_FIELD_FROM": "originator",
        "SMS_HTTP_TIMEOUT": 5,
        "SMS_COUNTRIES": ["RO"],
        "SMS_MAX_ATTEMPTS": 3,
    }


@pytest.fixture
def app_overrides(gateway):
    return gateway_config(gateway)


# The owner has a mobile number and takes SMS.
pytestmark = pytest.mark.owner(phone=PHONE, sms_opt_in=True)


def load(app, message_id: int) -> SmsMessage:
    with app.app_context():
        message = db.session.get(SmsMessage, message_id)
        db.session.expunge(message)
        return message


def run_job(app, message_id: int) -> str:
    with app.app_context():
        return send_sms(message_id)


# --- segments --------------------------------------------------------------------


def test_plain_gsm7_text_segments():
    assert gsm7_segments("Your proforma PF-2026-000123 is ready. Do not reply.") == 1
    assert gsm7_segments("a" * 160) == 1 and fits_one_segment("a" * 160)
    assert gsm7_segments("a" * 161) == 2 and not fits_one_segment("a" * 161)
    assert gsm7_segments("a" * 306) == 2  # 2 x 153
    assert gsm7_segments("a" * 307) == 3
    assert gsm7_segments("Plata restanta: @£$¥ èéùìò ÄÖÑÜ §¿") == 1, "accents of the basic table stay GSM-7"


def test_extension_characters_count_double():
    assert gsm7_segments("€" * 80) == 1
    assert gsm7_segments("€" * 80 + "a") == 2
    assert fits_one_segment("[" * 80) and not fits_one_segment("[" * 40 + "]" * 40 + "x")
    assert gsm7_segments("a" * 159 + "]") == 2, "161 septets"
    # An escape pair is never split across two parts: 152 + (2) does not fit in 153.
    assert gsm7_segments("a" * 152 + "€" + "a" * 152) == 3


def test_romanian_diacritics_switch_to_ucs2():
    assert gsm7_segments("Factura ta este gata") == 1
    assert fits_one_segment("a" * 69 + "ș")
    assert not fits_one_segment("a" * 70 + "ț"), "71 UCS-2 characters"
    assert gsm7_segments("ș" * 134) == 2  # 2 x 67
    assert gsm7_segments("ț" * 135) == 3
    assert gsm7_segments("a" * 100 + "ș") == 2, "one diacritic turns a 101-char GSM-7 text into 2 UCS-2 parts"
    assert gsm7_segments("😀" * 35) == 1 and gsm7_segments("😀" * 36) == 2, "surrogate pairs count two units"


# --- quiet hours -------------------------------------------------------------------

BUCHAREST = "Europe/Bucharest"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_quiet_hours_at_night_wait_for_next_morning():
    # 2026-06-10 22:00 in Bucharest (EEST, UTC+3) -> 09:00 next day = 06:00 UTC.
    assert quiet_hours_delay(utc(2026, 6, 10, 19, 0), BUCHAREST, "20:00", "09:00") == utc(2026, 6, 11, 6, 0)
    # 01:30 local: the same morning.
    assert quiet_hours_delay(utc(2026, 6, 10, 22, 30), BUCHAREST, "20:00", "09:00") == utc(2026, 6, 11, 6, 0)
    # The window is [20:00, 09:00).
    assert quiet_hours_delay(utc(2026, 6, 10, 17, 0), BUCHAREST, "20:00", "09:00") == utc(2026, 6, 11, 6, 0)
    assert quiet_hours_delay(utc(2026, 6, 11, 5, 59), BUCHAREST, "20:00", "09:00") == utc(2026, 6, 11, 6, 0)
    assert quiet_hours_delay(utc(2026, 6, 11, 6, 0), BUCHAREST, "20:00", "09:00") is None


def test_quiet_hours_at_noon_send_now():
    assert quiet_hours_delay(utc(2026, 6, 10, 9, 0), BUCHAREST, "20:00", "09:00") is None  # 12:00 local
    assert quiet_hours_delay(utc(2026, 1, 10, 10, 0), BUCHAREST, "20:00", "09:00") is None


def test_quiet_hours_across_dst_changes():
    # Spring forward on 2026-03-29 (03:00 EET -> 04:00 EEST): 22:00 EET is 20:00 UTC,
    # the next 09:00 is in EEST: 06:00 UTC (a naive +11 h would give 07:00 UTC, 10:00 local).
    assert quiet_hours_delay(utc(2026, 3, 28, 20, 0), BUCHAREST, "20:00", "09:00") == utc(2026, 3, 29, 6, 0)
    # Fall back on 2026-10-25: 22:00 EEST is 19:00 UTC, the next 09:00 is EET: 07:00 UTC.
    assert quiet_hours_delay(utc(2026, 10, 24, 19, 0), BUCHAREST, "20:00", "09:00") == utc(2026, 10, 25, 7, 0)
    # In winter Bucharest is UTC+2.
    assert quiet_hours_delay(utc(2026, 1, 10, 21, 0), BUCHAREST, "20:00", "09:00") == utc(2026, 1, 11, 7, 0)


def test_quiet_hours_follow_the_client_time_zone():
    # 19:00 UTC is 22:00 in Bucharest (quiet) but 15:00 in New York (not quiet).
    assert quiet_hours_delay(utc(2026, 6, 10, 19, 0), "America/New_York", "20:00", "09:00") is None
    assert quiet_hours_delay(utc(2026, 6, 11, 3, 0), "America/New_York", "20:00", "09:00") == utc(2026, 6, 11, 13, 0)


# --- abuse limits ---------------------------------------------------------------------


class TestAbuseLimits:
    @pytest.fixture
    def app_overrides(self, gateway):
        return {**gateway_config(gateway), "SMS_DAILY_CAP_PER_NUMBER": 2, "SMS_DAILY_CAP_PER_ACCOUNT": 3}

    def test_a_valid_own_number_in_an_allowed_country_is_allowed(self, app, owner):
        assert allowed(app, owner) is None

    def test_an_invalid_number_is_refused(self, app):
        account = make_owner(app, phone="+4071234567", sms_opt_in=True)  # one digit short
        assert allowed(app, account) == "invalid phone number"
        garbage = make_owner(app, email="g@example.com", phone="+40 not a number", sms_opt_in=True)
        assert allowed(app, garbage) is not None

    def test_only_the_users_own_number(self, app, owner):
        assert allowed(app, owner, phone="+40722999888") == "not the user's own phone number"

    def test_an_opted_out_user_is_refused(self, app):
        account = make_owner(app, phone=PHONE, sms_opt_in=False)
        assert allowed(app, account) is not None

    def test_countries_outside_the_allow_list_are_refused(self, app):
        uk = make_owner(app, email="uk@example.com", phone="+447400123456", sms_opt_in=True)
        assert allowed(app, uk) == "SMS to GB numbers is not allowed"
        # +882: international networks (satellite, premium services), region "001".
        intl = make_owner(app, email="intl@example.com", phone="+8823421234", sms_opt_in=True)
        assert allowed(app, intl) == "SMS to 001 numbers is not allowed"

    def test_premium_rate_numbers_are_refused_even_in_an_allowed_country(self, app):
        premium = make_owner(app, email="p@example.com", phone="+40900123456", sms_opt_in=True)
        assert allowed(app, premium) == "premium-rate numbers get no SMS"

    def test_per_number_daily_cap(self, app, owner, held):
        now = utcnow()
        add_sms(app, owner, event_key="e1", status=SmsStatus.SENT)
        # A failed message and one older than 24 hours do not count.
        add_sms(app, owner, event_key="e2", status=SmsStatus.FAILED)
        add_sms(app, owner, event_key="e3", status=SmsStatus.SENT, created_at=now - timedelta(hours=25))
        assert allowed(app, owner) is None
        add_sms(app, owner, event_key="e4", status=SmsStatus.QUEUED)
        assert allowed(app, owner) == "daily SMS cap reached for this number"
        assert allowed(app, owner, now=now + timedelta(hours=25)) is None, "a day later it may send again"

    def test_per_account_daily_cap(self, app, owner, held):
        for n, phone in enumerate(["+40722000001", "+40722000002", "+40722000003"]):
            add_sms(app, owner, event_key=f"e{n}", phone=phone, status=SmsStatus.SENT)
        assert allowed(app, owner) == "daily SMS cap reached for this account"
        other = make_owner(app, email="other@example.com", phone="+40722000004", sms_opt_in=True)
        assert allowed(app, other) is None, "the cap is per account"


# --- the http backend against a real gateway -------------------------------------------


def test_http_backend_sends_fields_and_headers_and_records_provider_id(app, owner, gateway):
    gateway.answer = b'{"id": "gw-777", "status": "accepted"}'
    message_id = add_sms(app, owner, body="Proforma PF-1: 10.00 EUR. Nu raspundeti.")

    assert len(gateway.requests) == 1
    request = gateway.requests[0]
    assert request["path"] == "/send"
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["idempotency-key"] == f"sms-{message_id}"
    assert request["headers"]["content-type"].startswith("application/json")
    assert json.loads(request["body"]) == {
        "msisdn": PHONE,
        "message": "Proforma PF-1: 10.00 EUR. Nu raspundeti.",
        "originator": "Hostico",
    }
    message = load(app, message_id)
    assert message.status is SmsStatus.SENT
    assert message.provider_id == "gw-777"
    assert message.attempts == 1 and message.sent_at is not None and message.last_error is None


def test_http_backend_without_an_id_in_the_answer(app, owner, gateway):
    gateway.status, gateway.answer = 202, b"queued"
    message_id = add_sms(app, owner)
    message = load(app, message_id)
    assert message.status is SmsStatus.SENT and message.provider_id == f"http-{message_id}"


def test_console_backend(app, owner, capsys):
    app.config["SMS_BACKEND"] = "console"
    message_id = add_sms(app, owner, body="Console text")
    message = load(app, message_id)
    assert message.status is SmsStatus.SENT and message.provider_id == f"console-{message_id}"
    assert "Console text" in capsys.readouterr().out


def retry_time_comes(app, message_id: int) -> None:
    with app.app_context():
        db.session.get(SmsMessage, message_id).next_attempt_at = None
        db.session.commit()


def test_gateway_error_retries_with_backoff_then_fails(app, owner, gateway, runner):
    gateway.status, gateway.answer = 500, b'{"error": "down"}'
    message_id = add_sms(app, owner)  # attempt 1, in-process at commit

    message = load(app, message_id)
    assert message.status is SmsStatus.QUEUED
    assert message.attempts == 1 and "HTTP 500" in message.last_error
    assert message.next_attempt_at > message.last_attempt_at, "a retry time is set"
    assert "0 queued message(s)" in runner.invoke(args=["outbox", "flush"]).output, "the sweeper respects backoff"
    assert len(gateway.requests) == 1

    assert run_job(app, message_id) == "waiting", "a job inside the backoff does not try"
    assert len(gateway.requests) == 1

    retry_time_comes(app, message_id)
    with pytest.raises(DeliveryFailed):
        run_job(app, message_id)  # attempt 2: RQ retries on this
    retry_time_comes(app, message_id)
    assert run_job(app, message_id) == "failed"  # attempt 3 = SMS_MAX_ATTEMPTS
    assert run_job(app, message_id) == "skipped"
    message = load(app, message_id)
    assert message.status is SmsStatus.FAILED and message.attempts == 3
    assert len(gateway.requests) == 3
    # Every retry carries the same idempotency key.
    assert {r["headers"]["idempotency-key"] for r in gateway.requests} == {f"sms-{message_id}"}


def test_unreachable_gateway_is_a_failure_to_retry(app, owner, gateway):
    app.config["SMS_HTTP_URL"] = "http://127.0.0.1:9/send"  # discard port: connection refused
    message = load(app, add_sms(app, owner))
    assert message.status is SmsStatus.QUEUED and message.attempts == 1 and message.next_attempt_at


@pytest.mark.parametrize("status", [302, 404])
def test_any_answer_outside_2xx_is_a_failure(app, owner, gateway, status):
    gateway.status = status
    message = load(app, add_sms(app, owner))
    assert message.status is SmsStatus.QUEUED and message.attempts == 1
    assert f"HTTP {status}" in message.last_error and message.provider_id is None
    assert len(gateway.requests) == 1, "a redirect is not followed"


def test_a_job_run_twice_sends_once(app, owner, gateway):
    message_id = add_sms(app, owner)
    assert load(app, message_id).status is SmsStatus.SENT
    assert run_job(app, message_id) == "skipped"
    assert len(gateway.requests) == 1


def test_two_concurrent_jobs_send_once(app, owner, gateway, held):
    message_id = add_sms(app, owner)
    gateway.delay = 0.5
    results = []

    def work():
        results.append(run_job(app, message_id))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["busy", "sent"]
    assert len(gateway.requests) == 1
    assert load(app, message_id).status is SmsStatus.SENT


def test_a_job_that_read_the_row_just_before_another_claimed_it_does_not_send(app, owner, gateway, held, monkeypatch):
    """The claim is a compare-and-set: on SQLite, where FOR UPDATE is a no-op, a
    stale `queued` read must not lead to a second send."""
    message_id = add_sms(app, owner, status=SmsStatus.SENDING, attempts=1, last_attempt_at=utcnow())
    real_lock = sms_module._lock

    def stale_lock(message_id, *, skip_locked):
        message = real_lock(message_id, skip_locked=skip_locked)
        set_committed_value(message, "status", SmsStatus.QUEUED)  # what we read before the other claim
        return message

    monkeypatch.setattr(sms_module, "_lock", stale_lock)
    assert run_job(app, message_id) == "busy"
    assert gateway.requests == []
    message = load(app, message_id)
    assert message.status is SmsStatus.SENDING and message.attempts == 1


class WorkerKilled(BaseException):
    """Stands for the process dying in the middle of the gateway call."""


def test_a_row_left_sending_is_never_sent_again(app, owner, gateway, held, runner, monkeypatch):
    message_id = add_sms(app, owner)

    def killed(message):
        raise WorkerKilled

    monkeypatch.setitem(sms_module.BACKENDS, "http", killed)
    with pytest.raises(WorkerKilled):
        run_job(app, message_id)
    monkeypatch.undo()
    assert load(app, message_id).status is SmsStatus.SENDING, "committed before the send"

    # Right away the row still belongs to the (maybe live) sender.
    assert run_job(app, message_id) == "busy"
    assert "0 queued message(s)" in runner.invoke(args=["outbox", "flush"]).output

    # Later (past the lease) the outcome is unknown: failed, not resent.
    with app.app_context():
        db.session.execute(
            sa.update(SmsMessage)
            .where(SmsMessage.id == message_id)
            .values(last_attempt_at=utcnow() - timedelta(minutes=10))
        )
        db.session.commit()
    result = runner.invoke(args=["outbox", "flush"])
    assert "1 queued message(s), 1 handed" in result.output
    message = load(app, message_id)
    assert message.status is SmsStatus.FAILED and message.last_error == UNKNOWN_OUTCOME
    assert run_job(app, message_id) == "skipped"
    assert gateway.requests == []


def test_a_row_found_sending_by_a_later_job_is_marked_unknown(app, owner, gateway, held):
    message_id = add_sms(
        app, owner, status=SmsStatus.SENDING, attempts=1, last_attempt_at=utcnow() - timedelta(hours=1)
    )
    assert run_job(app, message_id) == "unknown"
    message = load(app, message_id)
    assert message.status is SmsStatus.FAILED and message.last_error == UNKNOWN_OUTCOME
    assert gateway.requests == []


def test_quiet_hours_wait_then_the_sweeper_sends(app, owner, gateway, runner):
    message_id = add_sms(app, owner, not_before=utcnow() + timedelta(hours=8))  # the job runs at commit

    message = load(app, message_id)
    assert message.status is SmsStatus.QUEUED and message.attempts == 0
    assert run_job(app, message_id) == "waiting"
    assert "0 queued message(s)" in runner.invoke(args=["outbox", "flush"]).output
    assert "0 queued message(s)" in runner.invoke(args=["outbox", "flush", "--now"]).output, "quiet hours hold"
    assert gateway.requests == []

    with app.app_context():  # the morning has come
        db.session.execute(
            sa.update(SmsMessage).where(SmsMessage.id == message_id).values(not_before=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()
    result = runner.invoke(args=["outbox", "flush"])
    assert result.exit_code == 0 and "1 queued message(s), 1 handed" in result.output
    assert len(gateway.requests) == 1
    assert load(app, message_id).status is SmsStatus.SENT

    assert "0 queued message(s)" in runner.invoke(args=["outbox", "flush"]).output
    assert len(gateway.requests) == 1


# --- the production shape: real Redis and `python worker.py` ------------------------------


def run_worker(database_url: str, redis_url: str, gateway: Gateway) -> None:
    env = {
        **os.environ,
        "BILLFOLD_ENV": "development",
        "SECRET_KEY": "worker-test-secret",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MAIL_BACKEND": "console",
        "SMS_BACKEND": "http",
        "SMS_HTTP_URL": gateway.url,
        "SMS_HTTP_TOKEN": TOKEN,
        "SMS_COUNTRIES": "RO",
    }
    result = subprocess.run(
        [sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.redis
class TestWithRedis:
    @pytest.fixture
    def app_overrides(self, gateway, redis_url):
        return {**gateway_config(gateway), "REDIS_URL": redis_url}

    def test_redis_down_at_commit_then_flush_and_a_worker_send_once(
        self, app, database_url, redis_url, gateway, runner, request
    ):
        redis = request.getfixturevalue("redis_proc")
        owner = make_owner(app, phone=PHONE, sms_opt_in=True)
        run_worker(database_url, redis_url, gateway)  # the welcome email, so the queue is empty
        redis.stop()
        try:
            message_id = add_sms(app, owner)  # the commit still works with Redis down
            message = load(app, message_id)
            assert message.status is SmsStatus.QUEUED and message.attempts == 0
            result = runner.invoke(args=["outbox", "flush"])
            assert result.exit_code == 1 and "1 queued message(s), 0 handed" in result.output
        finally:
            redis.start()
        assert gateway.requests == []

        result = runner.invoke(args=["outbox", "flush"])
        assert result.exit_code == 0 and "1 queued message(s), 1 handed" in result.output
        with app.app_context():
            assert [j.func_name for j in get_queue().jobs] == ["app.notify.sms.send_sms"]
        run_worker(database_url, redis_url, gateway)
        assert len(gateway.requests) == 1
        assert gateway.requests[0]["headers"]["idempotency-key"] == f"sms-{message_id}"
        message = load(app, message_id)
        assert message.status is SmsStatus.SENT and message.provider_id == "gw-1"

        # Nothing left for the sweeper; a duplicate job for a sent message does nothing.
        assert "0 queued message(s)" in runner.invoke(args=["outbox", "flush"]).output
        with app.app_context():
            get_queue().enqueue("app.notify.sms.send_sms", message_id)
        run_worker(database_url, redis_url, gateway)
        assert len(gateway.requests) == 1
