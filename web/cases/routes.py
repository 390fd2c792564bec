"""Minimal case pages: the list in the user's scope and one case (a later issue widens it)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from casework.services import queries
from web import get_db

bp = Blueprint("cases", __name__)


@bp.get("/")
@login_required
def index() -> Any:
    if queries.answers_tasks(current_user.user):  # an agency lands on its tasks
        return redirect(url_for("tasks.index"))
    rows = queries.list_cases(get_db(), current_user.user, limit=200)
    return render_template("cases/index.html", cases=rows)


@bp.get("/cases/<id:case_id>")
@login_required
def detail(case_id: int) -> Any:
    view = queries.get_case(get_db(), current_user.user, case_id)
    return render_template("cases/detail.html", case=view)
