"""PDF rendering reads nothing outside static/: no local file, no URL."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from app.core.pdf import render_pdf


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
