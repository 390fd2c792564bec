"""Administrative units and the partner agencies at them, with their focal points.

Everyone who administers sees the 2025 tree (a province administrator its province) and the
older units; only a national administrator adds an older unit. A province administrator
manages the agencies of its province's units; any other unit answers 404."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from casework.errors import ValidationError
from casework.services import unit_queries, units
from casework.services.forms import FieldSpec
from web import get_db
from web.admin.routes import admin_only, bp
from web.forms import payload, record_form, show_errors


def _form(fields: Sequence[FieldSpec], values: dict[str, Any] | None = None) -> FlaskForm:
    """A form drawn from `fields` by the one form builder, with CSRF; what was posted, or
    `values` to start from."""
    fields_form = record_form(fields, {}, {})
    form_class = type("AdminForm", (FlaskForm, fields_form), {})
    posted = request.form if request.method == "POST" else None
    return form_class(formdata=posted, data=values or {})  # type: ignore[no-any-return]


def _send(
    form: FlaskForm, fields: Sequence[FieldSpec], command: Any
) -> tuple[bool, dict[str, str]]:
    """Check CSRF (400 without it), run `command(data)`; (done, problems not at a field)."""
    if not form.validate():  # CSRF only: the fields are checked by the service's clean()
        abort(400, description="the form's security token is missing or stale")
    try:
        command(payload(fields, form))
    except ValidationError as error:
        return False, show_errors(form, error.errors)
    return True, {}


def _page(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 6 else 1


@bp.get("/units")
@admin_only
def units_index() -> Any:
    actor = current_user.user
    province = request.args.get("province") or None
    text = request.args.get("q", "")[:100]
    tree = unit_queries.units_tree(get_db(), actor, province, text, _page(request.args.get("page")))
    return render_template(
        "admin/units.html",
        tree=tree,
        older=unit_queries.older_units(get_db(), actor),
        may_add=unit_queries.administers(actor, None),
    )


@bp.route("/units/new", methods=["GET", "POST"])
@admin_only
def unit_new() -> Any:
    actor = current_user.user
    if not unit_queries.administers(actor, None):
        abort(403)
    form = _form(units.UNIT_FIELDS)
    problems: dict[str, str] = {}
    if request.method == "POST":
        done, problems = _send(
            form,
            units.UNIT_FIELDS,
            lambda data: units.add_older_unit(get_db(), actor, data),
        )
        if done:
            flash(_("The unit was added."), "success")
            return redirect(url_for("admin.units_index", _anchor="older"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/units_new.html", form=form, fields=units.UNIT_FIELDS, problems=problems
    ), status


@bp.route("/units/<code>/agencies", methods=["GET", "POST"])
@admin_only
def agencies(code: str) -> Any:
    db, actor = get_db(), current_user.user
    view = unit_queries.unit_agencies(db, actor, code)  # another province's unit: 404
    form = _form(units.AGENCY_FIELDS)
    problems: dict[str, str] = {}
    if request.method == "POST":
        done, problems = _send(
            form, units.AGENCY_FIELDS, lambda data: units.add_agency(db, actor, code, data)
        )
        if done:
            flash(_("The agency was added."), "success")
            return redirect(url_for("admin.agencies", code=code))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/agencies.html", view=view, form=form, fields=units.AGENCY_FIELDS, problems=problems
    ), status


def _agency(agency_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The unit's view and the agency in it; 404 when out of scope or unknown."""
    db, actor = get_db(), current_user.user
    unit_id = unit_queries.agency_unit(db, actor, agency_id)
    view = unit_queries.unit_agencies(db, actor, unit_id=unit_id)
    agency = next(a for a in view["agencies"] if a["id"] == agency_id)
    return view, agency


@bp.route("/agencies/<id:agency_id>", methods=["GET", "POST"])
@admin_only
def agency_edit(agency_id: int) -> Any:
    db, actor = get_db(), current_user.user
    view, agency = _agency(agency_id)
    form = _form(units.AGENCY_FIELDS, {"kind": agency["kind"], "name": agency["name"]})
    problems: dict[str, str] = {}
    if request.method == "POST":
        done, problems = _send(
            form, units.AGENCY_FIELDS, lambda data: units.change_agency(db, actor, agency_id, data)
        )
        if done:
            flash(_("The agency was saved."), "success")
            return redirect(url_for("admin.agencies", code=view["unit"]["code"]))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/agencies_edit.html",
        view=view,
        agency=agency,
        form=form,
        fields=units.AGENCY_FIELDS,
        problems=problems,
    ), status


@bp.post("/agencies/<id:agency_id>/delete")
@admin_only
def agency_delete(agency_id: int) -> Any:
    db, actor = get_db(), current_user.user
    view, agency = _agency(agency_id)
    if not FlaskForm().validate():
        abort(400, description="the form's security token is missing or stale")
    try:
        units.remove_agency(db, actor, agency_id)
    except ValidationError:
        uses = agency["uses"]
        flash(
            _(
                "%(name)s cannot be deleted: %(users)s account(s) and %(tasks)s task(s) "
                "refer to it. Rename it instead.",
                name=agency["name"],
                users=uses["users"],
                tasks=uses["tasks"],
            ),
            "error",
        )
    else:
        flash(_("The agency %(name)s was deleted.", name=agency["name"]), "success")
    return redirect(url_for("admin.agencies", code=view["unit"]["code"]))


def _focal_point_page(
    view: dict[str, Any],
    agency: dict[str, Any],
    point: dict[str, Any] | None,
    command: Callable[[dict[str, Any]], Any],
    saved: str,
) -> Any:
    """A focal point's form, new (`point` None) or to edit: sent through `command`, then
    back to the unit's agencies with `saved`, or the form again with its problems."""
    values = (
        None if point is None else {k: point[k] for k in ("name", "position", "phone", "email")}
    )
    form = _form(units.FOCAL_POINT_FIELDS, values)
    problems: dict[str, str] = {}
    if request.method == "POST":
        done, problems = _send(form, units.FOCAL_POINT_FIELDS, command)
        if done:
            flash(saved, "success")
            return redirect(url_for("admin.agencies", code=view["unit"]["code"]))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/agencies_focal_point.html",
        view=view,
        agency=agency,
        point=point,
        form=form,
        fields=units.FOCAL_POINT_FIELDS,
        problems=problems,
    ), status


@bp.route("/agencies/<id:agency_id>/focal-points/new", methods=["GET", "POST"])
@admin_only
def focal_point_new(agency_id: int) -> Any:
    db, actor = get_db(), current_user.user
    view, agency = _agency(agency_id)
    return _focal_point_page(
        view,
        agency,
        None,
        lambda data: units.add_focal_point(db, actor, agency_id, data),
        _("The focal point was added."),
    )


def _focal_point(point_id: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    db, actor = get_db(), current_user.user
    agency_id = unit_queries.focal_point_agency(db, actor, point_id)  # 404 out of scope
    view, agency = _agency(agency_id)
    point = next(p for p in agency["focal_points"] if p["id"] == point_id)
    return view, agency, point


@bp.route("/focal-points/<id:point_id>", methods=["GET", "POST"])
@admin_only
def focal_point_edit(point_id: int) -> Any:
    db, actor = get_db(), current_user.user
    view, agency, point = _focal_point(point_id)
    return _focal_point_page(
        view,
        agency,
        point,
        lambda data: units.change_focal_point(db, actor, point_id, data),
        _("The focal point was saved."),
    )


@bp.post("/focal-points/<id:point_id>/delete")
@admin_only
def focal_point_delete(point_id: int) -> Any:
    db, actor = get_db(), current_user.user
    view, _agency_view, point = _focal_point(point_id)
    if not FlaskForm().validate():
        abort(400, description="the form's security token is missing or stale")
    units.remove_focal_point(db, actor, point_id)
    flash(_("%(name)s was removed from the focal points.", name=point["name"]), "success")
    return redirect(url_for("admin.agencies", code=view["unit"]["code"]))
