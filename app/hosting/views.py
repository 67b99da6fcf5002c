"""Services, the service timeline, and ordering from the catalog."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, session, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.core.dates import today
from app.core.errors import ValidationError
from app.core.form_actions import run_form_action
from app.core.i18n import _
from app.core.rendering import render_page
from app.extensions import db
from app.hosting.forms import AddToCartForm, CartActionForm, CheckoutForm
from app.hosting.models import BillingCycle, Product, Service
from app.hosting.services import CartItem, place_order, service_timeline

bp = Blueprint("hosting", __name__)

_CART = "cart"


def get_owned_service_or_404(service_id: int) -> Service:
    service = db.session.scalar(
        sa.select(Service).where(Service.id == service_id, Service.client_id == current_user.client_id)
    )
    if service is None:
        abort(404)
    return service


@bp.route("/services")
def services():
    rows = db.session.scalars(
        sa.select(Service)
        .where(Service.client_id == current_user.client_id)
        .options(selectinload(Service.product), selectinload(Service.group))
        .order_by(Service.id.desc())
    ).all()
    return render_template("hosting/services.html", services=rows)


@bp.route("/services/<int:service_id>")
def service(service_id: int):
    item = get_owned_service_or_404(service_id)
    timeline = service_timeline(item, current_user.client)
    return render_template("hosting/service.html", service=item, timeline=timeline, today=today())


def _catalog() -> list[Product]:
    return db.session.scalars(sa.select(Product).where(Product.active).order_by(Product.position, Product.id)).all()


def _cart_items() -> list[CartItem]:
    items = []
    for raw in session.get(_CART, []):
        try:
            items.append(CartItem(int(raw["product_id"]), BillingCycle(raw["cycle"]), str(raw["label"])))
        except (KeyError, TypeError, ValueError):
            continue
    return items


def _cart_view(form: AddToCartForm | None = None, status: int = 200):
    client = current_user.client
    products = {p.id: p for p in _catalog()}
    lines = []
    for item in _cart_items():
        product = products.get(item.product_id)
        price = product.price_for(item.cycle, client.currency) if product else None
        lines.append((item, product, price))
    total = sum(price.amount_minor for _, _, price in lines if price)
    return render_page(
        "hosting/cart.html",
        "hosting/_cart.html",
        status,
        products=list(products.values()),
        lines=lines,
        total=total,
        client=client,
        form=form or AddToCartForm(),
        action=CartActionForm(),
        checkout_form=CheckoutForm(),
    )


@bp.route("/cart")
def cart():
    return _cart_view()


@bp.post("/cart/add")
def cart_add():
    form = AddToCartForm()
    product = db.session.get(Product, form.product_id.data) if form.product_id.data else None
    if form.validate_on_submit() and product is not None and product.active:
        if product.price_for(BillingCycle(form.cycle.data), current_user.client.currency) is None:
            form.cycle.errors = [_("This product is not sold for that period.")]
        else:
            session[_CART] = [
                *session.get(_CART, []),
                {"product_id": product.id, "cycle": form.cycle.data, "label": form.label.data},
            ]
            return redirect(url_for("hosting.cart"))
    return _cart_view(form, 422)


@bp.post("/cart/remove")
def cart_remove():
    form = CartActionForm()
    if form.validate_on_submit() and (form.index.data or "").isdigit():
        items = list(session.get(_CART, []))
        index = int(form.index.data)
        if index < len(items):
            del items[index]
            session[_CART] = items
    return redirect(url_for("hosting.cart"))


@bp.post("/cart/checkout")
def checkout():
    form = CheckoutForm()
    if not form.validate_on_submit() or not form.order_key.data:
        abort(400)
    result = run_form_action(
        form,
        lambda: place_order(current_user.client, _cart_items(), order_key=form.order_key.data),
        catch=ValidationError,
        unplaced="toast",  # the cart page is loaded next: the message is flashed there
    )
    if not result.ok:
        return redirect(url_for("hosting.cart"))
    proforma = result.value
    session.pop(_CART, None)
    flash(
        _("Order placed. Your services start as soon as proforma %(number)s is paid.", number=proforma.number),
        "success",
    )
    return redirect(url_for("invoices.view", number=proforma.number))
