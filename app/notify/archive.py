"""Notifications: the archive of every email and SMS sent to the account, and what to subscribe to.

The views are in app.notify.views. The owner
reads every message of the client; a trusted user reads only the messages sent to them.
An email is shown as its HTML part, sanitized (app.core.html: no script, style, image or
form; links only to http(s)/mailto), with secret links removed (see OWN_LINKS_KEPT).
The list is paged by keyset on (created_at, channel, id), newest first, and filtered by
type and date range from the query string, so every page and filter is a plain link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa
from flask import abort, current_app
from flask_login import current_user

from app.clients.models import User
from app.core.dates import zone
from app.core.html import clean_email_html
from app.extensions import db
from app.notify.forms import ArchiveFilterForm
from app.notify.handlers import EMAIL_TYPES
from app.notify.models import EmailMessage, SmsMessage

#: Endpoints whose links carry a secret token. In the archive their token is
#: removed: a reset, invite or email-confirmation link is a way to take over an
#: account without the password (a link session is not fresh, and must not be able
#: to get one), and another user's login link would sign the reader in as them.
#: Only the reader's own login links to an invoice stay.
OWN_LINKS_KEPT = {"auth.mail_link"}
REMOVED_LINK = "[personal link removed: open it from the email itself]"


def _me() -> User:
    return current_user._get_current_object()


def _visible(model, query: sa.Select) -> sa.Select:
    """`query` scoped to what the current user may read: the owner all of the client's, a trusted user their own."""
    user = _me()
    query = query.where(model.client_id == user.client_id)
    if not user.is_owner:
        query = query.where(model.user_id == user.id)
    return query


def visible_messages() -> sa.Select:
    """The emails the current user may read."""
    return _visible(EmailMessage, sa.select(EmailMessage))


def _token_links() -> list[tuple[str, re.Pattern]]:
    """(endpoint, pattern) of every absolute link whose path ends in a <token>."""
    links = []
    for rule in current_app.url_map.iter_rules():
        if "<token>" in rule.rule:
            prefix = rule.rule.split("<token>", 1)[0]
            links.append((rule.endpoint, re.compile(r"https?://[^\s/]+" + re.escape(prefix) + r"[\w.\-]+")))
    return links


def _secret_links(message: EmailMessage, reader: User) -> list[re.Pattern]:
    """The patterns of the links this reader must not get from this message (see OWN_LINKS_KEPT)."""
    return [
        pattern
        for endpoint, pattern in _token_links()
        if not (endpoint in OWN_LINKS_KEPT and message.user_id == reader.id)
    ]


def archived_text(message: EmailMessage, reader: User) -> str:
    """The text body as the archive shows it: secret links removed."""
    text = message.body_text
    for pattern in _secret_links(message, reader):
        text = pattern.sub(REMOVED_LINK, text)
    return text


def archived_html(message: EmailMessage, reader: User) -> str | None:
    """The HTML body as the archive shows it: sanitized, secret links unlinked and removed
    from the text. None for a message stored without HTML."""
    if not (message.body_html or "").strip():
        return None
    secrets = _secret_links(message, reader)
    html = clean_email_html(message.body_html, keep_link=lambda url: not any(p.match(url) for p in secrets))
    for pattern in secrets:
        html = pattern.sub(REMOVED_LINK, html)
    return html


# --- the list: filters and keyset pages ------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A position in the list: the message at the edge of a page."""

    created_at: datetime
    channel: str
    id: int

    _FORMAT = re.compile(r"(email|sms)-(\d{1,18})-(\d{1,18})")

    def __str__(self) -> str:
        micros = (self.created_at - EPOCH) // timedelta(microseconds=1)
        return f"{self.channel}-{self.id}-{micros}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """The cursor in a page link; a malformed or out-of-range one is a 404 (links are made by us)."""
        if text is None:
            return None
        match = cls._FORMAT.fullmatch(text)
        if match is None:
            abort(404)
        try:
            moment = EPOCH + timedelta(microseconds=int(match.group(3)))
        except OverflowError:
            abort(404)
        return cls(moment, match.group(1), int(match.group(2)))


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ArchiveItem:
    channel: str  # "email" or "sms"
    message: EmailMessage | SmsMessage

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.message.created_at, self.channel, self.message.id)


@dataclass(frozen=True)
class ArchivePage:
    items: list[ArchiveItem]
    newer: Cursor | None  # link to the page before (newer messages), if any
    older: Cursor | None  # link to the page after (older messages), if any


def _email_topic_filter(topic: str):
    templates = [template for template, (kind, _) in EMAIL_TYPES.items() if kind == topic]
    if topic == "account":  # security and account emails: every template with no subscription type
        return EmailMessage.template.not_in(list(EMAIL_TYPES))
    return EmailMessage.template.in_(templates)


def _timeline(form: ArchiveFilterForm, cursor: Cursor | None, *, newer: bool, limit: int) -> sa.Subquery:
    """(channel, id, created_at) of the messages the user may read that the filters keep, past
    `cursor` in the list's order: at most `limit` of each channel, each taken in its own index
    order (client_id, created_at, id), so a page reads about a page of rows whatever the archive's size."""
    kind = form.type.data or ""
    start, end = _date_range(form)
    parts = []
    for channel, model in (("email", EmailMessage), ("sms", SmsMessage)):
        if kind and (kind == "sms") != (channel == "sms"):
            continue
        query = _visible(model, sa.select(sa.literal(channel).label("channel"), model.id, model.created_at))
        if channel == "email" and kind:
            query = query.where(_email_topic_filter(kind))
        if start is not None:
            query = query.where(model.created_at >= start)
        if end is not None:
            query = query.where(model.created_at < end)
        if cursor is not None:
            query = query.where(_beyond(model, channel, cursor, newer=newer))
        order = (model.created_at, model.id)
        query = query.order_by(*(c.asc() if newer else c.desc() for c in order)).limit(limit)
        branch = query.subquery()  # a LIMIT inside UNION ALL needs its own SELECT (SQLite)
        parts.append(sa.select(branch.c.channel, branch.c.id, branch.c.created_at))
    return (sa.union_all(*parts) if len(parts) > 1 else parts[0]).subquery()


def _date_range(form: ArchiveFilterForm) -> tuple[datetime | None, datetime | None]:
    """The filter's days, whole, in the client's time zone, as UTC moments [start, end)."""
    tz = zone(_me().client.timezone)
    start = datetime.combine(form.since.data, time(), tz) if form.since.data else None
    end = datetime.combine(form.until.data + timedelta(days=1), time(), tz) if form.until.data else None
    return start, end


def archive_page(form: ArchiveFilterForm, *, before: Cursor | None, after: Cursor | None, per_page: int) -> ArchivePage:
    """One page of the timeline, newest first: the messages older than `before`, or newer than `after`."""
    newer = after is not None
    timeline = _timeline(form, after if newer else before, newer=newer, limit=per_page + 1)
    key = (timeline.c.created_at, timeline.c.channel, timeline.c.id)
    query = sa.select(*key).order_by(*(column.asc() if newer else column.desc() for column in key))
    rows = db.session.execute(query.limit(per_page + 1)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    if newer:
        rows.reverse()
    items = _load(rows)
    newer_page = items[0].cursor if items and (before is not None or (newer and more)) else None
    older_page = items[-1].cursor if items and (newer or more) else None
    return ArchivePage(items, newer_page, older_page)


def _beyond(model, channel: str, cursor: Cursor, *, newer: bool):
    """`model`'s rows past `cursor` in the list's order (created_at, channel, id), with `channel`
    fixed for the model: a tuple comparison spelled out for every database."""
    created_at, id_ = model.created_at, model.id
    if channel == cursor.channel:
        if newer:
            return sa.or_(created_at > cursor.created_at, sa.and_(created_at == cursor.created_at, id_ > cursor.id))
        return sa.or_(created_at < cursor.created_at, sa.and_(created_at == cursor.created_at, id_ < cursor.id))
    if newer:  # the same moment counts as newer for a channel after the cursor's
        return created_at >= cursor.created_at if channel > cursor.channel else created_at > cursor.created_at
    return created_at <= cursor.created_at if channel < cursor.channel else created_at < cursor.created_at


def _load(rows) -> list[ArchiveItem]:
    """The messages of a page's (created_at, channel, id) rows, in the rows' order."""
    ids = {"email": [r.id for r in rows if r.channel == "email"], "sms": [r.id for r in rows if r.channel == "sms"]}
    loaded = {}
    for channel, model in (("email", EmailMessage), ("sms", SmsMessage)):
        if ids[channel]:
            for message in db.session.scalars(sa.select(model).where(model.id.in_(ids[channel]))):
                loaded[channel, message.id] = message
    return [ArchiveItem(r.channel, loaded[r.channel, r.id]) for r in rows]
