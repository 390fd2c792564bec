"""The agency portal: a partner agency lands on its tasks — overdue, open, done — and answers
each on its own page (accept, decline with a reason, record progress, complete); the page
shows what is asked, by when, on which case, and only the child's data the task needs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from casework.errors import Conflict, EventNotAllowed, NotFound, PermissionDenied, ValidationError
from casework.services import forms, queries
from casework.services.tasks import answers_for, respond
from web import get_db
from web.forms import event_form, payload, show_errors
from web.labels import LOCAL_TZ, label

bp = Blueprint("tasks", __name__)


@bp.app_context_processor
def portal() -> dict[str, Any]:
    """Pages link the agency portal for agencies' users only."""

    def answers_tasks() -> bool:
        return bool(current_user.is_authenticated and queries.answers_tasks(current_user.user))

    return {"answers_tasks": answers_tasks}


OPEN = ("proposed", "accepted")


def _agency_only() -> None:
    if not queries.answers_tasks(current_user.user):
        abort(404)


@bp.get("/tasks")
@login_required
def index() -> Any:
    _agency_only()
    today = datetime.now(LOCAL_TZ).date().isoformat()
    groups: dict[str, list[dict[str, Any]]] = {"overdue": [], "open": [], "done": []}
    for task in queries.list_tasks(get_db(), current_user.user):
        if task["status"] not in OPEN or task["case_closed"]:
            groups["done"].append(task)  # a closed case's tasks are done with
        elif task["due_date"] < today:
            groups["overdue"].append(task)
        else:
            groups["open"].append(task)
    return render_template("tasks/index.html", groups=groups)


def _task_page(task_id: int, form: Any = None, status: int = 200) -> Any:
    try:
        task = queries.task_page(get_db(), current_user.user, task_id)
    except NotFound:
        abort(404)
    answers = [] if task["case_closed"] else answers_for(task["status"])
    if answers:
        form = form or event_form(forms.TASK_ANSWER, None, {})
        form.action.choices = [c for c in form.action.choices if c.value in ("", *answers)]
    return render_template(
        "tasks/task.html", task=task, form=form, fields=forms.TASK_ANSWER, answers=answers
    ), status


@bp.route("/tasks/<id:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int) -> Any:
    """The task's page; a POST answers it (one rule, so that an id out of range is a 404
    for either method)."""
    _agency_only()
    if request.method == "GET":
        return _task_page(task_id)
    form = event_form(forms.TASK_ANSWER, request.form, {})
    if not form.validate():  # CSRF: the fields are checked by the services
        abort(400)
    data = payload(forms.TASK_ANSWER, form)
    try:
        body = forms.clean(forms.TASK_ANSWER, data)
        respond(get_db(), current_user.user, task_id, body["action"], body.get("note", ""))
    except ValidationError as error:
        show_errors(form, error.errors)
        return _task_page(task_id, form, 422)
    except NotFound:
        abort(404)
    except (Conflict, EventNotAllowed, PermissionDenied):
        # The reason in the reader's language: the task or its case moved on meanwhile.
        flash(
            _(
                "This answer no longer applies: the task was answered or its case changed "
                "meanwhile. The page shows where it stands now."
            ),
            "error",
        )
        return _task_page(task_id, None, 409)
    flash(_("Answer recorded: %(action)s.", action=label("task_action", body["action"])), "success")
    return redirect(url_for("tasks.task", task_id=task_id))
