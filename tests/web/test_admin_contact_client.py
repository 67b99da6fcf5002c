"""Staff contact a client from its profile, with a template (rendered in Jinja's sandbox)
or free text, by email or SMS, through the outbox and the audit log."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEntry
from app.clients.models import Client
from app.extensions import db
from app.notify.models import EmailMessage, MessageChannel, MessageTemplate, SmsMessage
from app.staff import privileges as P
from tests.helpers import csrf_from
from tests.support.config import NO_QUIET_HOURS
from tests.support.staff import make_staff, sign_in_staff

XSS = "<script>alert(1)</script>"

pytestmark = [
    pytest.mark.app_config(**NO_QUIET_HOURS),
    pytest.mark.owner(phone="+40722123456", sms_opt_in=True),
]


def _staff(app, *privileges, email="writer@example.com"):
    client = app.test_client()
    sign_in_staff(client, make_staff(app, *privileges, email=email))
    return client


def _template(
    app,
    name="Maintenance",
    channel=MessageChannel.EMAIL,
    subject="Hello {{ name }}",
    body="Client {{ client_id }}: {{ balance }}",
):
    with app.app_context():
        row = MessageTemplate(name=name, channel=channel, subject=subject, body=body)
        db.session.add(row)
        db.session.commit()
        return row.id


def _post_template(staff, url, **data):
    token = csrf_from(staff.get(url).get_data(as_text=True))
    return staff.post(url, data={"csrf_token": token, "channel": "email", **data})


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ name.__class__ }}",
        "{% set x = [] %}{{ x.append(1) }}",
    ],
)
def test_a_template_cannot_reach_python_objects(app, source):
    staff = _staff(app, P.MANAGE_TEMPLATES)
    answer = _post_template(staff, "/admin/templates/new", name="Evil", subject="Hi", body=source)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    message = html.split('id="body-msg"', 1)[1].split("</div>", 1)[0]
    assert "tries to reach something it may not use" in message or "The template has an error" in message
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MessageTemplate)) == 0


def test_an_unknown_placeholder_is_refused_beside_the_field(app):
    staff = _staff(app, P.MANAGE_TEMPLATES)
    answer = _post_template(staff, "/admin/templates/new", name="Typo", subject="Hi", body="Dear {{ nmae }}")
    assert answer.status_code == 422
    assert "&#39;nmae&#39; is undefined" in answer.get_data(as_text=True)


def test_staff_save_and_edit_a_template_audited(app):
    staff = _staff(app, P.MANAGE_TEMPLATES)
    answer = _post_template(
        staff, "/admin/templates/new", name="Welcome back", subject="Hi {{ name }}", body="Balance: {{ balance }}"
    )
    assert answer.status_code == 302
    with app.app_context():
        template_id = db.session.scalar(sa.select(MessageTemplate.id).where(MessageTemplate.name == "Welcome back"))
    edit = _post_template(
        staff, f"/admin/templates/{template_id}", name="Welcome", subject="Hi {{ name }}", body="Owed: {{ unpaid }}"
    )
    assert edit.status_code == 302
    listing = staff.get("/admin/templates").get_data(as_text=True)
    assert "Welcome</a>" in listing and "Welcome back" not in listing
    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.action.like("message_template.%"))
        ).all()
    assert actions == ["message_template.create", "message_template.update"]


def _contact(staff, client_id, **data):
    url = f"/admin/clients/{client_id}/contact"
    token = csrf_from(staff.get(url).get_data(as_text=True))
    return staff.post(url, data={"csrf_token": token, **data})


def test_an_email_from_a_template_is_rendered_for_the_client_and_queued(app, owner):
    with app.app_context():
        client = db.session.get(Client, owner.client_id)
        client.name, client.balance_minor = XSS, 1234  # (a test shortcut for the balance)
        db.session.commit()
    template_id = _template(
        app, subject="Hello {{ name }}", body="Dear {{ client_name }}, client {{ client_id }}, balance {{ balance }}."
    )
    staff = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS)
    answer = _contact(staff, owner.client_id, user_id=owner.user_id, channel="email", template_id=template_id)
    assert answer.status_code == 302
    with app.app_context():
        message = db.session.scalars(sa.select(EmailMessage).where(EmailMessage.template == "staff_message")).one()
        entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "client.contact")).one()
    assert message.recipients == [owner.email] and message.client_id == owner.client_id
    assert f"Dear {XSS}, client {owner.client_id}, balance €12.34." in message.body_text
    assert XSS not in message.body_html and "&lt;script&gt;" in message.body_html
    assert entry.client_id == owner.client_id and entry.actor.startswith("staff:") and "email:" in entry.new_value
    messages_tab = staff.get(f"/admin/clients/{owner.client_id}/messages").get_data(as_text=True)
    assert "Hello" in messages_tab and "Contact the client" in messages_tab


def test_free_text_sms_goes_to_an_opted_in_user_only(app, owner):
    staff = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS)
    answer = _contact(
        staff, owner.client_id, user_id=owner.user_id, channel="sms", template_id=0, body="Call us, {{ name }}."
    )
    assert answer.status_code == 302
    with app.app_context():
        [sms] = db.session.scalars(sa.select(SmsMessage)).all()
        assert sms.body.startswith("Call us, ") and sms.phone == "+40722123456"
        db.session.get(Client, owner.client_id).send_sms = False
        db.session.commit()
    refused = _contact(staff, owner.client_id, user_id=owner.user_id, channel="sms", template_id=0, body="Again")
    assert refused.status_code == 422
    message = refused.get_data(as_text=True).split('id="user_id-msg"', 1)[1].split("</div>", 1)[0]
    assert "staff turned SMS off for this account" in message
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage)) == 1


def test_an_empty_message_or_another_clients_user_is_refused(app, owner):
    from tests.helpers import make_owner

    other = make_owner(app, email="other@example.com")
    staff = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS)
    empty = _contact(
        staff, owner.client_id, user_id=owner.user_id, channel="email", template_id=0, subject="Hi", body="  "
    )
    assert empty.status_code == 422 and "Write the message, or choose a template." in empty.get_data(as_text=True)
    stranger = _contact(
        staff, owner.client_id, user_id=other.user_id, channel="email", template_id=0, subject="Hi", body="x"
    )
    assert stranger.status_code == 422  # not offered: "Not a valid choice"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(EmailMessage.template == "staff_message")) == 0


def test_privileges(app, owner):
    viewer = _staff(app, P.VIEW_CLIENTS, email="viewer@example.com")
    assert viewer.get(f"/admin/clients/{owner.client_id}/contact").status_code == 403
    assert viewer.get("/admin/templates").status_code == 403
    assert "Contact the client" not in viewer.get(f"/admin/clients/{owner.client_id}/messages").get_data(as_text=True)


def test_a_dashboard_notice_shows_to_that_user_until_read(app, owner):
    from tests.helpers import login

    staff = _staff(app, P.VIEW_CLIENTS, P.EDIT_CLIENTS)
    answer = _contact(
        staff,
        owner.client_id,
        user_id=owner.user_id,
        channel="portal",
        template_id=0,
        subject="Planned maintenance",
        body=f"Tonight 22:00-23:00.\n{XSS}",
    )
    assert answer.status_code == 302
    customer = app.test_client()
    login(customer)
    page = customer.get("/").get_data(as_text=True)
    assert "Planned maintenance" in page and "Tonight 22:00-23:00." in page
    assert XSS not in page and "&lt;script&gt;" in page
    from app.notify.models import PortalNotice

    with app.app_context():
        notice_id = db.session.scalar(sa.select(PortalNotice.id))
    other = app.test_client()
    from tests.helpers import make_owner

    make_owner(app, email="other@example.com")
    login(other, email="other@example.com")
    token = csrf_from(other.get("/").get_data(as_text=True))
    assert other.post(f"/notices/{notice_id}/read", data={"csrf_token": token}).status_code == 404
    token = csrf_from(page)
    assert customer.post(f"/notices/{notice_id}/read", data={"csrf_token": token}).status_code == 302
    assert "Planned maintenance" not in customer.get("/").get_data(as_text=True)
