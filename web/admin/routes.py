"""Administrators' pages. The blueprint and its guard live here; each section (users and
tokens, units and agencies, calendars and workflow settings, audit trail, mail) is a module
of this package registering its views on `bp`."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from casework.services import mail
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
    """Refused addresses of the users this administrator manages, with what to do."""
    rows = mail_failures(get_db(), current_user.user)
    return render_template("admin/mail_failures.html", failures=rows, form=FlaskForm())


@bp.post("/mail-failures/<id:user_id>/retry", defaults={"action": "retry"})
@bp.post("/mail-failures/<id:user_id>/fixed", defaults={"action": "fixed"})
@admin_only
def failure_action(user_id: int, action: str) -> Any:
    """Send the refused mail again now, or mark the address fixed (404 out of scope)."""
    if not FlaskForm().validate():
        abort(400, description="the form's security token is missing or stale")
    db, actor = get_db(), current_user.user
    if action == "retry":
        queued = mail.retry_mail(db, actor, user_id)
        flash(_("%(n)s message(s) will be sent again now.", n=queued), "success")
    else:
        mail.mark_address_fixed(db, actor, user_id)
        flash(_("The address is marked as fixed."), "success")
    return redirect(url_for("admin.failures"))
