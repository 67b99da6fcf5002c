"""The client area's Documents: the files staff shared with the account (owner only)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from app.casework.services import client_document_or_404, client_documents, send_client_file

bp = Blueprint("casework", __name__)


@bp.route("/account/documents")
def documents():
    return render_template("casework/documents.html", files=client_documents(current_user.client_id))


@bp.route("/account/documents/<int:file_id>")
def document(file_id: int):
    """One shared file, as a download; another client's file, or one kept for staff, is a 404."""
    return send_client_file(client_document_or_404(current_user.client_id, file_id))
