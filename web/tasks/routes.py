"""The agency portal: a partner agency's tasks — what is asked, by when, on which case — and
its answers (accept, decline with a reason, complete), drawn from the task answer's fields."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from casework.errors import Conflict, EventNotAllowed, NotFound, PermissionDenied, ValidationError
from casework.services import forms, queries
from casework.services.tasks import respond
from web import get_db
from web.forms import event_form, payload, show_errors
from web.labels import label

bp = Blueprint("tasks", __name__)


@bp.app_context_processor
def portal() -> dict[str, Any]:
    """Pages link the agency portal for agencies' users only."""

    def answers_tasks() -> bool:
        return bool(current_user.is_authenticated and queries.answers_tasks(current_user.user))

    return {"answers_tasks": answers_tasks}


OPEN = ("proposed", "accepted")


def _portal(answering: int | None = None, form: Any = None, status: int = 200) -> Any:
    actor = current_user.user
    if not queries.answers_tasks(actor):
        abort(404)
    today = date.today().isoformat()
    tasks = queries.list_tasks(get_db(), actor)
    groups = {
        "open": [t for t in tasks if t["status"] in OPEN],
        "done": [t for t in tasks if t["status"] not in OPEN],
    }
    forms_by_task = {
        task["id"]: form if task["id"] == answering else event_form(forms.TASK_ANSWER, None, {})
        for task in groups["open"]
    }
    return render_template(
        "tasks/index.html",
        groups=groups,
        forms_by_task=forms_by_task,
        fields=forms.TASK_ANSWER,
        today=today,
    ), status


@bp.get("/tasks")
@login_required
def index() -> Any:
    return _portal()


@bp.post("/tasks/<id:task_id>")
@login_required
def answer(task_id: int) -> Any:
    if not queries.answers_tasks(current_user.user):
        abort(404)
    form = event_form(forms.TASK_ANSWER, request.form, {})
    if not form.validate():  # CSRF: the fields are checked by the services
        abort(400)
    data = payload(forms.TASK_ANSWER, form)
    try:
        body = forms.clean(forms.TASK_ANSWER, data)
        respond(get_db(), current_user.user, task_id, body["action"], body.get("note", ""))
    except ValidationError as error:
        show_errors(form, error.errors)
        return _portal(task_id, form, 422)
    except NotFound:
        abort(404)
    except (Conflict, EventNotAllowed, PermissionDenied) as error:
        flash(error.message, "error")
        return _portal(task_id, form, 409)
    flash(_("Answer recorded: %(action)s.", action=label("task_action", body["action"])), "success")
    return redirect(url_for("tasks.index"))
