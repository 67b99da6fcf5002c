"""The VAT number checkers: the offline rules and the VIES REST backend (fed from loopback)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.clients.models import ClientKind
from app.invoices.models import TaxMode, VatCheckStatus
from app.invoices.tax import tax_treatment
from app.invoices.vies import OfflineChecker, ViesChecker, parse_vies_response
from config import Config

# A VIES answer as the REST API gives it (fields of check-vat-number).
RECORDED_VALID = {
    "countryCode": "DE",
    "vatNumber": "136695976",
    "requestDate": "2026-12-02T14:40:12.345Z",
    "valid": True,
    "requestIdentifier": "WAPIAAAAZ2pQ0zLd",
    "name": "Müller Webdesign GmbH",
    "address": "Hauptstraße 1\n10115 Berlin",
    "traderName": "---",
    "userError": "VALID",
}


def test_an_unconfirmed_number_is_charged_vat():
    common = dict(
        buyer_kind=ClientKind.ORGANIZATION,
        buyer_country="DE",
        buyer_tax_id="DE136695976",
        seller_country="RO",
        rates=Config.VAT_RATES,
    )
    assert tax_treatment(**common, vat_verified=False).mode is TaxMode.STANDARD
    assert tax_treatment(**common, vat_verified=True).mode is TaxMode.REVERSE_CHARGE


@pytest.mark.parametrize(
    ("number", "status"),
    [
        ("100", VatCheckStatus.VALID),  # the VIES test service's rules
        ("200", VatCheckStatus.INVALID),
        ("301", VatCheckStatus.UNKNOWN),
        ("136695976", VatCheckStatus.VALID),  # configured
        ("111111125", VatCheckStatus.UNKNOWN),  # configured as unavailable
        ("100000008", VatCheckStatus.INVALID),  # checksum-valid, registered nowhere
    ],
)
def test_offline_checker(number, status):
    checker = OfflineChecker(valid={"DE136695976"}, unavailable={"DE111111125"})
    verdict = checker.check("DE", number)
    assert verdict.status is status
    if status is VatCheckStatus.VALID:
        assert verdict.name and verdict.consultation_number


class _Recorded(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict]] = []
    seen: list[dict] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        type(self).seen.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
        code, body = type(self).answers.pop(0)
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def vies_server():
    _Recorded.answers, _Recorded.seen = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/rest-api/check-vat-number", _Recorded
    server.shutdown()
    server.server_close()


def test_vies_backend_reads_a_valid_answer(vies_server):
    url, handler = vies_server
    handler.answers.append((200, RECORDED_VALID))

    verdict = ViesChecker(url, timeout=5, requester="RO12345678").check("DE", "136695976")

    assert verdict.status is VatCheckStatus.VALID
    assert verdict.name == "Müller Webdesign GmbH" and verdict.address == "Hauptstraße 1\n10115 Berlin"
    assert verdict.consultation_number == "WAPIAAAAZ2pQ0zLd" and verdict.error is None
    assert handler.seen == [
        {
            "path": "/rest-api/check-vat-number",
            "body": {
                "countryCode": "DE",
                "vatNumber": "136695976",
                "requesterMemberStateCode": "RO",
                "requesterNumber": "12345678",
            },
        }
    ]


REFUSED = {**RECORDED_VALID, "valid": False, "name": "---", "address": "---", "requestIdentifier": ""}
MS_DOWN = {"countryCode": "DE", "vatNumber": "136695976", "valid": False, "userError": "MS_UNAVAILABLE"}


def _wrapped(error: str) -> dict:
    return {"actionSucceed": False, "errorWrappers": [{"error": error}]}


@pytest.mark.parametrize(
    ("code", "body", "status", "error"),
    [
        (200, {**REFUSED, "userError": "INVALID"}, "invalid", None),
        (200, MS_DOWN, "unknown", "MS_UNAVAILABLE"),
        (500, _wrapped("SERVICE_UNAVAILABLE"), "unknown", "SERVICE_UNAVAILABLE"),
        (200, _wrapped("MS_MAX_CONCURRENT_REQ"), "unknown", "MS_MAX_CONCURRENT_REQ"),
    ],
)
def test_vies_backend_reads_refusals_and_errors(vies_server, code, body, status, error):
    url, handler = vies_server
    handler.answers.append((code, body))

    verdict = ViesChecker(url, timeout=5).check("DE", "136695976")

    assert (verdict.status.value, verdict.error) == (status, error)
    assert verdict.name is None and verdict.consultation_number is None


def test_vies_unreachable_is_unknown():
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    verdict = ViesChecker(f"http://127.0.0.1:{port}/check-vat-number", timeout=2).check("DE", "136695976")
    assert verdict.status is VatCheckStatus.UNKNOWN and "unreachable" in verdict.error


def test_parse_without_an_answer_is_unknown():
    assert parse_vies_response({}).status is VatCheckStatus.UNKNOWN
