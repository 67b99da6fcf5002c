"""Romanian billing addresses as e-Factura wants them: the county stored as its ISO 3166-2
code, Bucharest's sector as the city; refused beside the field otherwise; shown by name."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.clients.models import Client
from app.extensions import db
from app.invoices.models import Invoice
from tests.helpers import csrf_token, login, make_proforma, pay
from tests.support.details import PERSON_FORM, error_beside, post_details


def billing_form(client, number: str, **changes) -> dict:
    data = {
        "csrf_token": csrf_token(client, f"/invoices/{number}/billing"),
        "payer": "new",
        "kind": "person",
        "name": "Ion Ionescu",
        "address_line1": "Str. Lungă 3",
        "city": "Cluj-Napoca",
        "region": "Cluj",
        "postcode": "400001",
        "country": "RO",
    }
    return {**data, **changes}


def invoice(app, number: str) -> Invoice:
    with app.app_context():
        found = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
        db.session.expunge_all()
        return found


@pytest.mark.parametrize(
    ("changes", "region", "city"),
    [
        ({}, "RO-CJ", "Cluj-Napoca"),
        ({"region": "județul Cluj"}, "RO-CJ", "Cluj-Napoca"),
        ({"region": "Bucuresti", "city": "sector3"}, "RO-B", "SECTOR3"),
        ({"region": "RO-B", "city": "Sector 3"}, "RO-B", "SECTOR3"),
        ({"country": "DE", "region": "Bayern", "city": "München"}, "Bayern", "München"),
    ],
)
def test_a_romanian_county_is_stored_as_its_code_and_a_bucharest_city_as_its_sector(
    app, client, owner, changes, region, city
):
    number = make_proforma(app, owner.client_id, 1000)
    login(client)
    response = client.post(f"/invoices/{number}/billing", data=billing_form(client, number, **changes))
    assert response.status_code == 302
    changed = invoice(app, number)
    assert (changed.buyer_region, changed.buyer_city) == (region, city)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"region": "Transilvania"}, "region", "Transilvania is not a Romanian county: enter its name, e.g. Cluj"),
        ({"region": "București", "city": "Bucuresti"}, "city", "In Bucharest, give the sector as the city"),
        ({"region": "Bucharest", "city": "Sector 7"}, "city", "In Bucharest, give the sector as the city"),
    ],
)
def test_a_county_or_sector_that_is_none_is_refused_beside_the_field(app, client, owner, changes, field, message):
    number = make_proforma(app, owner.client_id, 1000)
    before = invoice(app, number)
    login(client)
    response = client.post(f"/invoices/{number}/billing", data=billing_form(client, number, **changes))
    assert response.status_code == 422
    assert message in (error_beside(response.get_data(as_text=True), field) or "")
    after = invoice(app, number)
    assert (after.buyer_region, after.buyer_city) == (before.buyer_region, before.buyer_city)


def test_my_details_store_the_code_refuse_a_non_county_and_show_names(app, client, owner):
    login(client)
    refused = post_details(client, PERSON_FORM, region="Bavaria", city="Cluj-Napoca")
    assert refused.status_code == 422
    assert error_beside(refused.get_data(as_text=True), "region") == (
        "Bavaria is not a Romanian county: enter its name, e.g. Cluj or București."
    )
    with app.app_context():
        assert db.session.get(Client, owner.client_id).region != "Bavaria"

    ok = post_details(client, PERSON_FORM, region="Bucuresti", city="Sector 3", address_line1="Str. Exemplu 2")
    assert ok.status_code == 302
    with app.app_context():
        account = db.session.get(Client, owner.client_id)
        assert (account.region, account.city) == ("RO-B", "SECTOR3")

    # The next proforma is billed to the new address; its page names the county and sector.
    number = pay(app, make_proforma(app, owner.client_id, 1000))
    page = client.get(f"/invoices/{number}").get_data(as_text=True)
    assert "Sector 3, București" in page and "RO-B" not in page and "SECTOR3" not in page


def test_the_details_form_shows_the_county_and_sector_by_name(app, client, owner):
    with app.app_context():
        account = db.session.get(Client, owner.client_id)
        account.region, account.city = "RO-B", "SECTOR3"
        db.session.commit()
    login(client)
    page = client.get("/account/details").get_data(as_text=True)
    assert 'value="București"' in page and 'value="Sector 3"' in page
    # Saved as shown, nothing changes: the codes stay.
    assert post_details(client, PERSON_FORM, region="București", city="Sector 3").status_code == 302
    with app.app_context():
        account = db.session.get(Client, owner.client_id)
        assert (account.region, account.city) == ("RO-B", "SECTOR3")
