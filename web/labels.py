"""Translated labels for workflow ids (ids stay English in code, API and data)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

STATE_LABELS = {
    "received": _l("Received"),
    "transferred": _l("Transferred to commune"),
    "initial_assessment": _l("Initial assessment"),
    "emergency_protection": _l("Emergency protection"),
    "specific_assessment": _l("Specific assessment"),
    "plan_drafting": _l("Plan drafting"),
    "plan_approval": _l("Plan approval"),
    "implementing": _l("Implementing the plan"),
    "reviewing": _l("Reviewing"),
    "closed": _l("Closed"),
}

RUNG_LABELS = {
    "reminded": _l("Reminder sent"),
    "overdue": _l("Overdue"),
    "escalated": _l("Escalated to the province"),
}


EVENT_LABELS = {
    "receive": _l("Report received"),
    "transfer": _l("Transfer to the commune"),
    "accept": _l("Accept and assign"),
    "assess": _l("Initial assessment (Form 02)"),
    "mark_unfounded": _l("Close as unfounded"),
    "decide_emergency": _l("Emergency decision"),
    "complete_assessment": _l("Specific assessment (Form 03)"),
    "submit_plan": _l("Submit the plan (Form 04)"),
    "approve_plan": _l("Approve the plan (Form 05)"),
    "return_plan": _l("Return the plan"),
    "start_review": _l("Start the review"),
    "close": _l("Close the case (Form 06)"),
    "replan": _l("Make a new plan"),
    "reopen": _l("Reopen"),
    "transfer_out": _l("Transfer to another commune"),
    "extend_separation": _l("Extend the temporary separation"),
    "end_separation": _l("End the temporary separation"),
}
#: Clocks that are not simply "the step's" deadline (shown instead of the step's name).
RULE_LABELS = {"separation_end": _l("End of the temporary separation")}
DEADLINE_STATUS_LABELS = {
    "open": _l("open"),
    "overdue": _l("overdue"),
    "met": _l("met"),
    "met_late": _l("met late"),
    "cancelled": _l("cancelled"),
}
SEX_LABELS = {"female": _l("female"), "male": _l("male"), "unknown": _l("unknown")}
RISK_LABELS = {
    "low": _l("low"),
    "medium": _l("medium"),
    "high": _l("high"),
    "serious": _l("serious harm"),
}


def label(kind: str, value: str | None) -> str:
    """A translated label for a workflow id (`kind`: event, status, sex, risk)."""
    if value is None:
        return "—"
    table = {
        "event": EVENT_LABELS,
        "status": DEADLINE_STATUS_LABELS,
        "sex": SEX_LABELS,
        "risk": RISK_LABELS,
    }[kind]
    return str(table.get(value, value))


def rung_label(rung: str) -> str:
    return str(RUNG_LABELS.get(rung, rung))


LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def state_label(state: str, rule: str | None = None) -> str:
    """A step's name; given a clock's rule, that clock's own name when it has one."""
    if rule in RULE_LABELS:
        return str(RULE_LABELS[rule])
    return str(STATE_LABELS.get(state, state))


def localtime(value: str | datetime | None) -> str:
    """UTC is stored; people read Vietnam time."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")
