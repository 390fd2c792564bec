"""Labels for workflow ids in the reader's language, from casework's one catalogue
(casework/labels.py): pages and notifications call a state, an event or a clock the same."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import format_timedelta, get_locale
from flask_babel import gettext as _

from casework import labels


def _lang() -> str:
    return str(get_locale() or labels.DEFAULT)


def label(kind: str, value: str | None) -> str:
    """A label for a workflow id. `kind`: event, status (of a deadline), task_status, sex,
    risk, role, agency, match_reason, rule."""
    kind = {"status": "deadline_status"}.get(kind, kind)
    return labels.text(kind, value, _lang())


def rung_label(rung: str) -> str:
    return labels.text("rung", rung, _lang())


def state_label(state: str, rule: str | None = None) -> str:
    """A step's name; given a clock's rule, that clock's own name when it has one."""
    if rule is not None and rule in labels.CATALOGUE["clock"]:
        return labels.text("rule", rule, _lang())
    return labels.text("state", state, _lang())


def cite(source: str | None) -> str:
    """A legal citation as an official writes it (Điều …, khoản …)."""
    return labels.cite(source, _lang()) if source else ""


LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def localtime(value: str | datetime | None) -> str:
    """UTC is stored; people read Vietnam time."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


def countdown(value: str | None, now: datetime | None = None) -> str:
    """How long until a due time, or how long past it: "còn 3 giờ", "quá hạn 2 ngày"."""
    if not value:
        return "—"
    from datetime import UTC

    left = datetime.fromisoformat(value) - (now or datetime.now(UTC))
    if left.total_seconds() >= 0:
        return _("%(time)s left", time=format_timedelta(left, threshold=1.1))
    return _("overdue by %(time)s", time=format_timedelta(-left, threshold=1.1))


def localdate(value: str | None) -> str:
    """A date as people write it here: 23/10/2026."""
    if not value:
        return ""
    return date.fromisoformat(value[:10]).strftime("%d/%m/%Y")


def days_left(value: str | None, today: date | None = None) -> str:
    """A due date as a countdown in days: "còn 3 ngày", "hạn hôm nay", "quá hạn 2 ngày"."""
    if not value:
        return "—"
    today = today or datetime.now(LOCAL_TZ).date()
    left = (date.fromisoformat(value[:10]) - today).days
    if left == 0:
        return _("due today")
    span = format_timedelta(timedelta(days=abs(left)), granularity="day", threshold=1.1)
    return _("%(time)s left", time=span) if left > 0 else _("overdue by %(time)s", time=span)
