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


def rung_label(rung: str) -> str:
    return str(RUNG_LABELS.get(rung, rung))


LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def state_label(state: str) -> str:
    return str(STATE_LABELS.get(state, state))


def localtime(value: str | datetime | None) -> str:
    """UTC is stored; people read Vietnam time."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")
