"""The audit trail's status and a case's access log, for the administrators who keep it.

Each chain's head and last seal are read; verifying a chain walks it, so it runs when an
administrator asks (a POST) and is itself recorded — the page shows the last result, when
and by whom. "Who read or changed this child's record" lists every audit event on a case,
and that lookup is recorded too. A province administrator sees its province's chain only."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from casework.errors import NotFound
from casework.services import audit_queries, audit_trail
from web import get_db
from web.admin.routes import admin_only, bp
from web.labels import label, rung_label, state_label

#: Audit actions on a case, in words (a workflow event is named by its label).
ACTIONS: dict[str, Any] = {
    "case.created": _l("Recorded the report; the case was opened"),
    "case.read": _l("Opened the case file"),
    "case.assigned": _l("Assigned the officer"),
    "case.report_linked": _l("Joined a further report to the case"),
    "case.match_confirmed": _l("Confirmed a report is about this child"),
    "case.match_rejected": _l("Marked a report as about a different child"),
    "case.suggested": _l("Was shown the case as a possible match while recording a report"),
    "case.note_added": _l("Added a note"),
    "case.attachment_added": _l("Attached a document"),
    "case.attachment_read": _l("Downloaded a document"),
    "case.access_log_read": _l("Looked up who read or changed this record"),
    "deadline.cancelled": _l("A deadline was cancelled: its step had ended"),
}
PURPOSES: dict[str, Any] = {"print": _l("printable file"), "page": _l("page")}


def describe(event: dict[str, Any]) -> str:
    """An audit event on a case in plain words, as the case's history names things."""
    action = str(event["action"])
    shown = event["summary"]
    kind, _dot, name = action.partition(".")
    if action in ACTIONS:
        text = str(ACTIONS[action])
        if action == "case.read" and shown.get("purpose") == "print":
            text = str(_l("Opened the printable case file"))
        if shown.get("view") == "referred":
            text += " " + str(_l("(what a partner agency sees)"))
        return text
    if kind == "case":
        text = label("event", name)
        if shown.get("state"):
            text += " → " + state_label(shown["state"])
        return text
    if kind == "deadline":
        text = rung_label(name)
        return text + (" — " + label("rule", shown["rule"]) if shown.get("rule") else "")
    if kind == "task":
        return _("Partner agency's task: %(answer)s", answer=label("task_action", name))
    return action


@bp.get("/audit")
@admin_only
def audit_index() -> Any:
    db, actor = get_db(), current_user.user
    chains = audit_queries.chains_status(db, actor)
    reference = request.args.get("case", "").strip()[:40]
    log, missing = None, False
    if reference:
        try:
            log = audit_queries.case_access_log(db, actor, reference)
        except NotFound:
            missing = True
        else:
            for event in log["events"]:
                event["what"] = describe(event)
    return render_template(
        "admin/audit.html",
        chains=chains,
        reference=reference,
        log=log,
        missing=missing,
        form=FlaskForm(),
    ), (404 if missing else 200)


@bp.post("/audit/chains/<chain>/verify")
@admin_only
def audit_verify(chain: str) -> Any:
    if not FlaskForm().validate():
        abort(400, description="the form's security token is missing or stale")
    check = audit_trail.verify_chain(get_db(), current_user.user, chain[:16])
    if check.problem is None:
        flash(
            _(
                "Chain %(chain)s is intact: %(n)s events verified.",
                chain=chain,
                n=check.result.count,
            ),
            "success",
        )
    else:
        flash(
            _("Chain %(chain)s is broken: %(problem)s", chain=chain, problem=check.problem), "error"
        )
    return redirect(url_for("admin.audit_index"))
