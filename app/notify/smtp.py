"""One SMTP connection per worker thread, reused from message to message.

Opening a connection (TCP, EHLO, STARTTLS, AUTH) costs more than sending a
message over it, so a worker keeps its connection between jobs: opened on the
first message, checked with NOOP after a quiet moment, closed after
MAIL_CONNECTION_MAX_MESSAGES messages or MAIL_CONNECTION_IDLE_SECONDS idle, and
at exit. It lives per thread (the embedded shape sends from request threads and
the sweeper at once) and is forgotten in a forked child, which must not talk on
its parent's socket (RQ's forking Worker runs every job in a fresh child: only
`worker.py --no-fork` reuses a connection from job to job).

A refused message (a 5xx or 4xx answer to MAIL, RCPT or DATA) leaves the
connection usable: smtplib sends RSET, and the next message goes on it. Any
other failure drops it. A reused connection the server closed meanwhile is
noticed at the first command and the message is sent once more on a new one.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import smtplib
import threading
import time
import weakref
from collections.abc import Mapping
from email.generator import _make_boundary
from email.header import Header
from email.message import EmailMessage as MimeMessage
from email.message import Message
from email.utils import getaddresses, parseaddr

log = logging.getLogger(__name__)

#: A connection quiet for longer than this is checked with NOOP before it is used again.
NOOP_AFTER_SECONDS = 2.0

#: Answers about one message, after which the connection is still good for the next.
REFUSALS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


def is_refusal(error: Exception) -> bool:
    """Whether the server refused this one message (not its own trouble: 421 means it is closing)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return not any(code == 421 for code, _ in error.recipients.values())
    return isinstance(error, REFUSALS) and error.smtp_code != 421


class MailConnection:
    """A lazily opened SMTP connection for one thread, with its use count and last use."""

    def __init__(self) -> None:
        self.smtp: smtplib.SMTP | None = None
        self.settings: tuple = ()
        self.sent = 0
        self.last_used = 0.0

    def send(self, mime: Message, config: Mapping) -> None:
        """Send `mime` over this thread's connection (opening it if need be). Raises on any failure."""
        reused = self._ready(config)
        try:
            self._transfer(mime)
        except REFUSALS as exc:
            self._after_refusal(exc)
            raise
        except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            self.drop()
            if not reused:
                raise
            # The server closed an idle connection: nothing was handed over on it.
            log.info("SMTP connection lost (%s); sending again on a new one", exc)
            self._ready(config)
            self._send_once_more(mime)
        except BaseException:  # a timeout, a job killed mid-exchange: the session state is unknown
            self.drop()
            raise
        self._count(config)

    def _transfer(self, mime: Message) -> None:
        if isinstance(mime, MimeMessage):  # the EmailMessage API's (SMTPUTF8, a non-ASCII address)
            self.smtp.send_message(mime)
            return
        # Written once, as is: send_message would parse the headers again and refold them.
        sender = parseaddr(mime["From"])[1]
        recipients = [address for _, address in getaddresses([mime["To"]])]
        self.smtp.sendmail(sender, recipients, wire_bytes(mime))

    def _send_once_more(self, mime: Message) -> None:
        try:
            self._transfer(mime)
        except REFUSALS as exc:
            self._after_refusal(exc)
            raise
        except BaseException:
            self.drop()
            raise

    def _ready(self, config: Mapping) -> bool:
        """Make the connection usable for `config`; whether an already open one is reused."""
        settings = _settings(config)
        now = time.monotonic()
        if self.smtp is not None and (
            settings != self.settings or now - self.last_used > config["MAIL_CONNECTION_IDLE_SECONDS"]
        ):
            self.close()
        if self.smtp is not None and now - self.last_used > NOOP_AFTER_SECONDS and not self._alive():
            self.drop()
        if self.smtp is not None:
            return True
        self.smtp, self.settings, self.sent = _connect(config), settings, 0
        self.last_used = time.monotonic()
        return False

    def _alive(self) -> bool:
        try:
            return self.smtp.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False

    def _after_refusal(self, error: Exception) -> None:
        if is_refusal(error) and self.smtp is not None and self.smtp.sock is not None:
            self.last_used = time.monotonic()  # smtplib sent RSET: ready for the next message
        else:
            self.drop()

    def _count(self, config: Mapping) -> None:
        self.sent += 1
        self.last_used = time.monotonic()
        if self.sent >= config["MAIL_CONNECTION_MAX_MESSAGES"]:
            self.close()

    def close(self) -> None:
        """End the session politely (QUIT) and forget the connection."""
        if self.smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.smtp.quit()
        self.drop()

    def drop(self) -> None:
        """Forget the connection without a word to the server (it is broken, or not ours)."""
        if self.smtp is not None:
            with contextlib.suppress(OSError):
                self.smtp.close()
        self.smtp = None


def wire_bytes(mime: Message) -> bytes:
    """A compat32 message as it goes on the wire (CRLF lines), without email.generator's
    per-line work: headers as set (a long one folded), a multipart's parts between its
    boundary lines, a part's payload as stored (raw UTF-8 kept as surrogate escapes)."""
    if not mime.is_multipart():
        return _wire_headers(mime) + b"\r\n" + _wire_payload(mime._payload)  # as stored (get_payload decodes it)
    boundary = mime.get_boundary()
    if boundary is None:
        boundary = _make_boundary()
        mime.set_boundary(boundary)
    parts = [b"--" + boundary.encode("ascii") + b"\r\n" + wire_bytes(part) for part in mime.get_payload()]
    body = b"\r\n".join(parts) + b"\r\n--" + boundary.encode("ascii") + b"--\r\n"
    return _wire_headers(mime) + b"\r\n" + body


def _wire_headers(mime: Message) -> bytes:
    lines = []
    for name, value in mime.items():
        text = value.encode(linesep="\r\n") if isinstance(value, Header) else str(value)
        if len(text) + len(name) > 76 and not isinstance(value, Header):
            text = Header(text, header_name=name).encode(linesep="\r\n")
        lines.append(f"{name}: {text}\r\n")
    return "".join(lines).encode("ascii")


def _wire_payload(payload: str) -> bytes:
    data = payload.encode("ascii", "surrogateescape").replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _settings(config: Mapping) -> tuple:
    keys = ("MAIL_SERVER", "MAIL_PORT", "MAIL_USE_SSL", "MAIL_USE_TLS", "MAIL_USERNAME", "MAIL_PASSWORD")
    return tuple(config[key] for key in keys)


def _connect(config: Mapping) -> smtplib.SMTP:
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    smtp = smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"])
    try:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


_local = threading.local()
_all: weakref.WeakSet[MailConnection] = weakref.WeakSet()  # every live thread's, for the close at exit
_all_lock = threading.Lock()


def connection() -> MailConnection:
    """This thread's connection holder (in a forked child: a fresh one)."""
    held = getattr(_local, "connection", None)
    if held is None:
        held = _local.connection = MailConnection()
        with _all_lock:
            _all.add(held)
    return held


def close_connections() -> None:
    """QUIT every connection this process holds (a worker at exit)."""
    with _all_lock:
        held = list(_all)
    for conn in held:
        conn.close()


def _forget_after_fork() -> None:
    # The child shares the parent's sockets: it drops them unused (no QUIT on the parent's session).
    global _local, _all, _all_lock
    for conn in _all:
        conn.smtp = None
    _local, _all, _all_lock = threading.local(), weakref.WeakSet(), threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(close_connections)
