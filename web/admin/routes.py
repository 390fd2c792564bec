"""Administrators' pages (a later issue widens them): addresses the mail server refuses."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from casework.services.queries import mail_failures, may_administer
from web import get_db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.app_context_processor
def administration() -> dict[str, Any]:
    """Pages show the administrators' links to administrators only."""

    def signed_in_administrator() -> bool:
        return bool(current_user.is_authenticated and may_administer(current_user.user))

    return {"signed_in_administrator": signed_in_administrator}


@bp.get("/mail-failures")
@login_required
def failures() -> Any:
    if not may_administer(current_user.user):
        abort(403)
    return render_template("admin/mail_failures.html", failures=mail_failures(get_db()))
