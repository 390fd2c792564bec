"""Versioned workflow settings per province: a version applies to clocks opened from its
effective date on, a withdrawal brings the national default back, running clocks never
change, and every version is on record with who, why and from when."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from casework import migrate
from casework.errors import Conflict, PermissionDenied, ValidationError
from casework.models import AuditEvent, RuleVersion
from casework.rules import rules_for
from casework.services.queries import get_case
from casework.services.settings import (
    set_override,
    withdraw_override,
    workflow_settings,
)
from tests.conftest import HOME, _database_url, at
from tests.helpers import deadline, open_case


def due_of(db, people, case, rule="initial_assessment"):
    view = get_case(db, people["officer"], case["id"])
    from casework.clock import parse_iso

    return parse_iso(deadline(view, rule)["due_at"])


def shorter_assessment(db, people, effective: str, now: str, **extra):
    return set_override(
        db,
        "48",
        "initial_assessment",
        duration=8,
        unit="hours",
        legal_source="QĐ 704/QĐ-UBND",
        reason="The province verifies within 8 hours",
        effective_on=date.fromisoformat(effective),
        actor=people["admin"],
        now=at(now),
        **extra,
    )


def counts(db) -> tuple[int, int]:
    with db.uow(readonly=True) as uow:
        versions = uow.session.scalar(sa.select(sa.func.count(RuleVersion.id)))
        events = uow.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action.like("settings.%"))
        )
    return versions or 0, events or 0


def test_an_override_applies_only_to_clocks_opened_from_its_effective_date(db, people) -> None:
    shorter_assessment(db, people, effective="2027-03-02", now="2027-02-20T10:00")
    before = open_case(db, people, received_at="2027-03-01T23:00:00+07:00")
    after = open_case(
        db,
        people,
        received_at="2027-03-02T08:00:00+07:00",
        child={
            "full_name": "Trần Văn Minh",
            "sex": "male",
            "birth_date": "2017-01-01",
            "unit_code": HOME,
            "address": "Tổ 1",
        },
    )
    # Opened 23:10 on 1 March (before local midnight): the national 12 hours.
    assert due_of(db, people, before) == at("2027-03-02T11:00:00")
    # Opened on 2 March: the province's 8 hours, with its legal source.
    assert due_of(db, people, after) == at("2027-03-02T16:00:00")
    view = get_case(db, people["officer"], after["id"])
    assert deadline(view, "initial_assessment")["legal_source"].startswith("QĐ 704")


def test_a_withdrawal_restores_the_default_for_new_clocks_and_old_clocks_keep_theirs(
    db, people
) -> None:
    shorter_assessment(db, people, effective="2027-03-01", now="2027-02-20T10:00")
    under_override = open_case(db, people, received_at="2027-03-02T08:00:00+07:00")
    withdraw_override(
        db,
        "48",
        "initial_assessment",
        reason="QĐ 704 repealed",
        effective_on=date(2027, 3, 5),
        actor=people["admin"],
        now=at("2027-03-03T09:00"),
    )
    after = open_case(
        db,
        people,
        received_at="2027-03-05T08:00:00+07:00",
        child={
            "full_name": "Lê Văn Nam",
            "sex": "male",
            "birth_date": "2016-02-02",
            "unit_code": HOME,
            "address": "Tổ 9",
        },
    )
    assert due_of(db, people, after) == at("2027-03-05T20:00:00")  # 12 h again
    # The clock opened under the override keeps its 8 hours.
    assert due_of(db, people, under_override) == at("2027-03-02T16:00:00")


def test_rules_in_force_are_chosen_by_the_moment_a_clock_opens(db, people) -> None:
    shorter_assessment(db, people, effective="2027-03-02", now="2027-02-20T10:00")
    withdraw_override(
        db,
        "48",
        "initial_assessment",
        reason="Back to the national rule",
        effective_on=date(2027, 3, 10),
        actor=people["admin"],
        now=at("2027-02-21T10:00"),
    )
    with db.uow(readonly=True) as uow:

        def hours(moment: str) -> int:
            rules = rules_for(uow.session, "case", "48", at(moment))
            return next(r for r in rules if r.name == "initial_assessment").duration

        assert hours("2027-03-01T23:59:59") == 12
        assert hours("2027-03-02T00:00:00") == 8  # local midnight
        assert hours("2027-03-09T23:59") == 8
        assert hours("2027-03-10T00:00") == 12
        hanoi = rules_for(uow.session, "case", "01", at("2027-03-05T00:00"))
        assert next(r for r in hanoi if r.name == "initial_assessment").duration == 12


def test_history_lists_every_version_with_author_reason_dates_and_differences(db, people) -> None:
    shorter_assessment(db, people, effective="2027-03-02", now="2027-02-20T10:00")
    withdraw_override(
        db,
        "48",
        "initial_assessment",
        reason="Back to the national rule",
        effective_on=date(2027, 3, 10),
        base_version=1,
        actor=people["admin"],
        now=at("2027-02-21T10:00"),
    )
    found = workflow_settings(db, people["admin"], "48", now=at("2027-03-05T12:00"))
    rule = next(r for r in found["rules"] if r["name"] == "initial_assessment")
    assert rule["default"]["duration"] == 12 and rule["default"]["unit"] == "hours"
    assert rule["in_force"]["version"] == 1
    assert rule["differences"] == [
        {"field": "duration", "default": 12, "value": 8, "unit": "hours"},
        {
            "field": "legal_source",
            "default": rule["default"]["legal_source"],
            "value": "QĐ 704/QĐ-UBND",
            "unit": "hours",
        },
    ]
    assert [v["version"] for v in rule["scheduled"]] == [2]
    assert [
        (v["version"], v["withdrawn"], v["author"], v["reason"], v["effective_on"])
        for v in rule["history"]
    ] == [
        (2, True, "admin", "Back to the national rule", date(2027, 3, 10)),
        (1, False, "admin", "The province verifies within 8 hours", date(2027, 3, 2)),
    ]
    later = workflow_settings(db, people["admin"], "48", now=at("2027-03-10T00:00"))
    rule = next(r for r in later["rules"] if r["name"] == "initial_assessment")
    assert rule["in_force"]["withdrawn"] and not rule["overridden"] and rule["differences"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"effective": "2027-02-19"}, "effective_on"),  # yesterday in Vietnam
        ({"reason": "  "}, "reason"),
        ({"duration": 0}, "duration"),
    ],
)
def test_bad_versions_are_refused_and_nothing_is_written(db, people, change, field) -> None:
    before = counts(db)
    with pytest.raises(ValidationError) as error:
        set_override(
            db,
            "48",
            "initial_assessment",
            duration=change.get("duration", 8),
            reason=change.get("reason", "why"),
            effective_on=date.fromisoformat(change.get("effective", "2027-03-01")),
            actor=people["admin"],
            now=at("2027-02-20T10:00"),
        )
    assert field in error.value.errors
    assert counts(db) == before


def test_a_version_dated_before_the_newest_is_refused(db, people) -> None:
    shorter_assessment(db, people, effective="2027-03-10", now="2027-02-20T10:00")
    before = counts(db)
    with pytest.raises(ValidationError) as error:
        shorter_assessment(db, people, effective="2027-03-05", now="2027-02-21T10:00")
    assert "effective_on" in error.value.errors
    assert counts(db) == before


def test_a_version_based_on_a_stale_read_is_refused(db, people) -> None:
    shorter_assessment(db, people, effective="2027-03-02", now="2027-02-20T10:00")
    shorter_assessment(db, people, effective="2027-03-02", now="2027-02-20T11:00", base_version=1)
    before = counts(db)
    with pytest.raises(Conflict) as error:  # read when version 1 was the newest
        shorter_assessment(
            db, people, effective="2027-03-03", now="2027-02-20T12:00", base_version=1
        )
    assert "version 1" in error.value.message and "newest is 2" in error.value.message
    assert counts(db) == before


def test_withdrawing_without_a_setting_is_refused(db, people) -> None:
    with pytest.raises(ValidationError):
        withdraw_override(db, "48", "initial_assessment", reason="nothing", actor=people["admin"])
    assert counts(db) == (0, 0)


def test_a_province_administrator_changes_its_own_province_only(db, people) -> None:
    people.make("admin.48", "admin", "48")
    own = set_override(
        db,
        "48",
        "initial_assessment",
        duration=8,
        reason="ours",
        effective_on=date(2027, 3, 1),
        actor=people["admin.48"],
        now=at("2027-02-20T10:00"),
    )
    assert own["version"] == 1
    before = counts(db)
    with pytest.raises(PermissionDenied):
        set_override(
            db,
            "01",
            "initial_assessment",
            duration=8,
            reason="theirs",
            effective_on=date(2027, 3, 1),
            actor=people["admin.48"],
            now=at("2027-02-20T10:00"),
        )
    with pytest.raises(PermissionDenied):
        workflow_settings(db, people["admin.48"], "01")
    with pytest.raises(PermissionDenied):
        set_override(
            db, "48", "initial_assessment", duration=8, reason="x", actor=people["province"]
        )
    assert counts(db) == before


def test_every_version_is_audited(db, people) -> None:
    shorter_assessment(db, people, effective="2027-03-02", now="2027-02-20T10:00")
    withdraw_override(
        db,
        "48",
        "initial_assessment",
        reason="repealed",
        effective_on=date(2027, 3, 4),
        actor=people["admin"],
        now=at("2027-02-21T10:00"),
    )
    with db.uow(readonly=True) as uow:
        events = uow.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.action.like("settings.rule%"))
            .order_by(AuditEvent.id)
        ).all()
    assert [(e.action, e.actor, e.summary["version"], e.summary["reason"]) for e in events] == [
        ("settings.rule_version", "admin", 1, "The province verifies within 8 hours"),
        ("settings.rule_withdrawn", "admin", 2, "repealed"),
    ]
    assert {e.chain for e in events} == {"48"}


def test_0012_carries_overrides_over_as_version_1_from_their_last_change(backend, request) -> None:
    url = _database_url(backend, request, name="casework_versions_0012")
    migrate.downgrade(url, "0011")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO deadline_overrides (province_code, workflow, rule, duration,"
                    " unit, legal_source, updated_at) VALUES ('48', 'case',"
                    " 'initial_assessment', 8, 'hours', 'QĐ 704', :at)"
                ),
                {"at": "2027-01-10 03:00:00"},  # UTC: 10:00 in Vietnam
            )
    finally:
        engine.dispose()
    migrate.upgrade(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT version, withdrawn, duration, unit, legal_source, effective_on,"
                    " reason, created_by_id FROM rule_versions"
                )
            ).one()
            assert "deadline_overrides" not in sa.inspect(conn).get_table_names()
        from sqlalchemy.orm import Session

        with Session(engine) as session:

            def hours(moment: str) -> int:
                rules = rules_for(session, "case", "48", at(moment))
                return next(r for r in rules if r.name == "initial_assessment").duration

            assert hours("2027-01-10T09:59") == 12  # before its last change: the default
            assert hours("2027-01-10T10:00") == 8
    finally:
        engine.dispose()
    assert (row.version, bool(row.withdrawn), row.duration, row.unit, row.legal_source) == (
        1,
        False,
        8,
        "hours",
        "QĐ 704",
    )
    assert str(row.effective_on) == "2027-01-10" and row.created_by_id is None
    assert "0012" in row.reason
    # And back: the newest version becomes the one row again.
    migrate.downgrade(url, "0011")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            back = conn.execute(sa.text("SELECT duration, unit FROM deadline_overrides")).one()
    finally:
        engine.dispose()
    assert tuple(back) == (8, "hours")
    migrate.upgrade(url)


def test_the_cache_holds_the_version_list_not_the_rules_of_one_moment(db, people) -> None:
    """A version scheduled for tomorrow takes effect at its moment although the cache was
    filled before it, and the rules of yesterday are still those of yesterday."""
    from casework.rules import province_rules

    shorter_assessment(db, people, effective="2027-03-02", now="2027-02-20T10:00")

    def hours(moment: str) -> int:
        with db.uow(readonly=True) as uow:
            rules = province_rules(uow, "case", "48", at(moment))
        return next(r for r in rules if r.name == "initial_assessment").duration

    assert hours("2027-03-01T23:00") == 12  # fills the cache
    assert hours("2027-03-02T00:00") == 8  # same cache, later moment
    assert hours("2027-03-01T23:00") == 12


def test_two_administrators_writing_the_same_version_number_one_is_refused(
    db, people, backend, monkeypatch
) -> None:
    """PostgreSQL: the second writer read before the first committed; the unique version
    number refuses it (SQLite's writers queue, so the second reads the first's version)."""
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers: the second reads the first's version")
    import threading
    import time

    from casework import audit as audit_module

    release = threading.Event()
    record = audit_module.record

    def held(*args, **kwargs):
        if threading.current_thread().name == "first":
            release.wait(10)  # its version row is written, not yet committed
        return record(*args, **kwargs)

    monkeypatch.setattr(audit_module, "record", held)
    answers: dict[str, object] = {}

    def write(name: str) -> None:
        try:
            answers[name] = shorter_assessment(db, people, "2027-03-02", "2027-02-20T10:00")
        except Exception as error:  # noqa: BLE001 - the test reads what each got
            answers[name] = error

    first = threading.Thread(target=write, args=("first",), name="first")
    second = threading.Thread(target=write, args=("second",), name="second")
    first.start()
    time.sleep(0.5)
    second.start()
    time.sleep(1.0)  # the second has read "no version yet" and waits on the number
    release.set()
    first.join(20)
    second.join(20)
    assert answers["first"]["version"] == 1
    assert isinstance(answers["second"], Conflict)
    assert counts(db) == (1, 1)
