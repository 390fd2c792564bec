"""Administrators' workflow settings: a province's extra days off and swapped working days,
and its own deadlines, assignee roles and ladders. Data, never code; every change audited.

Deadline settings are versions (`RuleVersion`): each change is a new version with who,
when, why and the local date it takes effect (from that date's midnight in Vietnam, today
or later); a withdrawal brings back the national default. Which version a clock follows is
decided when it opens (casework/rules.py); a running clock keeps what it opened with.

A national administrator (no unit) runs every province; a province administrator its own
only (`scope.administers`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from casework import audit, scope
from casework.calendar import public_holidays
from casework.clock import utcnow
from casework.db import Database
from casework.errors import Conflict, NotFound, PermissionDenied, ValidationError
from casework.models import (
    AdministrativeUnit,
    CalendarDay,
    CalendarDayKind,
    Role,
    RuleVersion,
    UnitLevel,
    User,
)
from casework.rules import OVERRIDABLE, in_force, load_versions
from casework.services.forms import FieldSpec, clean
from casework.services.units import find_unit
from workflows.engine import WORKFLOWS
from workflows.spec import (
    RECIPIENTS,
    DeadlineRule,
    DurationUnit,
    Rung,
    choice,
    integer,
    iso_date,
    list_of,
    record,
    text,
)

RUNG_NAMES = ("reminded", "overdue", "escalated")
UNITS = tuple(u.value for u in DurationUnit)
ASSIGNEE_ROLES = (Role.OFFICER, Role.CHAIR, Role.PROVINCE, Role.INTAKE, Role.AGENCY)

#: Adding a day to a province's calendar.
CALENDAR_DAY = (
    FieldSpec("day", iso_date(max_years_ahead=5)),
    FieldSpec("day_kind", choice("off", "work", labels="day_kind")),
    FieldSpec("note", text(200), required=False),
)
#: One rung of a province's own ladder (a share of the time, or an offset after the due time).
RUNG = (
    FieldSpec("rung", choice(*RUNG_NAMES, labels="rung_kind")),
    FieldSpec("at_percent", integer(1, 1000), required=False),
    FieldSpec("offset", integer(1, 1000), required=False),
    FieldSpec("offset_unit", choice(*UNITS, labels="duration_unit"), required=False),
    FieldSpec("notify", list_of(choice(*RECIPIENTS, labels="recipient"), unique=True)),
)
#: A new version of a rule's settings (every value left blank keeps the national default).
RULE_VERSION = (
    FieldSpec("duration", integer(1, 1000), required=False),
    FieldSpec("duration_unit", choice(*UNITS, labels="duration_unit"), required=False),
    FieldSpec("high_risk_duration", integer(1, 1000), required=False),
    FieldSpec("assignee_role", choice(*ASSIGNEE_ROLES, labels="role"), required=False),
    FieldSpec("ladder", list_of(record(*RUNG), max_items=6), required=False),
    FieldSpec("legal_source", text(120), required=False),
    FieldSpec("effective_on", iso_date(max_years_ahead=5)),
    FieldSpec("reason", text(500)),
)
#: Withdrawing a province's setting: the national default again, from a date.
WITHDRAWAL = (  # named apart from RULE_VERSION's: both forms share a page
    FieldSpec("withdraw_on", iso_date(max_years_ahead=5), label="effective_on"),
    FieldSpec("withdraw_reason", text(500), label="reason"),
)


# --- who and where --------------------------------------------------------------------------


def _province(db: Database, code: str) -> AdministrativeUnit:
    with db.uow(readonly=True) as uow:
        unit = find_unit(uow.session, code, level=UnitLevel.PROVINCE)
    if unit is None:
        raise ValidationError({"province": f"no province has code {code[:8]!r}"})
    return unit


def _check(actor: User | None, code: str) -> None:
    """None is the command line (the machine's operator). Others: administrators of this
    province, or national administrators."""
    if actor is None:
        return
    if not scope.may_administer(actor):
        raise PermissionDenied("only administrators change workflow settings")
    if not scope.administers(actor, code):
        raise PermissionDenied(f"you do not administer province {code}")


def province_for(db: Database, actor: User, code: str) -> dict[str, str]:
    """The province (code and name) if the actor administers it; NotFound / PermissionDenied."""
    unit = _province(db, code)
    _check(actor, unit.code)
    return {"code": unit.code, "name": unit.name}


def administered_provinces(db: Database, actor: User) -> list[dict[str, str]]:
    """The provinces whose settings the actor may change, by name (the picker's list)."""
    if not scope.may_administer(actor):
        return []
    own = scope.administered_province(actor)
    with db.uow(readonly=True) as uow:
        query = sa.select(AdministrativeUnit).where(
            AdministrativeUnit.level == UnitLevel.PROVINCE,
            AdministrativeUnit.valid_to.is_(None),
        )
        if own is not None:
            query = query.where(AdministrativeUnit.code == own)
        units = uow.session.scalars(query.order_by(AdministrativeUnit.name)).all()
        return [{"code": u.code, "name": u.name} for u in units]


def own_province(actor: User) -> str | None:
    """A province administrator's province (None: a national administrator)."""
    return scope.administered_province(actor)


# --- calendars ------------------------------------------------------------------------------


def add_calendar_day(
    db: Database,
    province: str,
    day: date,
    kind: str,
    note: str = "",
    actor: User | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A day off (e.g. a bridge day) or a weekend day worked, for one province."""
    now = now or utcnow()
    if kind not in {k.value for k in CalendarDayKind}:
        raise ValidationError({"day_kind": "must be one of: off, work"})
    if kind == CalendarDayKind.WORK and day.weekday() < 5:
        raise ValidationError({"day": f"{day.isoformat()} is a weekday: it is already worked"})
    code = _province(db, province).code
    _check(actor, code)
    with db.uow() as uow:
        exists = uow.session.scalar(
            sa.select(CalendarDay.id).where(
                CalendarDay.province_code == code, CalendarDay.day == day
            )
        )
        if exists:
            raise ValidationError(
                {"day": f"{day.isoformat()} is already in the calendar of province {code}"}
            )
        uow.session.add(CalendarDay(province_code=code, day=day, kind=kind, note=note))
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="settings.calendar_day_added",
            now=now,
            province_code=code,
            summary={"day": day.isoformat(), "kind": kind, "note": note},
        )
        uow.commit()
    db.cache.clear()
    return {"province": code, "date": day.isoformat(), "kind": kind, "note": note}


def add_calendar_day_from(
    db: Database, province: str, body: Mapping[str, Any], actor: User, now: datetime | None = None
) -> dict[str, Any]:
    """`add_calendar_day` from a form's (or the API's) data, checked against CALENDAR_DAY."""
    data = clean(CALENDAR_DAY, body)
    return add_calendar_day(
        db,
        province,
        date.fromisoformat(data["day"]),
        data["day_kind"],
        data.get("note", ""),
        actor=actor,
        now=now,
    )


def remove_calendar_day(
    db: Database, province: str, day: date, actor: User | None = None, now: datetime | None = None
) -> None:
    now = now or utcnow()
    code = _province(db, province).code
    _check(actor, code)
    with db.uow() as uow:
        row = uow.session.scalars(
            sa.select(CalendarDay).where(CalendarDay.province_code == code, CalendarDay.day == day)
        ).first()
        if row is None:
            raise NotFound(f"{day.isoformat()} is not in the calendar of province {code}")
        uow.session.delete(row)
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="settings.calendar_day_removed",
            now=now,
            province_code=code,
            summary={"day": day.isoformat(), "kind": row.kind, "note": row.note},
        )
        uow.commit()
    db.cache.clear()


def calendar_days(db: Database, province: str, year: int | None = None) -> list[dict[str, Any]]:
    code = _province(db, province).code
    query = sa.select(CalendarDay).where(CalendarDay.province_code == code)
    if year is not None:
        query = query.where(
            CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)
        )
    with db.uow(readonly=True) as uow:
        return [
            {"date": r.day.isoformat(), "day": r.day, "kind": r.kind, "note": r.note}
            for r in uow.session.scalars(query.order_by(CalendarDay.day))
        ]


def calendar_year(db: Database, actor: User, province: str, year: int) -> dict[str, Any]:
    """A province's calendar page for one year: the days its administrators added, and the
    national public holidays (read-only, from the `holidays` package) with their names."""
    if not 1990 <= year <= 2100:
        raise NotFound(f"no calendar for the year {year}")
    found = province_for(db, actor, province)
    import holidays

    names = {
        lang: holidays.country_holidays("VN", years=year, language=code)
        for lang, code in (("vi", "vi"), ("en", "en_US"))
    }
    return {
        "province": found,
        "year": year,
        "days": calendar_days(db, found["code"], year),
        "holidays": [
            {"day": day, "name": {lang: names[lang].get(day, "") for lang in names}}
            for day in sorted(public_holidays(year))
        ],
    }


# --- deadline settings, versioned -----------------------------------------------------------

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def local_midnight(day: date, timezone: str = "Asia/Ho_Chi_Minh") -> datetime:
    """The moment a version dated `day` takes effect: that day's 00:00 in Vietnam."""
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(timezone)).astimezone(LOCAL)


def _rule(workflow: str, rule: str) -> DeadlineRule:
    if workflow not in WORKFLOWS:
        raise ValidationError({"workflow": f"unknown workflow (known: {', '.join(WORKFLOWS)})"})
    for found in WORKFLOWS[workflow].deadlines:
        if found.name == rule:
            return found
    names = ", ".join(r.name for r in WORKFLOWS[workflow].deadlines)
    raise ValidationError({"rule": f"unknown rule (known: {names})"})


def _ladder(rungs: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """The ladder as stored: rungs checked by `Rung` (a share of the time, or an offset)."""
    if rungs is None:
        return None
    if not isinstance(rungs, list) or not rungs:
        raise ValidationError({"ladder": "must be a non-empty list of rungs"})
    try:
        return [Rung.from_dict(rung).to_dict() for rung in rungs]
    except (KeyError, TypeError, ValueError) as error:
        raise ValidationError({"ladder": f"invalid rung: {error}"}) from None


def _form_ladder(rows: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """A ladder typed in the form (percent, or an offset with its unit) as rungs."""
    if not rows:
        return None
    rungs = []
    for index, row in enumerate(rows):
        path = f"ladder[{index}]"
        has_share = row.get("at_percent") is not None
        has_offset = row.get("offset") is not None or row.get("offset_unit") is not None
        if has_share == has_offset:
            raise ValidationError(
                {f"{path}.at_percent": "give a share of the time or an offset, not both"}
            )
        if has_offset and (row.get("offset") is None or row.get("offset_unit") is None):
            raise ValidationError({f"{path}.offset": "give the offset and its unit"})
        rungs.append(
            {
                "name": row["rung"],
                "at_fraction": row["at_percent"] / 100 if has_share else None,
                "offset": row.get("offset") or 0,
                "offset_unit": row.get("offset_unit"),
                "notify": row["notify"],
            }
        )
    return rungs


def _effective(day: date, now: datetime) -> datetime:
    today = now.astimezone(LOCAL).date()
    if day < today:
        raise ValidationError(
            {"effective_on": f"is in the past: the earliest date is today, {today.isoformat()}"}
        )
    return local_midnight(day)


def _add_version(
    db: Database,
    province: str,
    rule: str,
    *,
    workflow: str,
    values: dict[str, Any] | None,
    reason: str,
    effective_on: date,
    base_version: int | None,
    actor: User | None,
    now: datetime | None,
) -> dict[str, Any]:
    now = now or utcnow()
    code = _province(db, province).code
    _check(actor, code)
    _rule(workflow, rule)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "is required: say why the setting changes"})
    if len(reason) > 500:
        raise ValidationError({"reason": "must be at most 500 characters"})
    effective_at = _effective(effective_on, now)
    withdrawn = values is None
    with db.uow() as uow:
        latest = uow.session.scalars(
            sa.select(RuleVersion)
            .where(
                RuleVersion.province_code == code,
                RuleVersion.workflow == workflow,
                RuleVersion.rule == rule,
            )
            .order_by(RuleVersion.version.desc())
            .limit(1)
        ).first()
        current = latest.version if latest else 0
        if base_version is not None and base_version != current:
            raise Conflict(
                f"the settings of {rule} changed since you read them (you saw version "
                f"{base_version}, the newest is {current}): read them again",
                current_version=current,
            )
        if withdrawn and (latest is None or latest.withdrawn):
            raise ValidationError({"rule": "the province has no setting of its own to withdraw"})
        if latest is not None and effective_on < latest.effective_on:
            raise ValidationError(
                {
                    "effective_on": "must not be before the newest version's date, "
                    f"{latest.effective_on.isoformat()}"
                }
            )
        row = RuleVersion(
            province_code=code,
            workflow=workflow,
            rule=rule,
            version=current + 1,
            withdrawn=withdrawn,
            reason=reason,
            effective_on=effective_on,
            effective_at=effective_at,
            created_at=now,
            created_by_id=actor.id if actor is not None else None,
            **(values or {"legal_source": ""}),
        )
        summary = {
            "workflow": workflow,
            "rule": rule,
            "version": row.version,
            "withdrawn": withdrawn,
            "effective_on": effective_on.isoformat(),
            "reason": reason,
            **(values or {}),
        }
        try:
            uow.session.add(row)
            uow.session.flush()  # the number is taken here (unique per rule), or refused
            audit.record(
                uow.session,
                uow.settings.audit_key,
                actor=actor,
                action="settings.rule_withdrawn" if withdrawn else "settings.rule_version",
                now=now,
                province_code=code,
                summary=summary,
            )
            uow.commit()
        except sa.exc.IntegrityError:  # another administrator's version took the number
            raise Conflict(
                f"the settings of {rule} changed while you wrote: read them again"
            ) from None
    db.cache.clear()
    return {"province": code, **summary}


def set_override(
    db: Database,
    province: str,
    rule: str,
    *,
    workflow: str = "case",
    duration: int | None = None,
    unit: str | None = None,
    high_risk_duration: int | None = None,
    assignee_role: str | None = None,
    ladder: list[dict[str, Any]] | None = None,
    legal_source: str = "",
    reason: str = "",
    effective_on: date | None = None,
    base_version: int | None = None,
    actor: User | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A new version of a province's own values for a deadline rule, in force for clocks
    opened from local midnight of `effective_on` (default: today) on."""
    now = now or utcnow()
    for field, value in (("duration", duration), ("high_risk_duration", high_risk_duration)):
        if value is not None and not 1 <= value <= 1000:
            raise ValidationError({field: "must be between 1 and 1000"})
    if unit is not None and unit not in UNITS:
        raise ValidationError({"unit": f"must be one of: {', '.join(UNITS)}"})
    if assignee_role is not None and assignee_role not in {r.value for r in Role}:
        raise ValidationError(
            {"assignee_role": f"must be one of: {', '.join(r.value for r in Role)}"}
        )
    ladder = _ladder(ladder)
    if all(v is None for v in (duration, unit, high_risk_duration, assignee_role, ladder)):
        raise ValidationError(
            {
                "rule": "nothing to override: give a duration, unit, "
                "high-risk duration, assignee role or ladder"
            }
        )
    values = {
        "duration": duration,
        "unit": unit,
        "high_risk_duration": high_risk_duration,
        "assignee_role": assignee_role,
        "ladder": ladder,
        "legal_source": (legal_source or "").strip(),
    }
    return _add_version(
        db,
        province,
        rule,
        workflow=workflow,
        values=values,
        reason=reason,
        effective_on=effective_on or now.astimezone(LOCAL).date(),
        base_version=base_version,
        actor=actor,
        now=now,
    )


def withdraw_override(
    db: Database,
    province: str,
    rule: str,
    *,
    workflow: str = "case",
    reason: str = "",
    effective_on: date | None = None,
    base_version: int | None = None,
    actor: User | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A version that withdraws the province's setting: the national default from then on."""
    now = now or utcnow()
    return _add_version(
        db,
        province,
        rule,
        workflow=workflow,
        values=None,
        reason=reason,
        effective_on=effective_on or now.astimezone(LOCAL).date(),
        base_version=base_version,
        actor=actor,
        now=now,
    )


def add_version_from(
    db: Database,
    province: str,
    workflow: str,
    rule: str,
    body: Mapping[str, Any],
    base_version: int | None,
    actor: User,
    now: datetime | None = None,
) -> dict[str, Any]:
    """`set_override` from a form's data, checked against RULE_VERSION."""
    data = clean(RULE_VERSION, body)
    return set_override(
        db,
        province,
        rule,
        workflow=workflow,
        duration=data.get("duration"),
        unit=data.get("duration_unit"),
        high_risk_duration=data.get("high_risk_duration"),
        assignee_role=data.get("assignee_role"),
        ladder=_form_ladder(data.get("ladder")),
        legal_source=data.get("legal_source", ""),
        reason=data["reason"],
        effective_on=date.fromisoformat(data["effective_on"]),
        base_version=base_version,
        actor=actor,
        now=now,
    )


def withdraw_from(
    db: Database,
    province: str,
    workflow: str,
    rule: str,
    body: Mapping[str, Any],
    base_version: int | None,
    actor: User,
    now: datetime | None = None,
) -> dict[str, Any]:
    data = clean(WITHDRAWAL, body)
    try:
        return withdraw_override(
            db,
            province,
            rule,
            workflow=workflow,
            reason=data["withdraw_reason"],
            effective_on=date.fromisoformat(data["withdraw_on"]),
            base_version=base_version,
            actor=actor,
            now=now,
        )
    except ValidationError as error:
        names = {"effective_on": "withdraw_on", "reason": "withdraw_reason"}
        raise ValidationError({names.get(k, k): v for k, v in error.errors.items()}) from None


def _default(rule: DeadlineRule) -> dict[str, Any]:
    return {
        "duration": rule.duration,
        "unit": str(rule.unit),
        "high_risk_duration": rule.high_risk_duration,
        "assignee_role": rule.assignee_role,
        "ladder": [rung.to_dict() for rung in rule.ladder],
        "legal_source": rule.legal_source,
    }


def _differences(default: Mapping[str, Any], values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What a version sets that differs from the national default."""
    unit = values.get("unit") or default["unit"]  # what a duration is counted in
    return [
        {"field": name, "default": default[name], "value": values[name], "unit": unit}
        for name in OVERRIDABLE
        if values.get(name) not in (None, "") and values[name] != default[name]
    ]


def _history_row(
    row: RuleVersion, authors: Mapping[int, User], default: dict[str, Any]
) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in OVERRIDABLE}
    author = authors.get(row.created_by_id) if row.created_by_id else None
    return {
        "version": row.version,
        "withdrawn": row.withdrawn,
        "values": values,
        "differences": [] if row.withdrawn else _differences(default, values),
        "reason": row.reason,
        "effective_on": row.effective_on,
        "effective_at": row.effective_at,
        "created_at": row.created_at,
        "author": (author.full_name or author.username) if author else None,
        "author_role": author.role if author else None,
    }


def workflow_settings(
    db: Database,
    actor: User | None,
    province: str,
    workflow: str = "case",
    rule: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """For each deadline rule of the workflow (or only `rule`): the national default, the
    version in force now, the versions scheduled after now, what the one in force changes
    from the default, and the whole history (newest first)."""
    now = now or utcnow()
    unit = _province(db, province)
    _check(actor, unit.code)
    if workflow not in WORKFLOWS:
        raise ValidationError({"workflow": f"unknown workflow (known: {', '.join(WORKFLOWS)})"})
    definitions = WORKFLOWS[workflow].deadlines
    if rule is not None:
        definitions = (_rule(workflow, rule),)
    with db.uow(readonly=True) as uow:
        rows = uow.session.scalars(
            sa.select(RuleVersion)
            .where(RuleVersion.province_code == unit.code, RuleVersion.workflow == workflow)
            .order_by(RuleVersion.rule, RuleVersion.version)
        ).all()
        ids = {r.created_by_id for r in rows if r.created_by_id}
        authors = (
            {u.id: u for u in uow.session.scalars(sa.select(User).where(User.id.in_(ids)))}
            if ids
            else {}
        )
        versions = load_versions(uow.session, workflow, unit.code)
    chosen = in_force(versions, now)
    rules = []
    for definition in definitions:
        default = _default(definition)
        history = [_history_row(r, authors, default) for r in rows if r.rule == definition.name]
        held = chosen.get(definition.name)
        current = next((h for h in history if held and h["version"] == held.version), None)
        rules.append(
            {
                "name": definition.name,
                "step": definition.step,
                "anchor": str(definition.anchor),
                "default": default,
                "in_force": current,
                "overridden": bool(current and not current["withdrawn"]),
                "scheduled": [h for h in history if h["effective_at"] > now],
                "differences": current["differences"] if current else [],
                "history": list(reversed(history)),
                "latest_version": history[-1]["version"] if history else 0,
            }
        )
    return {
        "province": {"code": unit.code, "name": unit.name},
        "workflow": workflow,
        "today": now.astimezone(LOCAL).date(),
        "rules": rules,
    }


def overrides(db: Database, province: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """The province's settings in force now, per workflow and rule (the command line's)."""
    now = now or utcnow()
    code = _province(db, province).code
    found = []
    with db.uow(readonly=True) as uow:
        for workflow in WORKFLOWS:
            for rule, version in sorted(
                in_force(load_versions(uow.session, workflow, code), now).items()
            ):
                if not version.withdrawn:
                    found.append(
                        {"rule": rule, "workflow": workflow, "version": version.version}
                        | dict(version.values)
                    )
    return found


def today(now: datetime | None = None) -> date:
    """Today in Vietnam (the earliest date a version may take effect)."""
    return (now or utcnow()).astimezone(LOCAL).date()


# --- the workflow's diagram -----------------------------------------------------------------


def workflow_names() -> list[str]:
    return list(WORKFLOWS)


def workflow_diagram(name: str) -> dict[str, Any]:
    """The workflow's states and transitions as a graph, laid out in rows
    (workflows/graph.py: the same graph the command line prints as Mermaid), and who may
    fire each event."""
    from workflows.graph import layout, transition_graph

    if name not in WORKFLOWS:
        raise NotFound(f"unknown workflow (known: {', '.join(WORKFLOWS)})")
    definition = WORKFLOWS[name]
    graph = transition_graph(definition)
    return {
        "name": name,
        "legal_basis": definition.legal_basis,
        "graph": graph,
        "layout": layout(graph),
        "by": {event: tuple(spec.by) for event, spec in definition.events.items()},
    }
