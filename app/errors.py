"""Domain errors, raised by services and turned into HTTP answers in one place."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError


class DomainError(Exception):
    """A business rule refused the operation; the message is safe to show."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DomainError):
    """Input that breaks a rule; `field` names the form field it belongs to."""

    status_code = 422


class InvalidAmount(ValidationError):
    """An amount that is not a plain positive number in the currency's units."""


class EmailTaken(ValidationError):
    def __init__(self) -> None:
        super().__init__("An account with this email already exists.", field="email")


def _error_page(template: str, status: int, **context):
    return render_template(template, **context), status


def init_app(app: Flask) -> None:
    """Register the error pages and the DomainError handler."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _error_page("errors/400.html", 400, reason=error.description)

    @app.errorhandler(413)
    def too_large(error):
        return _error_page("errors/400.html", 413, reason="The file is too large: upload at most 5 MB.")

    @app.errorhandler(404)
    def not_found(error):
        return _error_page("errors/404.html", 404)

    @app.errorhandler(500)
    def server_error(error):
        return _error_page("errors/500.html", 500)

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return _error_page("errors/400.html", error.status_code, reason=error.message)
