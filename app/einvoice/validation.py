"""Is this e-invoice valid? The UBL 2.1 schema, then the EN 16931 (and CIUS-RO) business rules.

The rules are the official compiled Schematron stylesheets (rules/PROVENANCE.md), run with
Saxon (saxonche); the schema check is lxml's. A document with a fatal failure is never sent.
Compiling a stylesheet takes about a second, so each is compiled once per process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree

RULES = Path(__file__).parent / "rules"
SVRL = "http://purl.oclc.org/dsdl/svrl"
_ROOTS = {
    "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice": "UBL-Invoice-2.1.xsd",
    "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote": "UBL-CreditNote-2.1.xsd",
}
#: The Schematron each profile is checked against: CIUS-RO is the EN 16931 rules as CIUS-RO amends
#: them plus ANAF's own national set (ROeFactura 1.0.9, the BR-RO rules); Peppol, EN 16931.
STYLESHEETS = {
    "ciusro": ("EN16931-CIUS_RO-UBL-validation.xslt", "ROeFactura-UBL-validation-Invoice_v1.0.9.xslt"),
    "peppol": ("EN16931-UBL-validation.xslt",),
}

_compile_lock = threading.Lock()
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)  # no entities, nothing fetched


@dataclass(frozen=True)
class Failure:
    """A broken rule: its ID (BR-CO-16, BR-RO-010, or XSD), where (an XPath) and what it says."""

    rule: str
    flag: str
    location: str
    text: str


def validate(xml: bytes, profile: str = "ciusro") -> list[Failure]:
    """The fatal failures of `xml` under the UBL schema and `profile`'s rules; empty when it is valid."""
    try:
        document = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as error:
        return [Failure("XSD", "fatal", "/", f"not well-formed XML: {error}")]
    schema_name = _ROOTS.get(document.tag)
    if schema_name is None:
        return [Failure("XSD", "fatal", "/", f"not a UBL Invoice or CreditNote: {document.tag}")]
    schema = _schema(schema_name)
    if not schema.validate(document):
        return [Failure("XSD", "fatal", f"line {e.line}", e.message) for e in schema.error_log]
    failures: list[Failure] = []
    for stylesheet in STYLESHEETS[profile]:
        failures.extend(f for f in _schematron(xml, stylesheet) if f not in failures)
    return failures


@cache
def _schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(RULES / "ubl-2.1-xsd" / "maindoc" / name)))


@cache
def _processor():
    from saxonche import PySaxonProcessor

    return PySaxonProcessor(license=False)


@cache
def _compiled(stylesheet: str):
    return _processor().new_xslt30_processor().compile_stylesheet(stylesheet_file=str(RULES / stylesheet))


def _schematron(xml: bytes, stylesheet: str) -> list[Failure]:
    with _compile_lock:  # Saxon's processor is shared: one transform at a time per process
        executable = _compiled(stylesheet)
        source = _processor().parse_xml(xml_text=xml.decode("utf-8"))
        report = executable.transform_to_string(xdm_node=source)
    failures = []
    for node in etree.fromstring(report.encode("utf-8"), _PARSER).iter(f"{{{SVRL}}}failed-assert"):
        if node.get("flag", "fatal") != "fatal":
            continue
        text = " ".join("".join(node.findtext(f"{{{SVRL}}}text") or "").split())
        failures.append(Failure(node.get("id") or "?", "fatal", node.get("location") or "", text))
    return failures
