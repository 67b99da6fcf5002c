"""Run a service for a form view: commit when it succeeds; when a rule refuses it,
roll back and tell the user next to the field the error names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from wtforms import Field
from wtforms import ValidationError as FormError

from app.core.htmx import toast
from app.errors import DomainError
from app.extensions import db

T = TypeVar("T")

#: Where a refusal whose `field` the form lacks is shown (`unplaced=`), besides another field's name.
ON_FORM, AS_TOAST = "form", "toast"


@dataclass(frozen=True)
class FormAction(Generic[T]):
    """What came of a form action: the service's return value, or the error that refused it
    (already shown to the user). A wtforms.ValidationError counts as refused too."""

    value: T | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_form_action(
    form,
    action: Callable[[], T],
    *,
    catch: type[DomainError] | tuple[type[DomainError], ...] = DomainError,
    unplaced: str = ON_FORM,
    prefix: str = "",
    keep_on_error: bool = False,
) -> FormAction[T]:
    """Call `action()`; commit and return its value, or roll back and show the refusal.

    A `catch` error (DomainError by default; anything else propagates to the error
    handler in app.errors) is shown on `form`'s field named by `error.field` when the
    form has one, else by `unplaced`: "form" (the form's own errors, shown above it),
    "toast" (an error toast: in HX-Trigger for htmx, flashed when a page is loaded
    next), or the name of a field. Without a form it is always a toast. `prefix` goes
    before the message. A wtforms.ValidationError raised by a form method the action
    calls (after it marked its field) is rolled back and returned as refused.
    `keep_on_error` commits instead of rolling back, for what must outlive the
    refusal (a counter of used one-time codes).
    """
    try:
        value = action()
    except (FormError, *_as_tuple(catch)) as error:
        if keep_on_error:
            db.session.commit()
        else:
            db.session.rollback()
        if isinstance(error, DomainError):
            show_refusal(form, error, unplaced=unplaced, prefix=prefix)
        return FormAction(error=error)
    db.session.commit()
    return FormAction(value=value)


def show_refusal(form, error: DomainError, *, unplaced: str = ON_FORM, prefix: str = "") -> None:
    """Show `error`'s message beside its field, or where `unplaced` says (see run_form_action)."""
    message = prefix + error.message
    field = _field(form, error.field) or (_field(form, unplaced) if unplaced not in (ON_FORM, AS_TOAST) else None)
    if field is not None:
        field.errors = [*field.errors, message]
    elif form is None or unplaced != ON_FORM:
        toast(message, "error")
    else:
        form.form_errors.append(message)


def _field(form, name: str | None) -> Field | None:
    field = getattr(form, name, None) if form is not None and name else None
    return field if isinstance(field, Field) else None


def _as_tuple(catch) -> tuple[type[DomainError], ...]:
    return catch if isinstance(catch, tuple) else (catch,)
