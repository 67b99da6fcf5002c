"""One client on one page (/admin/clients/<id>): the header, the billing contact and
the tabs (app/admin/client_tabs.py), each at its own URL /admin/clients/<id>/<tab>.

A tab link asked by htmx gets only the tab strip and the tab (swapped in place, the
URL pushed to the history); the same URL opened directly is the whole page.
"""

from __future__ import annotations

from types import EllipsisType

import sqlalchemy as sa
from flask import abort, make_response, redirect, render_template, request, url_for
from sqlalchemy.orm import joinedload, selectinload

from app.admin.blueprint import bp
from app.admin.client_settings import ClientSettingsForm, settings
from app.admin.client_tabs import STATUS_LABELS, TABS
from app.clients.models import Client, User, UserRole
from app.core.actors import request_actor
from app.core.form_actions import run_form_action
from app.core.htmx import is_htmx, toast
from app.core.i18n import _, _l
from app.extensions import db
from app.lifecycle.services import resolve_tombstone
from app.profile.services import update_client_settings

#: Every tab, the settings last (it holds a form: app/admin/client_settings.py).
ALL_TABS = {**TABS, "settings": (_l("Settings"), settings)}


def client_or_404(client_id: int) -> Client:
    """The client with its group and users (two statements); 404 if there is none."""
    client = db.session.get(Client, client_id, options=[selectinload(Client.users), joinedload(Client.group)])
    if client is None:
        abort(404)
    return client


def _profile_or_404(client_id: int) -> tuple[Client, User | None]:
    """The client, its group and its owner (the profile's header) in one statement; 404 if
    there is none. The other users are the Contacts tab's to read."""
    row = db.session.execute(
        sa.select(Client, User)
        .outerjoin(User, sa.and_(User.client_id == Client.id, User.role == UserRole.OWNER))
        .options(joinedload(Client.group))
        .where(Client.id == client_id)
    ).first()
    if row is None:
        abort(404)
    return row[0], row[1]


def render_tab(client: Client, tab: str, *, status: int = 200, owner: User | EllipsisType | None = ..., **extra):
    """The profile showing `tab`: the whole page, or (for htmx) the tab strip and the tab
    (`owner`: the client's owner when the caller has read it; else from client.users).
    The answer varies on HX-Request, so no cache hands a fragment to a browser."""
    label, load = ALL_TABS[tab]
    context = {
        "client": client,
        "owner": client.owner if owner is ... else owner,
        "tab": tab,
        "tabs": ALL_TABS,
        "tab_label": label,
        "status_labels": STATUS_LABELS,
    }
    context.update(load(client, **extra))
    template = "admin/client_tabs/_frame.html" if _swaps_the_tabs() else "admin/client.html"
    response = make_response(render_template(template, **context), status)
    response.vary.update(("HX-Request", "HX-Target"))
    return response


def _swaps_the_tabs() -> bool:
    """An htmx request for the tab strip (#client-tabs); not htmx restoring a page from history,
    which wants the whole page."""
    headers = request.headers
    return is_htmx() and headers.get("HX-Target") == "client-tabs" and not headers.get("HX-History-Restore-Request")


def _tombstone_redirect(client: Client, tab: str | None = None):
    """A merged client's old URL leads to the client it was merged into."""
    target = resolve_tombstone(client)
    if tab:
        return redirect(url_for("admin.client_tab", client_id=target.id, tab=tab))
    return redirect(url_for("admin.client", client_id=target.id))


@bp.route("/clients/<int:client_id>")
def client(client_id: int):
    found, owner = _profile_or_404(client_id)
    if found.merged_into_id is not None:
        return _tombstone_redirect(found)
    return render_tab(found, "summary", owner=owner)


@bp.route("/clients/<int:client_id>/<tab>")
def client_tab(client_id: int, tab: str):
    if tab not in ALL_TABS:
        abort(404)
    found, owner = _profile_or_404(client_id)
    if found.merged_into_id is not None:
        return _tombstone_redirect(found, tab)
    return render_tab(found, tab, owner=owner)


@bp.post("/clients/<int:client_id>/settings")
def client_settings(client_id: int):
    client = client_or_404(client_id)
    form = ClientSettingsForm()
    if form.validate_on_submit():
        result = run_form_action(
            form,
            lambda: update_client_settings(
                client.id,
                locked_fields=form.locked_fields.data or [],
                overrides=form.overrides(),
                actor=request_actor(),
            ),
        )
        if result.ok:
            toast(
                _("Settings saved.") if result.value else _("Nothing changed."), "success" if result.value else "info"
            )
            if _swaps_the_tabs():
                return render_tab(client, "settings")
            return redirect(url_for("admin.client_tab", client_id=client.id, tab="settings"))
    return render_tab(client, "settings", status=422, form=form)
