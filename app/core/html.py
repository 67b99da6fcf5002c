"""Stored HTML (an email) made safe to show inside a page, with nh3: text, tables and links only."""

from __future__ import annotations

from collections.abc import Callable

import nh3

#: What an email may keep: text structure, tables and links. No img (remote content tells the
#: sender the mail was read), no style, script, forms, frames or media.
ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "caption", "code", "div", "em", "h1", "h2", "h3", "h4", "hr", "i", "li",
    "ol", "p", "pre", "small", "span", "strong", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
#: Removed with their content (the rest of the disallowed tags are unwrapped, their text kept).
DROPPED_WITH_CONTENT = {"head", "title", "script", "style", "template", "noscript", "textarea", "select", "object"}
#: The hooks our email templates put on their parts, for the page's stylesheet.
ALLOWED_CLASSES = {
    "a": {"email-button"},
    "table": {"email-lines"},
    "td": {"email-brand", "email-footer"},
}
LINK_SCHEMES = {"http", "https", "mailto"}


def clean_email_html(html: str, *, keep_link: Callable[[str], bool] = lambda url: True) -> str:
    """`html` with only ALLOWED_TAGS, absolute http(s)/mailto links marked rel="noopener noreferrer".

    A link for which `keep_link(url)` is false loses its href (its text stays), so a secret
    link cannot be followed from the archive.
    """

    def links(tag: str, attribute: str, value: str) -> str | None:
        if tag == "a" and attribute == "href" and not keep_link(value):
            return None
        return value

    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes={"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}},
        tag_attribute_values={"td": {"align": {"left", "right"}}, "th": {"align": {"left", "right"}}},
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=LINK_SCHEMES,
        url_relative="deny",
        attribute_filter=links,
        link_rel="noopener noreferrer",
    )
