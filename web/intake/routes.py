"""The hotline intake page: one page, keyboard first, a report in under a minute.

It starts by classifying the contact (contacts without case data are recorded in one key);
the report's form is drawn from the same field definitions the API validates
(intake.REPORT_FIELDS) and sent through the same service. As the user types, the page keeps a
draft on the server and shows, through htmx, a caller's earlier contacts and the earlier
cases that may be on the same child — only those the user may see; of the others only that
one exists. After saving, the outcome: the case, its commune and its running clocks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from casework.errors import PermissionDenied, ValidationError
from casework.services import intake, intake_drafts, intake_queries
from casework.services.forms import FieldSpec
from web import get_db
from web.forms import event_form, payload, show_errors
from web.labels import LOCAL_TZ, label

bp = Blueprint("intake", __name__)

#: The fields the form builder draws; the person's choices among possible matches are
#: drawn with the suggestions (radio buttons and check boxes beside each case).
CHOICE_FIELDS = ("link_case_id", "different_child_case_ids")
PAGE_FIELDS: tuple[FieldSpec, ...] = tuple(
    spec for spec in intake.REPORT_FIELDS if spec.name not in CHOICE_FIELDS
)
assert PAGE_FIELDS[0].name == "kind"  # drawn first, as the contact's classification
#: Fields drawn as a commune typeahead (the code kept in a hidden input).
COMMUNE_FIELDS = ("incident_unit_code", "child-unit_code")
_KNOWN = {spec.name for spec in intake.REPORT_FIELDS}
#: The keys that record a contact without case data, in the order shown.
NUISANCE_KEYS = {"silent": "1", "hang_up": "2", "wrong_number": "3", "prank": "4", "thanks": "5"}
_WHOLE = re.compile(r"[0-9]{1,10}")


@bp.app_context_processor
def intake_link() -> dict[str, Any]:
    """The menu offers "New report" to those who record reports."""

    def records_reports() -> bool:
        return bool(
            current_user.is_authenticated and intake_queries.may_record_reports(current_user.user)
        )

    return {"records_reports": records_reports}


@bp.before_request
def htmx_signed_out() -> Any:
    """A part of the page asked for after the session ended: a 401 the page shows as such
    (htmx swaps nothing), not the sign-in page inside the form."""
    if request.headers.get("HX-Request") and not current_user.is_authenticated:
        return _("Signed out."), 401
    return None


def _actor() -> Any:
    actor = current_user.user
    if not intake_queries.may_record_reports(actor):
        abort(404)
    return actor


def _check_csrf() -> None:
    """The parts of the page that post (draft, suggestions, contacts) carry the form's token."""
    if not event_form((), request.form, {}).validate():
        abort(400)


def _draft_pairs(form: MultiDict[str, str]) -> list[tuple[str, str]]:
    """What the page posted that belongs to the report (its fields, the commune names shown
    in the typeaheads, the choices among suggestions) — not the CSRF token."""
    return [
        (key, value)
        for key, values in form.lists()
        if key.split("-", 1)[0] in _KNOWN
        for value in values
    ]


def _now_local() -> str:
    return datetime.now(UTC).astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def _chosen(form: MultiDict[str, str]) -> dict[str, Any]:
    """The choices among the suggestions, shaped as the API takes them."""
    body: dict[str, Any] = {}
    link = (form.get("link_case_id") or "").strip()
    if link:
        body["link_case_id"] = int(link) if _WHOLE.fullmatch(link) else link
    different = [value.strip() for value in form.getlist("different_child_case_ids")]
    if any(different):
        body["different_child_case_ids"] = [
            int(value) if _WHOLE.fullmatch(value) else value for value in different if value
        ]
    return body


def _page(
    form: Any,
    typed: MultiDict[str, str],
    problems: dict[str, str],
    draft_at: datetime | None,
    status: int,
) -> Any:
    """The page; `typed` is what was posted or restored (the commune names shown in the
    typeaheads, the choices among the suggestions)."""
    db, actor = get_db(), current_user.user
    return render_template(
        "intake/new.html",
        form=form,
        fields=PAGE_FIELDS,
        kind_choices=PAGE_FIELDS[0].type.choices,
        commune_fields=COMMUNE_FIELDS,
        commune_names={name: typed.get(f"{name}-q", "") for name in COMMUNE_FIELDS},
        problems=problems,
        draft_at=draft_at,
        nuisance_keys=NUISANCE_KEYS,
        nuisance_counts=intake_queries.nuisance_counts(db, actor),
        chosen=_chosen(typed),
    ), status


@bp.route("/intake", methods=["GET", "POST"])
@login_required
def new() -> Any:
    db, actor = get_db(), _actor()
    if request.method == "GET":
        draft = intake_queries.load_draft(db, actor)
        if draft is None:
            form = event_form(PAGE_FIELDS, None, {})
            form.kind.data = "abuse_report"
            form.channel.data = "hotline_111"
            form.received_at.data = _now_local()
            form.auto_transfer.data = True
            return _page(form, MultiDict(), {}, None, 200)
        pairs, saved_at = draft
        restored = MultiDict(pairs)
        return _page(event_form(PAGE_FIELDS, restored, {}), restored, {}, saved_at, 200)
    form = event_form(PAGE_FIELDS, request.form, {})
    if not form.validate():  # CSRF only: the fields are checked by the report's own clean()
        abort(400, description=str(form.errors)[:200])
    body = payload(PAGE_FIELDS, form) | _chosen(request.form)
    try:
        result = intake.record_report(db, actor, body)
    except ValidationError as error:
        # Kept as typed, on the server too: fixing it may take a while.
        saved_at = intake_drafts.save_draft(db, actor, _draft_pairs(request.form))
        problems = show_errors(form, error.errors)
        return _page(form, request.form, problems, saved_at, 422)
    except PermissionDenied:
        abort(404)
    intake_drafts.delete_draft(db, actor)
    return redirect(url_for("intake.outcome", report_id=result.report_id))


@bp.post("/intake/draft")
@login_required
def autosave() -> Any:
    """Called by the page as the user types (htmx, debounced): keep the draft."""
    db, actor = get_db(), _actor()
    _check_csrf()
    saved_at = intake_drafts.save_draft(db, actor, _draft_pairs(request.form))
    return render_template("intake/_draft_status.html", draft_at=saved_at)


@bp.post("/intake/draft/discard")
@login_required
def discard() -> Any:
    db, actor = get_db(), _actor()
    _check_csrf()
    intake_drafts.delete_draft(db, actor)
    flash(_("The draft was discarded."), "info")
    return redirect(url_for("intake.new"))


@bp.post("/intake/suggestions")
@login_required
def suggestions() -> Any:
    """The caller's earlier contacts and the earlier cases that may be on the same child,
    from what is typed so far (posted, not in the URL: it names a child)."""
    db, actor = get_db(), _actor()
    _check_csrf()
    data = request.form
    typed = intake_queries.Typed(
        full_name=data.get("child-full_name", ""),
        national_id=data.get("child-national_id", ""),
        birth_date=_date(data.get("child-birth_date", "")),
        age_years=_age(data.get("child-age_years", "")),
        communes=tuple(
            code for code in (data.get("child-unit_code"), data.get("incident_unit_code")) if code
        ),
        phone=data.get("reporter-phone", ""),
    )
    found = intake_queries.suggest_matches(db, actor, typed)
    history = intake_queries.phone_history(db, actor, typed.phone)
    return render_template(
        "intake/_suggestions.html",
        found=found,
        history=history,
        chosen=_chosen(data),
    )


def _date(text: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(text.strip()) if len(text.strip()) == 10 else None
    except ValueError:
        return None


def _age(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 2 else None


@bp.get("/intake/communes")
@login_required
def communes() -> Any:
    """The typeahead's options: communes whose name holds the words typed."""
    actor = _actor()
    text = next((value for key, value in request.args.items() if key.endswith("-q")), "")
    target = request.args.get("for", "")
    if target not in ("incident_unit_code", "child-unit_code"):
        target = "incident_unit_code"
    found = intake_queries.find_communes(get_db(), actor, text)
    return render_template("intake/_communes.html", communes=found, target=target, text=text)


@bp.post("/intake/nuisance")
@login_required
def nuisance() -> Any:
    """A contact without case data, in one key: counted, nothing else kept."""
    db, actor = get_db(), _actor()
    _check_csrf()
    kind = request.form.get("nuisance", "")
    try:
        intake.record_nuisance(db, actor, {"nuisance": kind})
    except ValidationError:
        flash(_("Choose what kind of contact it was."), "error")
        return redirect(url_for("intake.new"))
    count = intake_queries.nuisance_counts(db, actor).get(kind, 0)
    flash(
        _("Recorded: %(kind)s (today: %(count)s).", kind=label("nuisance", kind), count=count),
        "success",
    )
    return redirect(url_for("intake.new"))


@bp.get("/intake/reports/<id:report_id>")
@login_required
def outcome(report_id: int) -> Any:
    """What became of a report the user recorded: the case, its commune and its clocks."""
    actor = _actor()
    result = intake_queries.report_outcome(get_db(), actor, report_id)
    return render_template("intake/outcome.html", result=result)
