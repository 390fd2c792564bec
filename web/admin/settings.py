"""Administrators' pages for a province's calendar and workflow settings, and the workflow
diagram. Views only: every check and every write is in casework/services/settings.py
(a province administrator's other provinces are refused there, 403)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from casework.errors import Conflict, NotFound, PermissionDenied, ValidationError
from casework.services import settings
from casework.services.forms import FieldSpec, Kind
from web import get_db
from web.admin.routes import admin_only, bp
from web.forms import event_form, payload, show_errors
from web.labels import cite, label, rung_label, state_label


def _province(code: str) -> dict[str, str]:
    """The province if the signed-in administrator runs it: 404 for no such province, 403
    for another province than a province administrator's own."""
    try:
        return settings.province_for(get_db(), current_user.user, code)
    except (NotFound, ValidationError):  # no such province
        abort(404)
    except PermissionDenied:
        abort(403)


def _rows(fields: tuple[FieldSpec, ...]) -> dict[str, int]:
    """How many rows each repeatable list shows: what was posted, plus one if asked."""
    rows: dict[str, int] = {}
    for spec in fields:
        if spec.type.kind != Kind.LIST or spec.type.item is None:
            continue
        if spec.type.item.kind != Kind.RECORD:
            continue
        indexes = {
            int(m.group(1))
            for key in request.form
            if (m := re.match(rf"{spec.name}-(\d+)-", key)) and int(m.group(1)) < 20
        }
        count = max(indexes, default=-1) + 1
        if request.form.get("add_row") == spec.name:
            count += 1
        rows[spec.name] = max(count, 1)
    return rows


# --- the province picker ----------------------------------------------------------------------


@bp.get("/provinces")
@admin_only
def provinces() -> Any:
    """A national administrator picks a province; a province administrator goes to its own."""
    own = settings.own_province(current_user.user)
    if own is not None:
        return redirect(url_for("admin.province_workflow", code=own))
    return render_template(
        "admin/settings_provinces.html",
        provinces=settings.administered_provinces(get_db(), current_user.user),
        workflows=settings.workflow_names(),
    )


# --- calendar -----------------------------------------------------------------------------


def _year() -> int:
    raw = request.args.get("year", "")
    if not raw:
        return settings.today().year
    if not re.fullmatch(r"[0-9]{4}", raw) or not 1990 <= int(raw) <= 2100:
        abort(404)
    return int(raw)


@bp.route("/provinces/<code>/calendar", methods=["GET", "POST"])
@admin_only
def province_calendar(code: str) -> Any:
    province = _province(code)
    db, actor = get_db(), current_user.user
    posted = request.method == "POST"
    form = event_form(settings.CALENDAR_DAY, request.form if posted else None, {})
    problems: dict[str, str] = {}
    status = 200
    year = _year()
    if posted:
        if not form.validate():  # CSRF only: the fields are checked by the service
            abort(400, description=str(form.errors)[:200])
        body = payload(settings.CALENDAR_DAY, form)
        try:
            added = settings.add_calendar_day_from(db, province["code"], body, actor)
        except ValidationError as error:
            problems, status = show_errors(form, error.errors), 422
        else:
            flash(
                _(
                    "%(day)s added to the calendar: %(kind)s.",
                    day=added["date"],
                    kind=label("day_kind", added["kind"]),
                ),
                "success",
            )
            return redirect(
                url_for("admin.province_calendar", code=province["code"], year=added["date"][:4])
            )
    view = settings.calendar_year(db, actor, province["code"], year)
    return render_template(
        "admin/calendar.html",
        province=province,
        view=view,
        form=form,
        fields=settings.CALENDAR_DAY,
        problems=problems,
        years=range(year - 2, year + 3),
        **HELPERS,
    ), status


@bp.post("/provinces/<code>/calendar/<day>/remove")
@admin_only
def remove_calendar_day(code: str, day: str) -> Any:
    from flask_wtf import FlaskForm

    province = _province(code)
    if not FlaskForm(formdata=request.form).validate():  # CSRF
        abort(400)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        abort(404)
    try:
        settings.remove_calendar_day(get_db(), province["code"], when, actor=current_user.user)
    except NotFound:
        abort(404)
    flash(_("%(day)s removed from the calendar.", day=when.isoformat()), "success")
    return redirect(url_for("admin.province_calendar", code=province["code"], year=when.year))


# --- workflow settings ---------------------------------------------------------------------


def _settings(code: str, workflow: str, rule: str | None = None) -> dict[str, Any]:
    try:
        return settings.workflow_settings(get_db(), current_user.user, code, workflow, rule)
    except (NotFound, ValidationError):  # no such workflow or rule
        abort(404)
    except PermissionDenied:
        abort(403)


@bp.get("/provinces/<code>/workflow")
@admin_only
def province_workflow(code: str) -> Any:
    province = _province(code)
    workflow = request.args.get("workflow", "case")
    view = _settings(province["code"], workflow)
    return render_template(
        "admin/workflow.html",
        province=province,
        view=view,
        workflows=settings.workflow_names(),
        **HELPERS,
    )


def _version_seen() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() else None


@bp.route("/provinces/<code>/workflow/<workflow>/<rule>", methods=["GET", "POST"])
@admin_only
def workflow_rule(code: str, workflow: str, rule: str) -> Any:
    province = _province(code)
    view = _settings(province["code"], workflow, rule)
    entry = view["rules"][0]
    posted = request.method == "POST"
    fields = settings.RULE_VERSION
    form = event_form(fields, request.form if posted else None, _rows(fields))
    withdraw = event_form(settings.WITHDRAWAL, None, {})
    problems: dict[str, str] = {}
    status = 200
    if not posted:
        form.version.data = str(entry["latest_version"])
        form.effective_on.data = view["today"].isoformat()
    elif request.form.get("add_row"):
        pass  # one more row of the ladder, nothing sent
    elif not form.validate():  # CSRF only
        abort(400, description=str(form.errors)[:200])
    else:
        done, problems, status = _save(
            form,
            entry,
            lambda: settings.add_version_from(
                get_db(),
                province["code"],
                workflow,
                rule,
                payload(fields, form),
                _version_seen(),
                current_user.user,
            ),
            lambda added: _(
                "Version %(n)s saved: in force from %(day)s.",
                n=added["version"],
                day=added["effective_on"],
            ),
        )
        if done:
            return redirect(_rule_url(province["code"], workflow, rule))
    withdraw.version.data = str(entry["latest_version"])
    withdraw.withdraw_on.data = view["today"].isoformat()
    return _rule_page(province, view, entry, form, withdraw, problems, {}, status)


def _save(
    form: Any,
    entry: dict[str, Any],
    command: Callable[[], dict[str, Any]],
    saved: Callable[[dict[str, Any]], str],
) -> tuple[bool, dict[str, str], int]:
    """Send a new version (or a withdrawal): done, with `saved` flashed; or the problems next
    to the form's fields (422); or a version someone saved meanwhile (409), what was typed
    kept and the form now based on the newest version."""
    try:
        added = command()
    except ValidationError as error:
        return False, show_errors(form, error.errors), 422
    except Conflict as error:
        form.version.data = str(entry["latest_version"])
        return False, {"": _stale_message(error)}, 409
    flash(saved(added), "success")
    return True, {}, 200


def _rule_page(
    province: dict[str, Any],
    view: dict[str, Any],
    entry: dict[str, Any],
    form: Any,
    withdraw: Any,
    problems: dict[str, str],
    withdraw_problems: dict[str, str],
    status: int,
) -> Any:
    return render_template(
        "admin/workflow_rule.html",
        province=province,
        view=view,
        entry=entry,
        form=form,
        fields=settings.RULE_VERSION,
        withdraw=withdraw,
        withdraw_fields=settings.WITHDRAWAL,
        withdraw_problems=withdraw_problems,
        problems=problems,
        **HELPERS,
    ), status


def _rule_url(code: str, workflow: str, rule: str) -> str:
    return url_for("admin.workflow_rule", code=code, workflow=workflow, rule=rule)


def _stale_message(error: Conflict) -> str:
    return _(
        "Someone saved a new version while you were reading (now version %(n)s). "
        "Read the settings below again; what you typed is kept.",
        n=error.current_version or "?",
    )


@bp.post("/provinces/<code>/workflow/<workflow>/<rule>/withdraw")
@admin_only
def withdraw_rule(code: str, workflow: str, rule: str) -> Any:
    province = _province(code)
    view = _settings(province["code"], workflow, rule)
    entry = view["rules"][0]
    withdraw = event_form(settings.WITHDRAWAL, request.form, {})
    if not withdraw.validate():
        abort(400, description=str(withdraw.errors)[:200])
    done, problems, status = _save(
        withdraw,
        entry,
        lambda: settings.withdraw_from(
            get_db(),
            province["code"],
            workflow,
            rule,
            payload(settings.WITHDRAWAL, withdraw),
            _version_seen(),
            current_user.user,
        ),
        lambda added: _(
            "Version %(n)s saved: the national rule applies again from %(day)s.",
            n=added["version"],
            day=added["effective_on"],
        ),
    )
    if done:
        return redirect(_rule_url(province["code"], workflow, rule))
    form = event_form(settings.RULE_VERSION, None, {})
    form.version.data = str(entry["latest_version"])
    form.effective_on.data = view["today"].isoformat()
    return _rule_page(province, view, entry, form, withdraw, {}, problems, status)


# --- how values are shown ------------------------------------------------------------------


def rule_name(rule: str) -> str:
    """A rule's name; an agency's clock with its agency ("Answer to the referral — police")."""
    name = label("rule", rule)
    if "." in rule:
        return f"{name} — {label('agency', rule.split('.', 1)[1])}"
    return name


def show_duration(duration: int | None, unit: str | None) -> str:
    if duration is None:
        return "—"
    return f"{duration} {label('duration_unit', unit)}"


def timing(entry: dict[str, Any]) -> str:
    """The national rule's time limit: a duration, or a date set by the decision or plan."""
    default = entry["default"]
    if entry["anchor"] == "event_date":
        return _("the date set in the decision")
    if not default["duration"]:
        return _("the date set in the plan")
    return show_duration(default["duration"], default["unit"])


def show_rung(rung: dict[str, Any]) -> str:
    name = label("rung_kind", rung["name"]) if rung["name"] in RUNG_NAMES else rung["name"]
    if rung.get("at_fraction") is not None:
        when = _("at %(n)s%% of the time", n=round(rung["at_fraction"] * 100))
    else:
        when = _(
            "%(n)s %(unit)s after the due time",
            n=rung["offset"],
            unit=label("duration_unit", rung["offset_unit"]),
        )
    told = ", ".join(label("recipient", r) for r in rung.get("notify") or ())
    return f"{name}: {when} → {told}" if told else f"{name}: {when}"


def show_value(field: str, value: Any, unit: str | None = None) -> str:
    """One setting's value as people read it (a duration in `unit`)."""
    if value in (None, "", []):
        return "—"
    if field in ("duration", "high_risk_duration"):
        return show_duration(value, unit or "hours")
    if field == "unit":
        return label("duration_unit", value)
    if field == "assignee_role":
        return label("role", value)
    if field == "ladder":
        return "; ".join(show_rung(rung) for rung in value)
    if field == "legal_source":
        return cite(value)
    return str(value)


FIELD_KEYS = {"unit": "duration_unit"}
RUNG_NAMES = ("reminded", "overdue", "escalated")


def format_day(day: date) -> str:
    """A date with its weekday: "Thứ Năm, 26/11/2026"."""
    from flask_babel import format_date

    return f"{format_date(day, 'EEEE').capitalize()}, {day.strftime('%d/%m/%Y')}"


def field_name(field: str) -> str:
    return label("field", FIELD_KEYS.get(field, field))


HELPERS = {
    "rule_name": rule_name,
    "show_value": show_value,
    "show_duration": show_duration,
    "show_rung": show_rung,
    "field_name": field_name,
    "rung_label": rung_label,
    "format_day": format_day,
    "timing": timing,
}


# --- the workflow diagram ------------------------------------------------------------------

NODE_W, NODE_H, ROW = 250, 40, 92
LANE = 24


def _text_width(text: str) -> float:
    """About how wide a label is at the drawing's 13 px (no font metrics on the server)."""
    return len(text) * 6.8


def _geometry(diagram: dict[str, Any]) -> dict[str, Any]:
    """Boxes and paths for the SVG: states in rows; an edge to the next row goes straight
    down (its label beside it), one that skips rows runs in a lane on the left (its label
    left of the lane), one that runs back to an earlier row in a lane on the right (its
    label right of every lane, level with the step it leaves)."""
    graph, layout = diagram["graph"], diagram["layout"]
    kinds: list[tuple[Any, str, str]] = []  # (edge, kind, label)
    for index, edge in enumerate(graph.edges):
        if edge.dest is None or edge.dest == edge.source:
            continue
        text = label("event", edge.event)
        if edge.when or edge.unless:
            text += " (" + (_("serious harm") if edge.when else _("otherwise")) + ")"
        rows = layout.position[edge.dest][0] - layout.position[edge.source][0]
        kind = "back" if index in layout.back else "down" if rows == 1 else "skip"
        kinds.append((edge, kind, text))
    widest = max(len(row) for row in layout.layers)
    width_states = widest * NODE_W + (widest - 1) * 40
    skip_labels = max((_text_width(t) for _e, k, t in kinds if k == "skip"), default=0)
    skips = sum(1 for _e, k, _t in kinds if k == "skip")
    left = 10 + skip_labels + 8 + skips * LANE + 14
    boxes = {}
    for state, (row, column) in layout.position.items():
        count = len(layout.layers[row])
        offset = (width_states - (count * NODE_W + (count - 1) * 40)) / 2
        x = left + offset + column * (NODE_W + 40)
        y = 20 + row * ROW
        boxes[state] = {"x": x, "y": y, "cx": x + NODE_W / 2, "cy": y + NODE_H / 2}
    down_labels = max((_text_width(t) for _e, k, t in kinds if k == "down"), default=0)
    right = left + width_states
    first_right_lane = max(right + 14, left + width_states / 2 + 8 + down_labels + 16)
    backs = sum(1 for _e, k, _t in kinds if k == "back")
    back_label_x = first_right_lane + backs * LANE + 10
    edges = []
    right_lane = 0
    leaving: dict[str, int] = {}

    def span(edge: Any) -> int:
        return int(layout.position[edge.dest][0] - layout.position[edge.source][0])

    skipping = sorted((e for e, k, _t in kinds if k == "skip"), key=span)
    skip_order = {id(edge): order for order, edge in enumerate(skipping)}
    outer_lane = left - 14 - max(skips - 1, 0) * LANE
    for edge, kind, text in kinds:
        a, b = boxes[edge.source], boxes[edge.dest]
        if kind == "down":
            x1, x2 = a["cx"], b["cx"]
            y1, y2 = a["y"] + NODE_H, b["y"]
            path = f"M{x1},{y1} L{x2},{y2}"
            at = {"x": (x1 + x2) / 2 + 8, "y": (y1 + y2) / 2 + 4, "anchor": "start"}
        elif kind == "skip":
            # Shorter spans run in the inner lanes, so that no lane crosses another's ends.
            lane = left - 14 - skip_order[id(edge)] * LANE
            repeat = leaving.get(edge.source, 0)
            leaving[edge.source] = repeat + 1
            y1, y2 = a["cy"] - 4 + repeat * 8, b["cy"] - 6
            path = f"M{a['x']},{y1} H{lane} V{y2} H{b['x']}"
            at = {"x": outer_lane - 8, "y": (y1 + y2) / 2, "anchor": "end"}
        else:
            lane = first_right_lane + right_lane * LANE
            right_lane += 1
            y1, y2 = a["cy"] + 6, b["cy"] - 6
            path = f"M{a['x'] + NODE_W},{y1} H{lane} V{y2} H{b['x'] + NODE_W}"
            repeat = leaving.get(edge.source, 0)
            leaving[edge.source] = repeat + 1
            at = {"x": back_label_x, "y": y1 + 4 + repeat * 16, "anchor": "start"}
        edges.append({"path": path, "text": text, "back": kind == "back", **at})
    back_labels = max((_text_width(t) for _e, k, t in kinds if k == "back"), default=0)
    return {
        "boxes": [
            {
                **box,
                "state": state,
                "text": state_label(state),
                "final": state in graph.final,
                "initial": state == graph.initial,
            }
            for state, box in boxes.items()
        ],
        "edges": edges,
        "width": round(back_label_x + back_labels + 30),
        "height": 20 + len(layout.layers) * ROW,
        "node_w": NODE_W,
        "node_h": NODE_H,
    }


@bp.get("/workflows/<name>/diagram")
@admin_only
def workflow_diagram(name: str) -> Any:
    try:
        diagram = settings.workflow_diagram(name)
    except NotFound:
        abort(404)
    return render_template(
        "admin/workflow_diagram.html",
        diagram=diagram,
        drawing=_geometry(diagram),
        label=label,
    )
