"""The SMS daily caps count only SMS that were sent or are still to send: one cancelled
because its proforma was paid (or that failed) never reached the phone."""

from __future__ import annotations

import pytest

from app.notify.models import SmsStatus
from tests.support.sms import PHONE, add_sms, allowed

pytestmark = [
    pytest.mark.app_config(SMS_DAILY_CAP_PER_NUMBER=2, SMS_DAILY_CAP_PER_ACCOUNT=3),
    # The owner has a mobile number and takes SMS.
    pytest.mark.owner(phone=PHONE, sms_opt_in=True),
]


def test_cancelled_sms_do_not_count_against_the_caps(app, owner, held):
    for n in range(4):
        add_sms(app, owner, event_key=f"renewal:PF-{n}", status=SmsStatus.CANCELLED)
    add_sms(app, owner, event_key="renewal:PF-9", status=SmsStatus.FAILED)
    assert allowed(app, owner) is None
    add_sms(app, owner, event_key="renewal:PF-10", status=SmsStatus.SENT)
    assert allowed(app, owner) is None
    add_sms(app, owner, event_key="renewal:PF-11", status=SmsStatus.QUEUED)  # still to send: counts
    assert allowed(app, owner) == "daily SMS cap reached for this number"
