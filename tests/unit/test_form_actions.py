"""run_form_action: commit on success; on a refusal roll back and show it beside the field or as a toast."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask import g
from flask_wtf import FlaskForm
from wtforms import StringField

from app.core.actors import Actor, request_actor
from app.core.errors import Conflict, DomainError, ValidationError
from app.core.form_actions import run_form_action
from app.extensions import db
from app.staff.models import Staff
from app.staff.services import create_staff


class NameForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField()


def staff_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Staff))


def add_staff_then_refuse(error: DomainError):
    def action():
        create_staff("half@example.com", "Half", "a-long-password-1")  # flushed, must not be committed
        raise error

    return action


def test_success_commits_and_returns_the_value(app):
    with app.test_request_context("/", method="POST"):
        form = NameForm()
        result = run_form_action(form, lambda: create_staff("new@example.com", "New", "a-long-password-1").email)
        assert result.ok and result.value == "new@example.com" and result.error is None
        db.session.rollback()  # nothing pending is left to roll back: it was committed
        assert staff_count() == 1


def test_a_field_error_is_attached_to_its_field_and_nothing_is_written(app):
    with app.test_request_context("/", method="POST"):
        form = NameForm()
        error = ValidationError("That name is taken.", field="name")
        result = run_form_action(form, add_staff_then_refuse(error))
        assert not result.ok and result.error is error and result.value is None
        assert list(form.name.errors) == ["That name is taken."] and form.form_errors == []
        db.session.commit()  # the rollback already happened: committing now writes nothing
        assert staff_count() == 0
        assert "toasts" not in g


def test_an_error_naming_no_field_of_the_form_goes_above_the_form(app):
    with app.test_request_context("/", method="POST"):
        form = NameForm()
        result = run_form_action(form, add_staff_then_refuse(Conflict("Already paid.", field="nope")))
        assert not result.ok and form.form_errors == ["Already paid."] and not form.name.errors
        assert staff_count() == 0


def test_a_field_less_error_on_an_htmx_request_is_a_toast(app):
    with app.test_request_context("/", method="POST", headers={"HX-Request": "true"}):
        form = NameForm()
        result = run_form_action(form, add_staff_then_refuse(DomainError("Not now.")), unplaced="toast")
        assert not result.ok and form.form_errors == [] and not form.name.errors
        response = app.process_response(app.make_response(("", 422)))
        assert json.loads(response.headers["HX-Trigger"])["toast"] == {"message": "Not now.", "level": "error"}
        assert staff_count() == 0


def test_without_a_form_the_error_is_a_toast_with_the_prefix(app):
    with app.test_request_context("/", method="POST"):
        run_form_action(None, add_staff_then_refuse(ValidationError("Enter it.", field="name")), prefix="BF-1: ")
        assert g.toasts == [{"message": "BF-1: Enter it.", "level": "error"}]


def test_errors_outside_catch_propagate(app):
    with app.test_request_context("/", method="POST"), pytest.raises(Conflict):
        run_form_action(NameForm(), add_staff_then_refuse(Conflict("No.")), catch=ValidationError)


def test_actor_strings_are_the_stored_ones(app):
    assert str(Actor("user", 3)) == "user:3" and str(Actor.staff(type("S", (), {"id": 2})())) == "staff:2"
    assert str(Actor.system("gateway:test")) == "gateway:test" and str(Actor.system()) == "system"
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        assert request_actor() == Actor("system", ip="203.0.113.9")  # nobody signed in


def test_request_actor_names_the_signed_in_user_without_the_stamp(app):
    from flask_login import login_user

    from app.clients.models import User
    from tests.helpers import make_owner

    owner = make_owner(app)
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "198.51.100.7"}):
        login_user(db.session.get(User, owner.user_id))
        actor = request_actor()
        assert actor == Actor("user", owner.user_id, "198.51.100.7") and str(actor) == f"user:{owner.user_id}"


def test_request_actor_carries_the_browser_and_can_name_the_user_being_signed_in(app):
    user = type("U", (), {"id": 7})()
    environ = {"REMOTE_ADDR": "203.0.113.9", "HTTP_USER_AGENT": "Firefox/140"}
    with app.test_request_context("/", environ_base=environ):
        assert request_actor().user_agent == "Firefox/140"
        signing_in = request_actor(for_user=user)
    assert signing_in == Actor("user", 7, "203.0.113.9", user_agent="Firefox/140") and str(signing_in) == "user:7"
    assert Actor("system", ip="198.51.100.1").as_user(user) == Actor.user(user, ip="198.51.100.1")
