"""The actions on a case in the browser: each workflow event's form, drawn from its fields.

GET shows the form of an event the user may fire now; POST sends what was typed through the
same services and validation as the API. Bad input shows the form again with the messages
next to the fields and nothing written; a case changed meanwhile keeps what was typed and
says who changed it.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from casework.errors import Conflict, EventNotAllowed, PermissionDenied, ValidationError
from casework.services import cases, queries
from casework.services.forms import Kind, event_spec
from web import get_db
from web.cases.routes import changed_since, opened_at
from web.forms import event_form, option_names, payload, show_errors
from web.labels import label

bp = Blueprint("actions", __name__)


def _rows(fields: Any) -> dict[str, int]:
    """How many rows each repeatable list shows: what was posted, plus one if asked."""
    rows: dict[str, int] = {}
    for spec in fields:
        if spec.type.kind != Kind.LIST or spec.type.item.kind != Kind.RECORD:
            continue
        indexes = {
            int(m.group(1))
            for key in request.form
            if (m := re.match(rf"{spec.name}-(\d+)-", key)) and int(m.group(1)) < 1000
        }
        count = max(indexes, default=-1) + 1
        if request.form.get("add_row") == spec.name:
            count += 1
        rows[spec.name] = max(count, 1)
    return rows


@bp.route("/cases/<id:case_id>/actions/<event>", methods=["GET", "POST"])
@login_required
def act(case_id: int, event: str) -> Any:
    db, actor = get_db(), current_user.user
    view = queries.get_case(db, actor, case_id)  # out of scope: 404
    if event not in view["available_events"]:
        abort(404)
    spec = event_spec(event, view["workflow"])
    posted = request.method == "POST"
    options = queries.field_options(db, actor, case_id, option_names(spec.fields))
    form = event_form(spec.fields, request.form if posted else None, _rows(spec.fields), options)
    problems: dict[str, str] = {}
    conflict: list[dict[str, Any]] | None = None
    refused = False
    if not posted:
        form.version.data = str(view["version"])
    elif request.form.get("add_row"):
        pass  # one more row, nothing sent
    elif not form.validate():  # CSRF only: the fields are checked by the event's own clean()
        abort(400, description=str(form.errors)[:200])
    else:
        version = int(form.version.data) if (form.version.data or "").isdigit() else -1
        try:
            cases.fire_event(db, actor, case_id, event, version, payload(spec.fields, form))
        except ValidationError as error:
            refused, problems = True, show_errors(form, error.errors)
        except Conflict as error:
            conflict = changed_since(case_id)
            form.version.data = str(error.current_version or view["version"])
        except EventNotAllowed as error:
            refused, problems = True, {"": error.message}
        except PermissionDenied:
            abort(403)
        else:
            flash(_("Done: %(action)s.", action=label("event", event)), "success")
            return redirect(url_for("cases.detail", case_id=case_id))
    return render_template(
        "cases/action.html",
        case=view,
        event=event,
        spec=spec,
        form=form,
        problems=problems,
        conflict=conflict,
        opened_at=opened_at(conflict is not None),
    ), (409 if conflict is not None else 422 if refused else 200)
