"""Case pages: the list (filters, search, keyset pages) in the user's scope, one case (its
summary, clocks, actions, notes, attachments and history), its print view, my work."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from casework.errors import ValidationError
from casework.services import attachments, dashboard, notes, queries
from casework.services.forms import ASSIGN, FieldSpec, Kind
from web import get_db
from web.forms import event_form, option_names, payload, show_errors
from web.inputs import choice_arg, only_args
from workflows import get_workflow

bp = Blueprint("cases", __name__)

#: The list's query parameters (kept when one goes into a case and back).
LIST_ARGS = (
    "state",
    "status",
    "overdue",
    "due_before",
    "assignee",
    "abuse_type",
    "risk",
    "commune",
    "q",
    "tile",
    "hours",
    "after",
)
#: The upload route alone accepts a body this large (the file and the form around it).
UPLOAD_BODY_MAX = attachments.MAX_BYTES + 64 * 1024


@bp.record_once
def _allow_uploads(state: BlueprintSetupState) -> None:
    """The app-wide body limit is small (config MAX_CONTENT_LENGTH); an attachment's upload
    may be larger — a file, sent as multipart, on the upload route; any other body there
    keeps the app-wide limit. Set before the input gate reads the form (it runs first)."""
    app = state.app

    def larger_body_for_uploads() -> None:
        if request.endpoint == "cases.upload" and request.mimetype == "multipart/form-data":
            request.max_content_length = UPLOAD_BODY_MAX

    app.before_request_funcs.setdefault(None, []).insert(0, larger_body_for_uploads)


@bp.app_context_processor
def work_link() -> dict[str, Any]:
    """Pages link "my work" for those who have one (officers, chairs)."""

    def has_work() -> bool:
        return bool(current_user.is_authenticated and queries.work_sections(current_user.user))

    return {"has_work": has_work}


def _date_arg(name: str) -> date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError({name: "must be a date (YYYY-MM-DD)"}) from None


@bp.get("/")
@login_required
def index() -> Any:
    actor = current_user.user
    if queries.answers_tasks(actor):  # an agency lands on its tasks
        return redirect(url_for("tasks.index"))
    if queries.may_administer(actor):  # an administrator sees no case: lands on its pages
        return redirect(url_for("admin.index"))
    only_args(*LIST_ARGS)
    workflow = get_workflow("case")
    choices = queries.list_choices(get_db(), actor)
    abuse_types = _choices_of("abuse_types")
    filters: dict[str, Any] = {
        "state": choice_arg("state", workflow.states),
        "status": choice_arg("status", ("open", "closed")),
        "overdue": choice_arg("overdue", ("1",)) == "1",
        "due_before": _date_arg("due_before"),
        "assignee": choice_arg(
            "assignee", [queries.UNASSIGNED, *(u for u, _n in choices["officers"])]
        ),
        "abuse_type": choice_arg("abuse_type", abuse_types),
        "risk": choice_arg("risk", _choices_of("risk_level")),
        "commune": choice_arg("commune", [c for c, _n in choices["communes"]]),
        "search": (request.args.get("q") or "").strip()[:200] or None,
        "tile": choice_arg("tile", dashboard.TILES),
        "hours": dashboard.horizon_hours(request.args.get("hours")),
    }
    page = queries.case_page(get_db(), actor, after=request.args.get("after") or None, **filters)
    contacts = (
        queries.find_contacts(get_db(), actor, filters["search"]) if filters["search"] else []
    )
    # Going into a case and back returns to this very page of this very list.
    session["case_list"] = {k: v for k, v in request.args.items() if k in LIST_ARGS and v}
    query = {k: v for k, v in request.args.items() if k in LIST_ARGS and k != "after" and v}
    return render_template(
        "cases/index.html",
        cases=page["cases"],
        next_cursor=page["next"],
        states=workflow.states,
        filters=filters,
        query=query,
        untiled={k: v for k, v in query.items() if k not in ("tile", "hours")},
        choices=choices,
        abuse_types=abuse_types,
        risks=_choices_of("risk_level"),
        contacts=contacts,
        may_search_contacts=queries.may_search_contacts(actor),
        sees_casework=queries.sees_casework(actor),
        paged=bool(request.args.get("after")),
        bulk=_bulk_form() if queries.may_assign(actor) and page["cases"] else None,
        officers=dashboard.assignable_officers(get_db(), actor)
        if queries.may_assign(actor)
        else [],
    )


def _bulk_form() -> FlaskForm:
    return FlaskForm()  # its CSRF token only: the cases and the officer are read below


#: What the bulk reassignment's page says of a case it could not take.
def _bulk_problem(problem: str | None, commune: str | None) -> str:
    return {
        None: "",
        "not_found": _("This case is not in your area (or no longer exists)."),
        "closed": _("This case is closed."),
        "stale": _("This case changed since the list was shown: open the list again."),
        "other_commune": _(
            "The officer does not work in %(commune)s, this case's commune.", commune=commune
        ),
        "changed": _("This case changed while the others were reassigned: it was not."),
    }[problem]


@bp.post("/cases/reassign")
@login_required
def reassign() -> Any:
    """Name one officer for the cases chosen on the list. Checked as a whole first: if any
    case cannot go to the officer, nothing is written and the page names each such case;
    then each case goes through the single reassignment (audited, clocks untouched)."""
    from casework.errors import PermissionDenied
    from casework.services import cases

    db, actor = get_db(), current_user.user
    if not queries.may_assign(actor):
        abort(404)
    form = _bulk_form()
    if not form.validate():
        abort(400, description=str(form.errors)[:200])
    problems: dict[str, str] = {}
    chosen: list[tuple[int, int]] = []
    for raw in request.form.getlist("case"):
        case_id, _sep, version = raw.partition(":")
        if not (case_id.isdigit() and version.isdigit()) or len(raw) > 24:
            problems["case"] = _("A chosen case could not be read: choose again on the list.")
            break
        chosen.append((int(case_id), int(version)))
    assignee = (request.form.get("assignee") or "").strip()[:80]
    result: dict[str, Any] | None = None
    if not problems:
        try:
            result = cases.reassign_many(db, actor, chosen, assignee)
        except ValidationError as error:
            if "case" in error.errors:
                problems["case"] = _("Choose at least one case (at most %(n)s).", n=cases.BULK_MAX)
            if "assignee" in error.errors:
                problems["assignee"] = _("Choose the officer responsible.")
        except PermissionDenied:
            abort(404)
    if result and not result["refused"] and all(r["done"] for r in result["results"]):
        flash(
            _("Done: %(n)s cases reassigned.", n=len(result["results"])),
            "success",
        )
        return redirect(back_to_list())
    results = (result or {}).get("results", [])
    for entry in results:
        entry["message"] = _bulk_problem(entry["problem"], entry["commune"])
        entry["version"] = dict(chosen).get(entry["case_id"])
    refused = bool(result and result["refused"]) or bool(problems)
    return render_template(
        "cases/reassign.html",
        form=form,
        results=results,
        refused=refused,
        problems=problems,
        assignee=assignee,
        officers=dashboard.assignable_officers(db, actor),
        back=back_to_list(),
    ), (422 if refused else 409)


def _choices_of(field: str) -> tuple[str, ...]:
    """The allowed values of a report's or an event's choice field (its definition)."""
    from casework.services.intake import REPORT_FIELDS

    specs = list(REPORT_FIELDS) + [
        s for e in get_workflow("case").events.values() for s in e.fields
    ]
    for spec in specs:
        if spec.name == field:
            kind = spec.type.item if spec.type.kind == Kind.LIST else spec.type
            assert kind is not None
            return kind.choices
    return ()


def back_to_list() -> str:
    """The list as the user left it (filters and page)."""
    saved = session.get("case_list") or {}
    return url_for("cases.index", **{k: v for k, v in saved.items() if k in LIST_ARGS})


@bp.app_context_processor
def list_link() -> dict[str, Any]:
    return {"back_to_list": back_to_list}


NOTE_FIELDS: tuple[FieldSpec, ...] = notes.NOTE_FIELDS


def _note_form(formdata: Any = None) -> FlaskForm:
    return event_form(NOTE_FIELDS, formdata, {})


def _attachment_form(formdata: Any = None) -> FlaskForm:
    form = event_form(attachments.ATTACHMENT_FIELDS, formdata, {})
    return form


def _page(case_id: int, note_form: Any = None, upload_form: Any = None, status: int = 200) -> Any:
    view = queries.case_file(get_db(), current_user.user, case_id)
    return render_template(
        "cases/detail.html",
        case=view,
        note_form=note_form or _note_form(),
        note_fields=NOTE_FIELDS,
        upload_form=upload_form or _attachment_form(),
        upload_fields=attachments.ATTACHMENT_FIELDS,
        max_mib=attachments.MAX_BYTES // (1024 * 1024),
        assign_form=_assign_form(view),
        tasks_by_id={t["id"]: t for t in view["tasks"]},
    ), status


@bp.get("/cases/<id:case_id>")
@login_required
def detail(case_id: int) -> Any:
    only_args()
    return _page(case_id)


@bp.get("/cases/<id:case_id>/print")
@login_required
def print_view(case_id: int) -> Any:
    only_args()
    view = queries.case_file(get_db(), current_user.user, case_id, purpose="print")
    from datetime import UTC, datetime

    return render_template(
        "cases/print.html",
        case=view,
        tasks_by_id={t["id"]: t for t in view["tasks"]},
        printed_at=datetime.now(UTC).isoformat(),
    )


@bp.post("/cases/<id:case_id>/notes")
@login_required
def add_note(case_id: int) -> Any:
    form = _note_form(request.form)
    if not form.validate():  # CSRF only: the note is checked by its own clean()
        abort(400, description=str(form.errors)[:200])
    try:
        notes.add_note(get_db(), current_user.user, case_id, payload(NOTE_FIELDS, form))
    except ValidationError as error:
        show_errors(form, error.errors)
        return _page(case_id, note_form=form, status=422)
    flash(_("The note was added."), "success")
    return redirect(url_for("cases.detail", case_id=case_id, _anchor="notes"))


def _folder() -> Path:
    from config import INSTANCE_DIR

    return Path(current_app.config.get("ATTACHMENT_DIR") or INSTANCE_DIR / "attachments")


@bp.post("/cases/<id:case_id>/attachments")
@login_required
def upload(case_id: int) -> Any:
    form = _attachment_form(request.form)
    if not form.validate():  # CSRF only
        abort(400, description=str(form.errors)[:200])
    upload_file = request.files.get("file")
    content = upload_file.read(attachments.MAX_BYTES + 1) if upload_file else b""
    try:
        attachments.add_attachment(
            get_db(),
            current_user.user,
            case_id,
            payload(attachments.ATTACHMENT_FIELDS, form),
            (upload_file.filename or "") if upload_file else "",
            content,
            _folder(),
        )
    except ValidationError as error:
        left = show_errors(form, error.errors)
        form.file_errors = [left.pop("file")] if "file" in left else []  # type: ignore[attr-defined]
        return _page(case_id, upload_form=form, status=422)
    flash(_("The file was attached."), "success")
    return redirect(url_for("cases.detail", case_id=case_id, _anchor="attachments"))


@bp.get("/attachments/<id:attachment_id>")
@login_required
def download(attachment_id: int) -> Any:
    only_args()
    stored = attachments.open_attachment(get_db(), current_user.user, attachment_id, _folder())
    answer = send_file(
        stored.path,
        mimetype=stored.content_type,
        as_attachment=True,
        download_name=stored.filename,
        max_age=0,
    )
    answer.headers["X-Content-Type-Options"] = "nosniff"
    return answer


def _assign_form(view: dict[str, Any], formdata: Any = None) -> Any:
    if not view.get("may_assign"):
        return None
    form = event_form(ASSIGN[:1], formdata, {})
    if formdata is None:
        form.version.data = str(view["version"])
    return form


@bp.route("/cases/<id:case_id>/assign", methods=["GET", "POST"])
@login_required
def assign(case_id: int) -> Any:
    """Name (or change) the officer responsible: the commune chair and the province."""
    from casework.errors import Conflict, EventNotAllowed, PermissionDenied
    from casework.services import cases

    db, actor = get_db(), current_user.user
    view = queries.get_case(db, actor, case_id)  # out of scope: 404
    if not (queries.may_assign(actor) and view["state"] != "closed"):
        abort(404)
    posted = request.method == "POST"
    options = queries.field_options(db, actor, case_id, option_names(ASSIGN[:1]))
    form = event_form(ASSIGN[:1], request.form if posted else None, {}, options)
    problems: dict[str, str] = {}
    conflict: list[dict[str, Any]] | None = None
    status = 200
    if not posted:
        form.version.data = str(view["version"])
    elif not form.validate():
        abort(400, description=str(form.errors)[:200])
    else:
        version = int(form.version.data) if (form.version.data or "").isdigit() else -1
        try:
            cases.assign(db, actor, case_id, (form.assignee.data or "").strip(), version)
        except ValidationError as error:
            problems, status = show_errors(form, error.errors), 422
        except Conflict as error:
            conflict = changed_since(case_id)
            form.version.data = str(error.current_version or view["version"])
            status = 409
        except (EventNotAllowed, PermissionDenied) as error:
            problems, status = {"": str(error)}, 422
        else:
            flash(_("Done: %(action)s.", action=_("the officer responsible is named")), "success")
            return redirect(url_for("cases.detail", case_id=case_id))
    return render_template(
        "cases/assign.html",
        case=view,
        form=form,
        fields=ASSIGN[:1],
        problems=problems,
        conflict=conflict,
        opened_at=opened_at(conflict is not None),
    ), status


def opened_at(renewed: bool) -> str:
    """When the form was drawn (a hidden field): after a conflict, now (the user has seen
    what changed up to now)."""
    from datetime import UTC, datetime

    posted = request.form.get("opened_at") if request.method == "POST" else None
    return posted if posted and not renewed else datetime.now(UTC).isoformat()


def changed_since(case_id: int) -> list[dict[str, Any]]:
    """What changed on the case since the form was drawn (its `opened_at`)."""
    from datetime import datetime

    raw = request.form.get("opened_at") or ""
    try:
        since = datetime.fromisoformat(raw)
        if since.tzinfo is None:
            raise ValueError
    except ValueError:
        return []
    return queries.changes_since(get_db(), current_user.user, case_id, since)


@bp.get("/work")
@login_required
def work() -> Any:
    """My work: what needs the officer or the chair now, the nearest deadline first."""
    sections = queries.my_work(get_db(), current_user.user)
    if not sections:
        abort(404)
    return render_template("cases/work.html", sections=sections)
