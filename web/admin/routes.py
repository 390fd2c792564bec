"""Administrators' pages. The blueprint and its guard live here; each section (users and
tokens, units and agencies, calendars and workflow settings, audit trail, mail) is a module
of this package registering its views on `bp`."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from casework.services.queries import mail_failures, may_administer
from web import get_db

bp = Blueprint("admin", __name__, url_prefix="/admin")

View = TypeVar("View", bound=Callable[..., Any])


def admin_only(view: View) -> View:
    """Signed in, and an administrator (national or of a province); 403 for anyone else.
    Which province's things an administrator may change is the services' decision."""

    @wraps(view)
    @login_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not may_administer(current_user.user):
            abort(403)
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


@bp.app_context_processor
def administration() -> dict[str, Any]:
    """Pages show the administrators' links to administrators only."""

    def signed_in_administrator() -> bool:
        return bool(current_user.is_authenticated and may_administer(current_user.user))

    return {"signed_in_administrator": signed_in_administrator}


@bp.get("")
@admin_only
def index() -> Any:
    return render_template("admin/index.html")


@bp.get("/mail-failures")
@admin_only
def failures() -> Any:
    return render_template("admin/mail_failures.html", failures=mail_failures(get_db()))
