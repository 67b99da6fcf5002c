"""My details: profile and billing fields, locked fields, the change log, avatars, permissions."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image

from app.clients.models import Client, ClientKind, ProfileChange, User
from app.core.actors import Actor
from app.extensions import db
from app.profile.forms import LOCKED_NOTE, LOCKED_REFUSED
from app.profile.services import FieldLocked, update_details
from tests.factories import TrustedUserFactory
from tests.helpers import count, csrf_token, login, make_owner
from tests.support.details import PERSON_FORM, error_beside, post_details


@pytest.fixture
def company(app):
    """An owner whose account is a Romanian company; staff locked nothing yet."""
    return make_owner(app, email="firma@example.com", kind=ClientKind.ORGANIZATION, company_name="Acme SRL")


COMPANY_FORM = PERSON_FORM | {"kind": "organization", "company_name": "Acme SRL"}


def input_tag(html: str, field_id: str) -> str:
    found = re.search(rf'<input[^>]*\bid="{field_id}"[^>]*>', html)
    assert found, f"no input {field_id}"
    return found.group(0)


def hint_beside(html: str, field: str) -> str | None:
    found = re.search(rf'id="{field}-msg">\s*<p class="hint">([^<]+)</p>', html)
    return found.group(1) if found else None


def stored(app, client_id: int) -> tuple[Client, User]:
    with app.app_context():
        client = db.session.get(Client, client_id)
        user = client.owner
        db.session.expunge_all()
        return client, user


def changes(app, client_id: int) -> list[tuple[str, str | None, str | None, str, str | None]]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(ProfileChange).where(ProfileChange.client_id == client_id).order_by(ProfileChange.id)
        )
        return [(r.field, r.old_value, r.new_value, r.actor, r.ip) for r in rows]


def lock(app, client_id: int, *fields: str) -> None:
    with app.app_context():
        db.session.get(Client, client_id).locked_fields = list(fields)
        db.session.commit()


def make_trusted(app, owner, permissions: list[str], email: str = "helper@example.com") -> None:
    with app.app_context():
        TrustedUserFactory(
            client_id=owner.client_id,
            permissions=permissions,
            email=email,
            password="helper-password-1",
            name="Maria Helper",
        )
        db.session.commit()


def test_the_page_shows_the_stored_details_in_the_menu(app, client, owner):
    login(client)
    html = client.get("/account/details").get_data(as_text=True)
    assert "<h1>My details</h1>" in html
    assert 'aria-current="page">My details</a>' in html
    assert 'value="Ion Ionescu"' in input_tag(html, "name") and 'value="Ion Ionescu"' in input_tag(html, "billing_name")
    assert (
        '<option selected value="RO">' in html
        and '<option selected value="">The account&#39;s language (English)</option>' in html
    )
    assert "checked" in input_tag(html, "kind-0")  # person
    assert "disabled" not in html  # nothing is locked


def test_changes_are_saved_and_each_field_logged_with_old_new_and_who(app, client, owner):
    login(client)
    response = post_details(
        client, PERSON_FORM, name="Ion Popescu", phone="0722 123 456", sms_opt_in="y", city="Cluj-Napoca"
    )
    assert response.status_code == 302 and response.location.endswith("/account/details")
    page = client.get("/account/details").get_data(as_text=True)
    assert "Your details were saved." in page and 'value="+40722123456"' in page

    account, user = stored(app, owner.client_id)
    assert (user.name, user.phone, user.sms_opt_in, account.city) == (
        "Ion Popescu",
        "+40722123456",
        True,
        "Cluj-Napoca",
    )
    assert account.name == "Ion Ionescu"  # the name on invoices was not touched
    who = f"user:{owner.user_id}"
    assert sorted(changes(app, owner.client_id)) == [
        ("city", None, "Cluj-Napoca", who, "127.0.0.1"),
        ("name", "Ion Ionescu", "Ion Popescu", who, "127.0.0.1"),
        ("phone", None, "+40722123456", who, "127.0.0.1"),
        ("sms_opt_in", "no", "yes", who, "127.0.0.1"),
    ]

    # The same form again changes nothing and logs nothing.
    again = post_details(
        client, PERSON_FORM, name="Ion Popescu", phone="+40 722 123 456", sms_opt_in="y", city="Cluj-Napoca"
    )
    assert again.status_code == 302
    assert "Nothing changed." in client.get("/account/details").get_data(as_text=True)
    assert len(changes(app, owner.client_id)) == 4


def test_billing_changes_are_normalized_and_logged(app, client, company):
    login(client, company.email)
    response = post_details(
        client, COMPANY_FORM, tax_id="ro 185 472 90", kind="organization", address_line1="Str. Lunga 1"
    )
    assert response.status_code == 302
    account, _ = stored(app, company.client_id)
    assert account.tax_id == "RO18547290" and account.address_line1 == "Str. Lunga 1"
    assert {c[:3] for c in changes(app, company.client_id)} == {
        ("tax_id", None, "RO18547290"),
        ("address_line1", None, "Str. Lunga 1"),
    }


def test_a_locked_field_is_read_only_and_a_forged_post_changes_nothing(app, client, company):
    lock(app, company.client_id, "company_name")
    login(client, company.email)

    page = client.get("/account/details").get_data(as_text=True)
    assert "disabled" in input_tag(page, "company_name") and 'value="Acme SRL"' in input_tag(page, "company_name")
    assert "disabled" not in input_tag(page, "city")
    assert hint_beside(page, "company_name") == LOCKED_NOTE == "Contact us to change this."

    # A forged POST sends the disabled field anyway, with another value.
    forged = post_details(client, COMPANY_FORM, company_name="Evil Corp", city="Iasi")
    html = forged.get_data(as_text=True)
    assert forged.status_code == 422
    assert error_beside(html, "company_name") == LOCKED_REFUSED
    assert "Nothing was saved" in html
    account, _ = stored(app, company.client_id)
    assert (account.company_name, account.city) == ("Acme SRL", None)
    assert changes(app, company.client_id) == []

    # The browser leaves the disabled field out: the rest is saved, the locked field stays.
    ok = post_details(client, COMPANY_FORM, omit=("company_name",), city="Iasi")
    assert ok.status_code == 302
    account, _ = stored(app, company.client_id)
    assert (account.company_name, account.city) == ("Acme SRL", "Iasi")
    assert [c[0] for c in changes(app, company.client_id)] == ["city"]


def test_a_locked_checkbox_cannot_be_switched_by_a_forged_post(app, client, owner):
    lock(app, owner.client_id, "sms_opt_in")
    login(client)
    forged = post_details(client, PERSON_FORM, phone="+40722123456", sms_opt_in="y")
    assert forged.status_code == 422 and error_beside(forged.get_data(as_text=True), "sms_opt_in") == LOCKED_REFUSED
    _, user = stored(app, owner.client_id)
    assert (user.phone, user.sms_opt_in) == (None, False)


def test_the_service_refuses_a_locked_field_whatever_the_form_does(app, company):
    lock(app, company.client_id, "company_name")
    with app.app_context():
        user = db.session.get(User, company.user_id)
        with pytest.raises(FieldLocked) as refused:
            update_details(user, {"city": "Iasi", "company_name": "Evil Corp"}, actor=Actor.user(user, ip="127.0.0.1"))
        assert refused.value.field == "company_name"
        db.session.rollback()
    account, _ = stored(app, company.client_id)
    assert (account.company_name, account.city) == ("Acme SRL", None)


@pytest.mark.parametrize(
    ("changes_", "field", "message"),
    [
        ({"phone": "12"}, "phone", "This is not a valid phone number."),
        ({"phone": "call me"}, "phone", "Enter a phone number like +40 722 123 456."),
        ({"tax_id": "RO123"}, "tax_id", "This is not a valid VAT number for RO (e.g. RO123456789)."),
        ({"tax_id": "12345"}, "tax_id", "This is not a valid Romanian CUI/CIF."),
        ({"company_name": ""}, "company_name", "Enter the company name for a company account."),
        ({"sms_opt_in": "y"}, "sms_opt_in", "Enter a mobile number to receive SMS alerts."),
        ({"country": "XX"}, "country", "Not a valid choice."),
    ],
)
def test_bad_input_is_shown_beside_the_field_and_nothing_changes(app, client, company, changes_, field, message):
    login(client, company.email)
    response = post_details(client, COMPANY_FORM, htmx=True, name="Someone Else", city="Iasi", **changes_)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.lstrip().startswith('<form id="details-form"') and "<html" not in html  # the htmx partial
    assert error_beside(html, field) == message
    account, user = stored(app, company.client_id)
    assert (user.name, user.phone, account.city, account.tax_id) == ("Ion Ionescu", None, None, None)
    assert changes(app, company.client_id) == []


# --- avatar ------------------------------------------------------------------


def image_bytes(fmt: str, size=(600, 300), mode="RGBA", trailer: bytes = b"") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30, 255) if mode == "RGBA" else (200, 30, 30)).save(out, fmt)
    return out.getvalue() + trailer


def upload_avatar(client, content: bytes, name: str = "me.png"):
    token = csrf_token(client, "/account/details")
    return client.post(
        "/account/avatar",
        data={"csrf_token": token, "avatar": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    ("fmt", "mode", "size", "expected"),
    [
        ("PNG", "RGBA", (600, 300), (256, 128)),
        ("JPEG", "RGB", (300, 900), (85, 256)),
        ("GIF", "RGB", (64, 64), (64, 64)),
    ],
)
def test_an_image_is_re_encoded_as_png_and_served_as_png(app, client, owner, fmt, mode, size, expected):
    login(client)
    assert client.get("/account/avatar").status_code == 404
    original = image_bytes(fmt, size, mode, trailer=b"<script>alert(1)</script>")
    response = upload_avatar(client, original, name=f"me.{fmt.lower()}")
    assert response.status_code == 302
    assert "Your profile picture was updated." in client.get("/account/details").get_data(as_text=True)

    served = client.get("/account/avatar")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.data.startswith(b"\x89PNG\r\n\x1a\n") and b"<script>" not in served.data
    with Image.open(io.BytesIO(served.data)) as image:
        assert (image.format, image.size) == ("PNG", expected)
    assert [c[:3] for c in changes(app, owner.client_id)] == [("avatar", None, "image")]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"just some text, not a picture\n", "me.png", "Upload a PNG, JPEG, GIF or WebP image."),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "me.png", "Upload a PNG, JPEG, GIF or WebP image."),
        (image_bytes("BMP", mode="RGB"), "me.png", "Upload a PNG, JPEG, GIF or WebP image."),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024), "big.png", "The image is larger than 2 MB."),
        (b"", "", "Choose an image to upload."),
    ],
)
def test_a_file_that_is_not_an_accepted_image_is_refused(app, client, owner, content, name, message):
    login(client)
    response = upload_avatar(client, content, name)
    assert response.status_code == 422
    assert error_beside(response.get_data(as_text=True), "avatar") == message
    assert client.get("/account/avatar").status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(User.avatar_png).where(User.id == owner.user_id)) is None
    assert changes(app, owner.client_id) == []


def test_a_refused_upload_shows_the_stored_details_unchanged(app, client):
    make_owner(app, phone="+40722123456", sms_opt_in=True)
    login(client)
    html = upload_avatar(client, b"not an image").get_data(as_text=True)
    assert error_beside(html, "avatar") == "Upload a PNG, JPEG, GIF or WebP image."
    assert "checked" in input_tag(html, "sms_opt_in") and 'value="+40722123456"' in input_tag(html, "phone")
    assert error_beside(html, "name") is None and "Nothing was saved" not in html


def test_the_avatar_can_be_removed(app, client, owner):
    login(client)
    upload_avatar(client, image_bytes("PNG"))
    token = csrf_token(client, "/account/details")
    assert client.post("/account/avatar/delete", data={"csrf_token": token}).status_code == 302
    assert client.get("/account/avatar").status_code == 404
    assert [c[1:3] for c in changes(app, owner.client_id)] == [(None, "image"), ("image", None)]


# --- who may use it ----------------------------------------------------------


@pytest.mark.parametrize("permissions", [[], ["invoices.view", "invoices.pay", "wallet", "services"]])
def test_a_trusted_user_without_the_profile_permission_gets_403(app, client, owner, permissions):
    make_trusted(app, owner, permissions)
    login(client, "helper@example.com", "helper-password-1")
    token = csrf_token(client, "/")  # a page the trusted user may open
    for method, path in [("get", "/account/details"), ("get", "/account/avatar")]:
        response = getattr(client, method)(path)
        assert response.status_code == 403, path
        assert "You don't have access to this" in response.get_data(as_text=True)
    for path in ["/account/details", "/account/avatar", "/account/avatar/delete"]:
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    assert "My details" not in client.get("/").get_data(as_text=True)
    _, user = stored(app, owner.client_id)
    assert user.name == "Ion Ionescu" and changes(app, owner.client_id) == []


def test_a_trusted_user_with_the_profile_permission_edits_their_own_profile(app, client, owner):
    make_trusted(app, owner, ["profile"])
    login(client, "helper@example.com", "helper-password-1")
    page = client.get("/account/details").get_data(as_text=True)
    assert 'value="Maria Helper"' in page
    assert "Privacy and your data" not in page  # the owner's page only
    assert post_details(client, PERSON_FORM, name="Maria Ajutor").status_code == 302
    with app.app_context():
        helper = db.session.scalar(sa.select(User).where(User.email == "helper@example.com"))
        assert helper.name == "Maria Ajutor"
        helper_id = helper.id
    assert ("name", "Maria Helper", "Maria Ajutor", f"user:{helper_id}", "127.0.0.1") in changes(app, owner.client_id)
    assert count(app, ProfileChange, ProfileChange.user_id == owner.user_id) == 0
