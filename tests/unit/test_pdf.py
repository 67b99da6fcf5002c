"""PDF rendering reads nothing outside static/: no local file, no URL."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.core import pdf_shaping
from app.core.pdf import render_pdf

NOTO = Path(__file__).parents[2] / "static/fonts/NotoSansDevanagari-Regular.ttf"


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_renders_a_pdf_with_a_static_font(app_in_context):
    pdf = render_pdf(
        '<html><head><style>@font-face { font-family: D; src: url("/static/fonts/DejaVuSans.ttf"); }'
        "body { font-family: D; }</style></head><body><p>Factură ș ț €</p></body></html>"
    )
    assert pdf.startswith(b"%PDF")
    assert "Factură ș ț €" in text_of(pdf)


@pytest.mark.parametrize(
    "src",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "../../../../etc/passwd",
        "/static/../config.py",
        "/static/../../etc/hosts",
    ],
)
def test_local_files_outside_static_are_never_read(app_in_context, src):
    refused: list[str] = []
    pdf = render_pdf(f'<html><body><img src="{src}"><p>ok</p></body></html>', refused=refused)
    assert refused == [src]
    assert "root:" not in text_of(pdf)


def test_remote_urls_are_never_fetched(app_in_context, http_server):
    url = f"http://127.0.0.1:{http_server.server_port}/logo.png"
    refused: list[str] = []
    render_pdf(
        f'<html><body><img src="{url}"><link rel="stylesheet" href="{url}.css"></body></html>',
        refused=refused,
    )
    assert http_server.hits == []
    assert url in refused


def drawn_glyphs(pdf: bytes, base_font: str) -> list[int]:
    """The glyph ids the PDF draws in the face `base_font`, in drawing order: each
    character of its ToUnicode map (a private-use one for a glyph with no codepoint)
    mapped back to the glyph ReportLab drew it with."""
    from reportlab.pdfbase import pdfmetrics

    chars: list[str] = []

    def visit(text, cm, tm, font, size):
        if font and str(font.get("/BaseFont", "")).endswith(base_font):
            chars.extend(text)

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    face = pdfmetrics.getFont(pdf_shaping.REGULAR).face
    return [face.charToGlyph[ord(c)] for c in chars if not c.isspace()]


def harfbuzz_glyphs(text: str) -> list[int]:
    import uharfbuzz

    font = uharfbuzz.Font(uharfbuzz.Face(uharfbuzz.Blob.from_file_path(str(NOTO))))
    buf = uharfbuzz.Buffer()
    buf.add_str(text)
    buf.guess_segment_properties()
    uharfbuzz.shape(font, buf)
    return [info.codepoint for info in buf.glyph_infos if font.glyph_to_string(info.codepoint) != "space"]


def test_devanagari_is_drawn_as_the_glyphs_harfbuzz_shapes(app_in_context):
    """क्षि is two glyphs, the i sign first (it is written after the conjunct) and the
    conjunct क्ष, which no codepoint names: drawn codepoint by codepoint it was four,
    क ् ष ि in text order, a dead consonant with a halant and a dotted circle."""
    pdf = render_pdf(
        '<html><head><style>@font-face { font-family: D; src: url("/static/fonts/DejaVuSans.ttf"); }'
        'body { font-family: D, "Noto Sans Devanagari"; }</style></head>'
        "<body><p>€ 12 क्षि त्रिपुरा श्रीमान सर्वर हँसी</p></body></html>"
    )
    shaped = harfbuzz_glyphs("क्षि त्रिपुरा श्रीमान सर्वर हँसी")
    assert len(harfbuzz_glyphs("क्षि")) == 2
    assert drawn_glyphs(pdf, "NotoSansDevanagari-Regular") == shaped
    assert b"NotoSansDevanagari-Regular" in pdf and b"DejaVuSans" in pdf  # both embedded
    assert "€ 12" in text_of(pdf)  # the digits and € stay in DejaVu


def test_shaped_text_is_measured_as_it_is_drawn(app_in_context):
    """Line breaking and alignment measure with HarfBuzz's advances, not the codepoints'."""
    import uharfbuzz
    from reportlab.pdfbase import pdfmetrics

    render_pdf("<html><body><p>x</p></body></html>")  # registers the faces
    font = uharfbuzz.Font(uharfbuzz.Face(uharfbuzz.Blob.from_file_path(str(NOTO))))
    buf = uharfbuzz.Buffer()
    buf.add_str("क्षमा")
    buf.guess_segment_properties()
    uharfbuzz.shape(font, buf)
    expected = sum(p.x_advance for p in buf.glyph_positions) * 10 / 1000  # 1000 units per em
    assert pdfmetrics.stringWidth("क्षमा", pdf_shaping.REGULAR, 10) == pytest.approx(expected)
