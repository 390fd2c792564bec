"""The in-app inbox: every user's notifications, with an unread count in the header."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from casework.services.notifications import mark_read
from casework.services.queries import inbox
from web import get_db

bp = Blueprint("inbox", __name__)


@bp.get("/inbox")
@login_required
def index() -> Any:
    return render_template("inbox/index.html", notes=inbox(get_db(), current_user.user))


@bp.post("/inbox/<id:notification_id>/read")
@login_required
def read(notification_id: int) -> Any:
    mark_read(get_db(), current_user.user, notification_id)
    return redirect(url_for("inbox.index"))
