"""The in-app inbox: every user's notifications, one block per case, with an unread count
in the header."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from casework.services.notifications import mark_all_read, mark_read
from casework.services.queries import inbox_page
from web import get_db
from web.inputs import ID_MAX, int_arg, only_args

bp = Blueprint("inbox", __name__)


@bp.get("/inbox")
@login_required
def index() -> Any:
    only_args("before")
    before = int_arg("before", 0, 1, ID_MAX) or None
    page = inbox_page(get_db(), current_user.user, str(get_locale()), before=before)
    newest = max((g["latest"] for g in page["groups"]), default=None)
    return render_template("inbox/index.html", page=page, paged=before is not None, newest=newest)


@bp.post("/inbox/<id:notification_id>/read")
@login_required
def read(notification_id: int) -> Any:
    mark_read(get_db(), current_user.user, notification_id)
    return redirect(_back())


@bp.post("/inbox/read-all")
@login_required
def read_all() -> Any:
    raw = request.form.get("up_to", "")
    up_to = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else None
    count = mark_all_read(get_db(), current_user.user, up_to=up_to)
    flash(_("Notifications marked as read: %(num)d.", num=count), "success")
    return redirect(url_for("inbox.index"))


def _back() -> str:
    """Back to the page of the inbox the reader was on."""
    before = request.form.get("before", "")
    if before.isascii() and before.isdigit() and len(before) <= 10:
        return url_for("inbox.index", before=int(before))
    return url_for("inbox.index")
