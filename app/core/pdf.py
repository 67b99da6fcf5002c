"""HTML -> PDF with xhtml2pdf, reading nothing but files inside static/.

The HTML is ours (a Jinja template, client text escaped), but a template or a
future change could still point at `file:///etc/passwd` or an internal URL:
the link callback and xhtml2pdf's resource policy refuse both.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

from app.core.pdf_shaping import register_fonts

log = logging.getLogger(__name__)


class PdfRenderError(RuntimeError):
    pass


def static_only_link_callback(static_dir: Path, refused: list[str] | None = None):
    """A link_callback resolving '/static/x' or 'x' to a file under static_dir, and
    nothing else (no URL scheme, no path outside it)."""
    root = static_dir.resolve()

    def callback(uri: str, rel: str | None = None) -> str:
        parts = urlsplit(uri)
        path = unquote(parts.path)
        if parts.scheme or parts.netloc or not path:
            return _refuse(uri)
        path = path.removeprefix("/static/").lstrip("/")
        candidate = (root / path).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return _refuse(uri)
        return str(candidate)

    def _refuse(uri: str) -> str:
        log.warning("PDF resource refused: %r", uri[:200])
        if refused is not None:
            refused.append(uri)
        return ""  # xhtml2pdf skips a resource it cannot open

    return callback


def render_pdf(html: str, *, refused: list[str] | None = None) -> bytes:
    """The PDF of `html`. Raises PdfRenderError if xhtml2pdf reports errors."""
    static_dir = Path(current_app.static_folder)
    register_fonts(static_dir / "fonts")
    policy = ResourceAccessPolicy.server(static_dir, allow_remote=False)
    out = io.BytesIO()
    status = pisa.CreatePDF(
        html,
        dest=out,
        encoding="utf-8",
        link_callback=static_only_link_callback(static_dir, refused),
        resource_policy=policy,
    )
    if status.err:
        raise PdfRenderError(f"xhtml2pdf reported {status.err} error(s)")
    return out.getvalue()
