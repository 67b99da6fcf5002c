"""Romanian counties: free text to ISO 3166-2:RO codes, Bucharest's sectors, their display."""

from __future__ import annotations

import pytest

from app.clients.ro_counties import COUNTIES, SECTORS, county_code, county_name, sector, sector_label


def test_the_41_counties_and_bucharest():
    assert len(COUNTIES) == 42 and all(code.startswith("RO-") for code in COUNTIES)
    assert (COUNTIES["RO-CJ"], COUNTIES["RO-B"], COUNTIES["RO-IS"]) == ("Cluj", "București", "Iași")
    assert SECTORS == ("SECTOR1", "SECTOR2", "SECTOR3", "SECTOR4", "SECTOR5", "SECTOR6")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Cluj", "RO-CJ"),
        ("CLUJ", "RO-CJ"),
        ("judetul Cluj", "RO-CJ"),
        ("Județul Cluj", "RO-CJ"),
        ("Jud. Cluj", "RO-CJ"),
        ("Iasi", "RO-IS"),
        ("Iaşi", "RO-IS"),  # the older cedilla
        ("Bistrita Nasaud", "RO-BN"),
        ("Caraș-Severin", "RO-CS"),
        ("Satu-Mare", "RO-SM"),
        ("Bucuresti", "RO-B"),
        ("București", "RO-B"),
        ("Bucharest", "RO-B"),
        ("Municipiul București", "RO-B"),
        ("RO-CJ", "RO-CJ"),
        ("ro-b", "RO-B"),
        ("cj", "RO-CJ"),
        ("Cluj-Napoca", None),  # a town, not the county
        ("Bavaria", None),
        ("", None),
        (None, None),
    ],
)
def test_county_code(text, code):
    assert county_code(text) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Sector 3", "SECTOR3"),
        ("sector3", "SECTOR3"),
        ("SECTOR3", "SECTOR3"),
        ("Sectorul 6", "SECTOR6"),
        ("Sector 7", None),
        ("Bucuresti", None),
    ],
)
def test_sector(text, code):
    assert sector(text) == code


def test_display_names():
    assert (county_name("RO-CJ"), county_name("Bavaria"), county_name(None)) == ("Cluj", "Bavaria", None)
    assert (sector_label("SECTOR3"), sector_label("Berlin")) == ("Sector 3", "Berlin")
