"""The offline validator: the official samples pass, a broken total is caught by BR-CO-16."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.einvoice.validation import validate

SAMPLES = Path(__file__).parent / "samples"


@pytest.mark.parametrize("profile", ["peppol", "ciusro"])
def test_the_ciusro_sample_has_no_fatal_failure(profile):
    assert validate((SAMPLES / "ciusro-1.0.9-example.xml").read_bytes(), profile) == []


def test_the_en16931_sample_passes_en16931_and_misses_the_romanian_rules():
    xml = (SAMPLES / "en16931-ubl-tc434-example1.xml").read_bytes()
    assert validate(xml, "peppol") == []
    assert "BR-RO-001" in {f.rule for f in validate(xml, "ciusro")}


def test_a_wrong_payable_amount_breaks_br_co_16():
    xml = (SAMPLES / "en16931-ubl-tc434-example1.xml").read_text(encoding="utf-8")
    broken = re.sub(r"(<cbc:PayableAmount[^>]*>)[^<]*", r"\g<1>1.00", xml).encode()
    failures = validate(broken, "peppol")
    assert [f.rule for f in failures] == ["BR-CO-16"]
    assert failures[0].flag == "fatal"
    assert "LegalMonetaryTotal" in failures[0].location
    assert "BT-115" in failures[0].text


def test_a_schema_error_is_reported_as_xsd_and_skips_the_schematron():
    xml = (SAMPLES / "ciusro-1.0.9-example.xml").read_text(encoding="utf-8")
    broken = xml.replace("<cbc:IssueDate>", "<cbc:Nonsense>x</cbc:Nonsense><cbc:IssueDate>", 1).encode()
    failures = validate(broken)
    assert failures and {f.rule for f in failures} == {"XSD"}
    assert "Nonsense" in failures[0].text


def test_not_xml_is_a_failure_not_a_crash():
    assert [f.rule for f in validate(b"<Invoice")] == ["XSD"]
