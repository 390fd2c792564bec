"""Minimal case pages: the list in the user's scope and one case (a later issue widens it)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from casework.services import queries
from web import get_db
from web.inputs import choice_arg, only_args
from workflows import get_workflow

bp = Blueprint("cases", __name__)


@bp.app_context_processor
def work_link() -> dict[str, Any]:
    """Pages link "my work" for those who have one (officers, chairs)."""

    def has_work() -> bool:
        return bool(current_user.is_authenticated and queries.work_sections(current_user.user))

    return {"has_work": has_work}


@bp.get("/")
@login_required
def index() -> Any:
    if queries.answers_tasks(current_user.user):  # an agency lands on its tasks
        return redirect(url_for("tasks.index"))
    only_args("state", "overdue", "q", "after")
    states = get_workflow("case").states
    filters: dict[str, Any] = {
        "state": choice_arg("state", states),
        "overdue": choice_arg("overdue", ("1",)) == "1",
        "search": (request.args.get("q") or "").strip()[:200] or None,
    }
    page = queries.case_page(
        get_db(), current_user.user, after=request.args.get("after") or None, **filters
    )
    return render_template(
        "cases/index.html",
        cases=page["cases"],
        next_cursor=page["next"],
        states=states,
        filters=filters,
        paged=bool(request.args.get("after")),
    )


@bp.get("/cases/<id:case_id>")
@login_required
def detail(case_id: int) -> Any:
    view = queries.get_case(get_db(), current_user.user, case_id)
    return render_template("cases/detail.html", case=view)


@bp.get("/work")
@login_required
def work() -> Any:
    """My work: what needs the officer or the chair now, the nearest deadline first."""
    sections = queries.my_work(get_db(), current_user.user)
    if not sections:
        abort(404)
    return render_template("cases/work.html", sections=sections)
