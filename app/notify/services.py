"""What other packages may ask of notify: its public face (the import contract).

Emails and SMS are written to the outbox in the caller's transaction and sent
after it commits (app.notify.outbox); what each domain event tells whom is in
app.notify.handlers, which subscribes to the events itself.
"""

from __future__ import annotations

from app.notify.archive import archived_text
from app.notify.email import queue_email, queue_staff_email  # noqa: F401  (the public face)
from app.notify.handlers import send_invoice_reminders, send_termination_warnings
from app.notify.links import invoice_login_url, read_invoice_login
from app.notify.pending import deferred_notices, render_pending_notices
from app.notify.sms import sms_reach_problem
from app.notify.staff_messages import (
    PLACEHOLDERS,
    StaffMessage,
    mark_notice_read,
    save_template,
    send_staff_message,
    unread_notices,
)

__all__ = [
    "PLACEHOLDERS",
    "StaffMessage",
    "archived_text",
    "deferred_notices",
    "invoice_login_url",
    "mark_notice_read",
    "queue_email",
    "read_invoice_login",
    "render_pending_notices",
    "save_template",
    "send_invoice_reminders",
    "send_staff_message",
    "send_termination_warnings",
    "sms_reach_problem",
    "unread_notices",
]
