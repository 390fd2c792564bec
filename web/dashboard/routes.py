"""The supervisor's dashboard: what in the commune (chair) or the province (province
officer) is late or about to be, each count a link to the cases behind it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from casework.errors import ValidationError
from casework.services import dashboard
from web import get_db
from web.inputs import only_args

bp = Blueprint("dashboard", __name__)


@bp.app_context_processor
def dashboard_link() -> dict[str, Any]:
    def supervises() -> bool:
        return bool(current_user.is_authenticated and dashboard.supervises(current_user.user))

    return {"supervises": supervises}


@bp.get("/dashboard")
@login_required
def index() -> Any:
    actor = current_user.user
    if not dashboard.supervises(actor):
        abort(404)
    only_args("hours")
    problem = None
    try:
        hours = dashboard.horizon_hours(request.args.get("hours"))
    except ValidationError as error:
        hours, problem = dashboard.DEFAULT_HORIZON_HOURS, error.errors.get("hours")
    view = dashboard.overview(get_db(), actor, hours)
    return render_template(
        "dashboard/index.html", view=view, tiles=dashboard.TILES, problem=problem
    ), (422 if problem else 200)
