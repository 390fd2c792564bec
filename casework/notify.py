"""Notifications: the outbox and inbox rows a rung writes, and their delivery by SMTP.

A rung writes one row per recipient in the same transaction as the rung itself. The delivery
loop sends pending rows by SMTP, one transaction per message (claimed with SKIP LOCKED on
PostgreSQL), retries with backoff when the server is away, and gives up on an address the
server refuses for good — marking the user so administrators see it — without holding up
anyone else's mail. Messages carry a case reference and a link, never a child's name.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from casework import labels
from casework.db import Database, UnitOfWork
from casework.models import (
    AdministrativeUnit,
    Agency,
    Case,
    Deadline,
    FiredRung,
    MailStatus,
    Notification,
    PlanTask,
    Role,
    User,
)
from casework.rules import province_rules

#: The message templates, in each user's language (names come from casework.labels).
TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "vi": {
        "reminded": (
            "[{ref}] Sắp đến hạn: {step}",
            "Ca {ref}: bước {step} phải hoàn thành trước {due}.\n{link}",
        ),
        "overdue": (
            "[{ref}] QUÁ HẠN: {step}",
            "Ca {ref}: bước {step} đã quá hạn từ {due}.\n{link}",
        ),
        "escalated": (
            "[{ref}] Chuyển cấp tỉnh: {step} quá hạn",
            "Ca {ref}: bước {step} quá hạn từ {due} và chưa được xử lý; "
            "đề nghị cơ quan cấp tỉnh theo dõi, đôn đốc.\n{link}",
        ),
        "other": (
            "[{ref}] Nhắc việc: {step} ({rung})",
            "Ca {ref}: bước {step}, hạn {due} ({rung}).\n{link}",
        ),
    },
    "en": {
        "reminded": (
            "[{ref}] Due soon: {step}",
            "Case {ref}: the {step} step is due by {due}.\n{link}",
        ),
        "overdue": (
            "[{ref}] OVERDUE: {step}",
            "Case {ref}: the {step} step has been overdue since {due}.\n{link}",
        ),
        "escalated": (
            "[{ref}] Escalated to the province: {step} overdue",
            "Case {ref}: the {step} step has been overdue since {due} and is still "
            "open; the province office is asked to follow it up.\n{link}",
        ),
        "other": (
            "[{ref}] Reminder: {step} ({rung})",
            "Case {ref}: the {step} step, due {due} ({rung}).\n{link}",
        ),
    },
}
#: A task cancelled because the case moved to another commune: no link (the agency no
#: longer has access to the case), only the reference.
TASK_CANCELLED = {
    "vi": (
        "[{ref}] Hủy nhiệm vụ: {task}",
        "Ca {ref}: {task} đã được hủy vì ca đã chuyển sang địa bàn khác. "
        "Cơ quan không cần thực hiện thêm.",
    ),
    "en": (
        "[{ref}] Task cancelled: {task}",
        "Case {ref}: the {task} is cancelled because the case has moved to another area. "
        "No further action is needed.",
    ),
}


def render(
    locale: str,
    rung: str,
    reference: str,
    step: str,
    due: datetime,
    link: str,
    agency_kind: str | None = None,
    rule: str | None = None,
) -> tuple[str, str]:
    lang = locale if locale in TEMPLATES else "vi"
    from zoneinfo import ZoneInfo

    local_due = due.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%H:%M %d/%m/%Y")
    if agency_kind:
        label = labels.agency_task(agency_kind, lang)
    elif rule in labels.CATALOGUE["clock"]:
        label = labels.text("clock", rule, lang)
    else:
        label = labels.text("step", step, lang)
    subject, body = TEMPLATES[lang].get(rung) or TEMPLATES[lang]["other"]
    values = {"ref": reference, "step": label, "due": local_due, "link": link, "rung": rung}
    return subject.format(**values), body.format(**values)


def task_cancelled_notices(
    session: Session,
    reference: str,
    tasks: list[tuple[int, int | None, str]],
    now: datetime,
) -> list[dict[str, Any]]:
    """Notifications (column values and the task's id) to the focal points of each agency
    whose task (id, agency id, agency kind) is cancelled. The case store writes each only
    if its task really was cancelled."""
    notices = []
    for task_id, agency_id, agency_kind in tasks:
        if agency_id is None:
            continue
        for user in _active(session, User.role == Role.AGENCY, User.agency_id == agency_id):
            lang = _language(user)
            values = {"ref": reference, "task": labels.agency_task(agency_kind, lang)}
            row = _notice(user, "task.cancelled", TASK_CANCELLED[lang], values, now)
            notices.append({**row, "task_id": task_id})
    return notices


def _language(user: User) -> str:
    return user.locale if user.locale in labels.LANGUAGES else labels.DEFAULT


def _notice(
    user: User, kind: str, texts: tuple[str, str], values: dict[str, str], now: datetime
) -> dict[str, Any]:
    """One inbox + outbox row for `user` (`texts`: subject and body in the user's language)."""
    subject, body = texts
    return {
        "user_id": user.id,
        "kind": kind,
        "subject": subject.format(**values),
        "body": body.format(**values),
        "created_at": now,
        "mail_status": MailStatus.PENDING if user.email else MailStatus.NONE,
        "next_attempt_at": now if user.email else None,
    }


# --- who is notified ------------------------------------------------------------------------


def _active(session: Session, *conditions: Any) -> list[User]:
    return list(session.scalars(sa.select(User).where(User.active.is_(True), *conditions)))


def recipients(
    session: Session, case: Case, deadline: Deadline, target: str, assignee_role: str
) -> list[User]:
    task = session.get(PlanTask, deadline.task_id) if deadline.task_id else None
    if target == "assignee":
        if assignee_role == Role.OFFICER and case.assignee_id is not None:
            return _active(session, User.id == case.assignee_id)
        if assignee_role == Role.INTAKE:
            return _active(session, User.id == case.created_by_id)
        return _active(session, User.role == assignee_role, User.unit_id == case.unit_id)
    if target == "chair":
        return _active(session, User.role == Role.CHAIR, User.unit_id == case.unit_id)
    if target == "province":
        return _active(
            session,
            User.role == Role.PROVINCE,
            User.unit_id.in_(
                sa.select(AdministrativeUnit.id).where(
                    AdministrativeUnit.level == "province",
                    AdministrativeUnit.code == case.province_code,
                )
            ),
        )
    if target == "agency" and task is not None and task.agency_id is not None:
        return _active(session, User.role == Role.AGENCY, User.agency_id == task.agency_id)
    if target == "agency_supervisor" and task is not None:
        province_agencies = (
            sa.select(Agency.id)
            .join(AdministrativeUnit, Agency.unit_id == AdministrativeUnit.id)
            .where(
                Agency.kind == task.agency_kind,
                AdministrativeUnit.level == "province",
                AdministrativeUnit.code == case.province_code,
            )
        )
        return _active(session, User.role == Role.AGENCY, User.agency_id.in_(province_agencies))
    return []


def notify_rung(
    uow: UnitOfWork,
    case: Case,
    deadline: Deadline,
    fired: FiredRung,
    rung: dict[str, Any],
    now: datetime,
) -> int:
    """Write the rung's notifications (inbox + outbox). Returns how many."""
    session = uow.session
    rules = {
        r.name: r
        for r in province_rules(uow, case.workflow, case.province_code, deadline.created_at)
    }
    rule = rules.get(deadline.rule)
    assignee_role = rule.assignee_role if rule else Role.OFFICER
    task = session.get(PlanTask, deadline.task_id) if deadline.task_id else None
    users: dict[int, User] = {}
    for target in rung.get("notify", []):
        for user in recipients(session, case, deadline, target, assignee_role):
            users.setdefault(user.id, user)
    base_url = str(uow.settings.extra.get("base_url", "")).rstrip("/")
    link = f"{base_url}/cases/{case.id}"
    for user in users.values():
        subject, body = render(
            user.locale,
            rung["name"],
            case.reference,
            deadline.step,
            deadline.due_at,
            link,
            task.agency_kind if task else None,
            deadline.rule,
        )
        session.add(
            Notification(
                user_id=user.id,
                case_id=case.id,
                fired_rung_id=fired.id,
                kind=f"deadline.{rung['name']}",
                subject=subject,
                body=body,
                created_at=now,
                mail_status=MailStatus.PENDING if user.email else MailStatus.NONE,
                next_attempt_at=now if user.email else None,
            )
        )
    return len(users)


# --- SMTP delivery --------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""
    port: int = 25
    username: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = "casework@localhost"
    timeout: float = 10.0
    max_attempts: int = 8

    @property
    def enabled(self) -> bool:
        return bool(self.host)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, … minutes, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


class _Permanent(Exception):
    pass


def _send(smtp: SmtpSettings, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password)
        try:
            client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            if 500 <= code < 600:
                raise _Permanent(f"{code} {text.decode(errors='replace')}") from None
            raise
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600:
                raise _Permanent(f"{error.smtp_code} {error.smtp_error!r}") from None
            raise


def deliver(db: Database, smtp: SmtpSettings, now: datetime, limit: int = 100) -> dict[str, int]:
    """Send pending mail whose time has come. Returns counts: sent, retry, failed."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    if not smtp.enabled:
        return counts
    for _ in range(limit):
        with db.uow() as uow:
            session = uow.session
            query = (
                sa.select(Notification)
                .where(
                    Notification.mail_status == MailStatus.PENDING,
                    Notification.next_attempt_at <= now,
                )
                .order_by(Notification.next_attempt_at, Notification.id)
                .limit(1)
            )
            if uow.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = session.scalars(query).first()
            if row is None:
                break
            user = session.get(User, row.user_id)
            assert user is not None
            if not user.email or not user.active:  # address removed, or user gone, since
                row.mail_status = MailStatus.NONE
                uow.commit()
                continue
            row.mail_attempts += 1
            try:
                _send(smtp, user.email, row.subject, row.body)
            except _Permanent as error:
                row.mail_status = MailStatus.FAILED
                row.last_error = str(error)[:300]
                user.email_failed_at = now
                user.email_error = str(error)[:300]
                counts["failed"] += 1
            except (TimeoutError, OSError, smtplib.SMTPException) as error:
                row.last_error = f"{type(error).__name__}: {error}"[:300]
                if row.mail_attempts >= smtp.max_attempts:
                    row.mail_status = MailStatus.FAILED
                    counts["failed"] += 1
                else:
                    row.next_attempt_at = now + backoff(row.mail_attempts)
                    counts["retry"] += 1
            else:
                row.mail_status = MailStatus.SENT
                row.sent_at = now
                row.last_error = ""
                counts["sent"] += 1
            uow.commit()
        if counts["retry"] and counts["sent"] == 0 and counts["retry"] >= 3:
            break  # the server is away: try again on the next tick, not 100 times now
    return counts


# --- notices of what people did (not deadlines) ------------------------------------------

EVENT_TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "vi": {
        "case.report_linked": (
            "[{ref}] Có tin báo mới về trẻ của ca",
            "Ca {ref}: đã tiếp nhận thêm một tin báo về trẻ của ca này.\n{link}",
        ),
        "case.assigned": (
            "[{ref}] Bạn được phân công phụ trách ca",
            "Ca {ref} đã được phân công cho bạn phụ trách.\n{link}",
        ),
        "task.declined": (
            "[{ref}] Cơ quan phối hợp từ chối nhiệm vụ",
            "Ca {ref}: một cơ quan phối hợp đã từ chối nhiệm vụ được giao; cần xem lại "
            "kế hoạch.\n{link}",
        ),
        "case.possible_match": (
            "[{ref}] Tin báo mới có thể về trẻ của ca: cần xác nhận",
            "Ca {ref}: một tin báo mới có thể về cùng trẻ này. Đề nghị xem và xác nhận "
            "là cùng một trẻ hay không.\n{link}",
        ),
        "case.report_reopened": (
            "[{ref}] Ca đã kết thúc được mở lại do có tin báo mới",
            "Ca {ref}: có tin báo mới về trẻ nên ca được mở lại; cần đánh giá ban đầu.\n{link}",
        ),
        "plan.submitted": (
            "[{ref}] Kế hoạch chờ phê duyệt",
            "Ca {ref}: kế hoạch hỗ trợ, can thiệp đã được trình và đang chờ phê duyệt.\n{link}",
        ),
        "plan.returned": (
            "[{ref}] Kế hoạch bị trả lại",
            "Ca {ref}: kế hoạch hỗ trợ, can thiệp đã bị trả lại để chỉnh sửa; lý do ghi trong "
            "hồ sơ ca.\n{link}",
        ),
        "task.referred": (
            "[{ref}] Nhiệm vụ mới: {task}",
            "Ca {ref}: cơ quan được giao {task} theo kế hoạch đã được phê duyệt. Đề nghị "
            "nhận hoặc từ chối nhiệm vụ.\n{link}",
        ),
        "case.transferred_in": (
            "[{ref}] Ca được chuyển đến địa bàn",
            "Ca {ref} đã được chuyển đến địa bàn của đơn vị; cần tiếp nhận và phân công "
            "người phụ trách.\n{link}",
        ),
    },
    "en": {
        "case.report_linked": (
            "[{ref}] A new report on the case's child",
            "Case {ref}: another report on this case's child was received.\n{link}",
        ),
        "case.assigned": (
            "[{ref}] A case is assigned to you",
            "Case {ref} is now yours to handle.\n{link}",
        ),
        "task.declined": (
            "[{ref}] A partner agency declined its task",
            "Case {ref}: a partner agency declined the task it was given; the plan needs a "
            "look.\n{link}",
        ),
        "case.possible_match": (
            "[{ref}] A new report may be on this case's child: please confirm",
            "Case {ref}: a new report may be on the same child. Please look and confirm "
            "whether it is the same child.\n{link}",
        ),
        "case.report_reopened": (
            "[{ref}] Closed case reopened by a new report",
            "Case {ref}: a new report on the child reopened the case; an initial "
            "assessment is due.\n{link}",
        ),
        "plan.submitted": (
            "[{ref}] A plan awaits your approval",
            "Case {ref}: the support and intervention plan was submitted and awaits "
            "approval.\n{link}",
        ),
        "plan.returned": (
            "[{ref}] The plan was returned",
            "Case {ref}: the support and intervention plan was sent back for changes; the "
            "reason is on the case.\n{link}",
        ),
        "task.referred": (
            "[{ref}] New task: {task}",
            "Case {ref}: your agency is given the {task} under the approved plan. Please "
            "accept or decline it.\n{link}",
        ),
        "case.transferred_in": (
            "[{ref}] A case was transferred to your commune",
            "Case {ref} was transferred to your commune; it needs to be accepted and "
            "assigned.\n{link}",
        ),
    },
}


def case_staff(session: Session, unit_id: int, assignee_id: int | None) -> list[User]:
    """Who hears of something new on a case: its officer (every officer of the commune
    while nobody is assigned) and the commune's chairs."""
    officers = (
        User.id == assignee_id
        if assignee_id is not None
        else sa.and_(User.role == Role.OFFICER, User.unit_id == unit_id)
    )
    chairs = sa.and_(User.role == Role.CHAIR, User.unit_id == unit_id)
    return _active(session, sa.or_(officers, chairs))


def notice_rows(
    users: list[User],
    kind: str,
    case_id: int,
    reference: str,
    base_url: str,
    now: datetime,
    agency_kind: str | None = None,
) -> list[dict[str, Any]]:
    """Inbox + outbox rows for `users`, each in the user's language: a case reference and a
    link, never a name (`agency_kind` names a task: task.referred)."""
    link = f"{base_url.rstrip('/')}/cases/{case_id}"
    rows = []
    for user in users:
        lang = _language(user)
        values = {"ref": reference, "link": link}
        if agency_kind is not None:
            values["task"] = labels.agency_task(agency_kind, lang)
        rows.append(
            {**_notice(user, kind, EVENT_TEMPLATES[lang][kind], values, now), "case_id": case_id}
        )
    return rows


# --- who hears of an event (the case store writes these rows in the event's statement) ---


def unit_users(session: Session, unit_id: int, roles: tuple[str, ...]) -> list[User]:
    """The active users of `roles` at a unit (the roles come from the workflow: who may
    fire the event the notice asks for)."""
    return _active(session, User.role.in_(roles), User.unit_id == unit_id)


def case_officers(session: Session, unit_id: int, assignee_id: int | None) -> list[User]:
    """The case's officer, or every officer of its commune while nobody is assigned."""
    if assignee_id is not None:
        return _active(session, User.id == assignee_id)
    return _active(session, User.role == Role.OFFICER, User.unit_id == unit_id)


def agency_users(session: Session, agency_id: int) -> list[User]:
    return _active(session, User.role == Role.AGENCY, User.agency_id == agency_id)


def event_notices(
    users: list[User],
    kind: str,
    case_id: int,
    reference: str,
    base_url: str,
    now: datetime,
    actor_id: int | None = None,
    agency_kind: str | None = None,
) -> list[dict[str, Any]]:
    """Rows for an event's notices, for the case store to write with the event itself (no
    `task_id`: written whenever the event is). Nobody is told what they did themselves."""
    told = [user for user in users if user.id != actor_id]
    rows = notice_rows(told, kind, case_id, reference, base_url, now, agency_kind)
    return [{**row, "task_id": None} for row in rows]


# --- the inbox: what a notice says, in the reader's language at the time of reading ------


def reread(
    lang: str,
    kind: str,
    reference: str,
    *,
    step: str | None = None,
    rule: str | None = None,
    due: datetime | None = None,
    agency_kind: str | None = None,
) -> tuple[str, str] | None:
    """A stored notice's subject and body again, in `lang` (without the link: the inbox
    shows its own), or None when the notice cannot be rendered anew (the stored text is
    shown then)."""
    lang = lang if lang in labels.LANGUAGES else labels.DEFAULT
    if kind.startswith("deadline.") and step is not None and due is not None:
        subject, body = render(
            lang, kind.split(".", 1)[1], reference, step, due, "", agency_kind, rule
        )
        return subject, body.strip()
    values = {"ref": reference, "link": ""}
    if agency_kind is not None:
        values["task"] = labels.agency_task(agency_kind, lang)
    if kind == "task.cancelled":
        texts = TASK_CANCELLED[lang] if agency_kind is not None else None
    else:
        texts = EVENT_TEMPLATES[lang].get(kind)
    if texts is None or ("{task}" in texts[0] + texts[1] and "task" not in values):
        return None
    subject, body = texts
    return subject.format(**values), body.format(**values).strip()


def tell(
    session: Session, users: list[User], kind: str, case: Case, base_url: str, now: datetime
) -> None:
    """Notices to `users` about `case`, in the caller's transaction (ORM paths)."""
    for row in notice_rows(users, kind, case.id, case.reference, base_url, now):
        session.add(Notification(**row))
