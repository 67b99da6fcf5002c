"""Devanagari in the PDFs: shaped by HarfBuzz, the way a browser draws it.

xhtml2pdf lays text out one codepoint after another, each drawn with the glyph
the font's cmap gives it. That is all Latin, Cyrillic and Romanian need
(DejaVu Sans draws them), but Devanagari is written in clusters the font has to
build: a conjunct (क्ष, त्र, ज्ञ) is one glyph that no codepoint names, the
vowel sign ि is drawn before the consonant it follows in the text, the reph
(र् before a consonant) moves to the top right of the syllable, and the marks
(ु ू ं ँ ़) are placed on their base by the font's GPOS table. Drawn codepoint
by codepoint, Hindi comes out as a row of dead consonants with halants,
dotted circles and marks in the wrong place.

ReportLab can shape with uharfbuzz (its own Paragraph does, with
`style.shaping`), but xhtml2pdf has a copy of the Paragraph of older days that
never asks for it. So shaping is tied to the face rather than to the
paragraph: ShapingTTFont measures a run by the advances HarfBuzz gives, and
the text object draws a run in such a face as the glyphs HarfBuzz chose, at
the offsets it chose (ReportLab's ShapedStr path, the one its own shaping
paragraphs end in). Line breaking and alignment measure with the same shaping
that draws, so a right-aligned or centred Hindi cell lines up.

The faces are registered here, in Python, rather than by an @font-face in the
templates, because xhtml2pdf would make a plain TTFont of those: the CSS names
the family (FAMILY) after DejaVu, and xhtml2pdf's per-character fallback sends
each character to the first family that has it, so Devanagari goes to Noto
Sans Devanagari and digits, € and Latin or Cyrillic letters stay in DejaVu.
"""

from __future__ import annotations

import threading
from pathlib import Path

from reportlab.lib.abag import ABag
from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import ShapedStr, TTFont, shapeFragWord
from reportlab.pdfgen.textobject import PDFTextObject
from xhtml2pdf import default as xhtml2pdf_default

#: The CSS font-family of the Devanagari faces (static/fonts, OFL: see
#: NotoSansDevanagari-LICENSE.txt there).
FAMILY = "Noto Sans Devanagari"
#: ReportLab's names of the faces, upright only: there is no italic Devanagari.
REGULAR = "NotoSansDevanagari"
BOLD = "NotoSansDevanagari-Bold"
_FILES = {REGULAR: "NotoSansDevanagari-Regular.ttf", BOLD: "NotoSansDevanagari-Bold.ttf"}

#: Shaped runs kept per face: a document repeats its labels, and the
#: paragraph measures a word more than once before it draws it.
_CACHE_SIZE = 4096


class ShapingTTFont(TTFont):
    """A TrueType face whose text is measured and drawn shaped by HarfBuzz."""

    def __init__(self, name: str, filename: str) -> None:
        super().__init__(name, filename, shapable=True)
        self._shaped: dict[str, ShapedStr] = {}
        self._shaping = threading.Lock()

    def shape(self, text: str) -> ShapedStr:
        """`text` as the glyphs HarfBuzz gives, with their advances and offsets.

        The characters of the answer are those ReportLab draws each glyph by:
        the glyph's own codepoint, or a private-use one it assigns to a glyph
        no codepoint maps to (a conjunct, a half form, a vowel sign variant).
        """
        shaped = self._shaped.get(text)
        if shaped is None:
            with self._shaping:  # the private-use codepoints are handed out in order
                # Size does not change the shaping (no `trak` table), only the scale.
                word = [0, (ABag(fontName=self.fontName, fontSize=10), text)]
                shaped = shapeFragWord(word, force=True)[1][1]
                if len(self._shaped) >= _CACHE_SIZE:
                    self._shaped.clear()
                self._shaped[text] = shaped
        return shaped

    def stringWidth(self, text, size, encoding="utf8"):
        if isinstance(text, bytes):
            text = text.decode(encoding)
        if not text:
            return 0
        if not isinstance(text, ShapedStr):
            text = self.shape(text)
        return sum(sd.x_advance for sd in text.__shapeData__) * size / 1000


_format_text = PDFTextObject._formatText


def _format_shaped_text(self, text):
    """PDFTextObject._formatText, shaping a run in a ShapingTTFont first."""
    if text and isinstance(text, str) and not isinstance(text, ShapedStr):
        font = pdfmetrics.getFont(self._fontname)
        if isinstance(font, ShapingTTFont):
            text = font.shape(text)
    return _format_text(self, text)


_registering = threading.Lock()


def register_fonts(fonts_dir: Path) -> None:
    """Make FAMILY known to ReportLab and to every xhtml2pdf document.

    Idempotent and cheap after the first call; called before each render, so
    that a test resetting ReportLab's registry does not lose the faces.
    """
    with _registering:
        PDFTextObject._formatText = _format_shaped_text
        registered = set(pdfmetrics.getRegisteredFontNames())
        for name, filename in _FILES.items():
            if name not in registered:
                pdfmetrics.registerFont(ShapingTTFont(name, str(fonts_dir / filename)))
        # Italic falls back to upright; upright is mapped last, so that the
        # reverse lookup (face name -> family, bold, italic) answers upright.
        for bold, italic, name in ((0, 1, REGULAR), (1, 1, BOLD), (0, 0, REGULAR), (1, 0, BOLD)):
            addMapping(REGULAR, bold, italic, name)
        xhtml2pdf_default.DEFAULT_FONT[FAMILY.lower()] = REGULAR
