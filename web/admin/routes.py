"""Administrators' pages (a later issue widens them): addresses the mail server refuses."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from casework.models import Role
from casework.notify import mail_failures
from web import get_db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/mail-failures")
@login_required
def failures() -> Any:
    if current_user.role != Role.ADMIN:
        abort(403)
    return render_template("admin/mail_failures.html", failures=mail_failures(get_db()))
