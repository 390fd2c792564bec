"""The supervisor's dashboard: what in the commune (chair) or the province (province
officer) is late or about to be, each count a link to the cases behind it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from casework.errors import ValidationError
from casework.services import charts, dashboard
from web import get_db
from web.inputs import only_args

bp = Blueprint("dashboard", __name__)


@bp.app_context_processor
def dashboard_link() -> dict[str, Any]:
    def supervises() -> bool:
        return bool(current_user.is_authenticated and dashboard.supervises(current_user.user))

    return {"supervises": supervises}


def _overview() -> tuple[dict[str, Any], str | None]:
    actor = current_user.user
    if not dashboard.supervises(actor):
        abort(404)
    only_args("hours")
    problem = None
    try:
        hours = dashboard.horizon_hours(request.args.get("hours"))
    except ValidationError as error:
        hours, problem = dashboard.DEFAULT_HORIZON_HOURS, error.errors.get("hours")
    return dashboard.overview(get_db(), actor, hours), problem


def _table(view: dict[str, Any]) -> list[list[Any]]:
    """The table by commune or officer, as rows of cells (a header first): counts only,
    nothing about a child."""
    names = {
        "unassigned": _("Waiting for assignment"),
        "overdue": _("Overdue"),
        "due_soon": _("Due within %(hours)s hours", hours=view["hours"]),
        "escalated": _("Escalated to the province"),
        "approval": _("Plans waiting for approval"),
    }
    first = _("Commune") if view["by"] == "commune" else _("Officer")
    rows: list[list[Any]] = [[first, *(names[t] for t in dashboard.TILES)]]
    for row in view["rows"]:
        rows.append([row["name"] or _("Not assigned"), *(row[t] for t in dashboard.TILES)])
    rows.append([_("Total"), *(view["tiles"][t] for t in dashboard.TILES)])
    return rows


@bp.get("/dashboard.csv")
@login_required
def csv_table() -> Any:
    import csv
    import io

    view, problem = _overview()
    if problem:
        abort(422, description=problem)
    out = io.StringIO()
    csv.writer(out).writerows(_table(view))
    # A byte-order mark, so that spreadsheet programs read the Vietnamese as UTF-8.
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=overview.csv"},
    )


@bp.get("/dashboard.xlsx")
@login_required
def xlsx_table() -> Any:
    import io

    from openpyxl import Workbook

    view, problem = _overview()
    if problem:
        abort(422, description=problem)
    book = Workbook()
    sheet = book.active
    sheet.title = _("Overview")[:31]
    for row in _table(view):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename=overview.xlsx"},
    )


@bp.get("/dashboard/charts/<name>.svg")
@login_required
def chart(name: str) -> Any:
    """One chart as an SVG image, in the reader's language (the page shows its numbers in a
    table beside it)."""
    from web.dashboard import charts as drawing

    if name not in drawing.CHARTS or not dashboard.supervises(current_user.user):
        abort(404)
    only_args()
    answer = Response(
        drawing.DRAW[name](charts.figures(get_db(), current_user.user)[name]),
        mimetype="image/svg+xml",
    )
    answer.headers["Content-Security-Policy"] = drawing.SVG_POLICY
    return answer


@bp.get("/dashboard")
@login_required
def index() -> Any:
    view, problem = _overview()
    return render_template(
        "dashboard/index.html",
        view=view,
        tiles=dashboard.TILES,
        problem=problem,
        charts=charts.figures(get_db(), current_user.user),
    ), (422 if problem else 200)
