"""Two people fire on the same case at once: one wins, the other gets a conflict."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import sqlalchemy as sa

from casework.errors import Conflict
from casework.models import CaseTransition
from casework.services.cases import fire_event
from casework.services.queries import get_case
from tests.conftest import at
from tests.helpers import case_in

NOW = at("2027-02-04T10:00:00")


def test_two_sessions_same_version_one_wins(db, people) -> None:
    view = case_in(db, people, "initial_assessment")
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def assess(risk: str) -> None:
        barrier.wait()
        try:
            outcomes.append(
                fire_event(
                    db,
                    people["officer"],
                    view["id"],
                    "assess",
                    view["version"],
                    {"verified": True, "risk_level": risk, "findings": risk},
                    now=NOW,
                )
            )
        except Conflict as error:
            outcomes.append(error)

    threads = [threading.Thread(target=assess, args=(risk,)) for risk in ("low", "high")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wins = [o for o in outcomes if isinstance(o, dict)]
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(wins) == 1 and len(conflicts) == 1
    assert conflicts[0].current_version == wins[0]["version"]
    final = get_case(db, people["officer"], view["id"], now=NOW)
    assert final["risk_level"] == wins[0]["risk_level"]
    with db.uow(readonly=True) as uow:
        assessed = uow.session.scalar(
            sa.select(sa.func.count()).where(
                CaseTransition.case_id == view["id"], CaseTransition.event == "assess"
            )
        )
    assert assessed == 1


def test_loser_can_retry_with_the_new_version(db, people) -> None:
    view = case_in(db, people, "initial_assessment")
    fire_event(
        db,
        people["officer"],
        view["id"],
        "assess",
        view["version"],
        {"verified": True, "risk_level": "low", "findings": "x"},
        now=NOW,
    )
    current = get_case(db, people["officer"], view["id"], now=NOW)
    again = fire_event(
        db,
        people["officer"],
        view["id"],
        "complete_assessment",
        current["version"],
        {"needs": "n", "meeting_minutes": "m"},
        now=NOW,
    )
    assert again["state"] == "plan_drafting"


def test_parallel_intake_in_two_provinces_does_not_serialise_on_one_chain(db, people) -> None:
    from casework.services.intake import record_report
    from tests.conftest import report_payload

    errors: list[BaseException] = []

    def intake(n: int, commune: str, actor: str) -> None:
        try:
            for i in range(5):
                record_report(
                    db,
                    people[actor],
                    report_payload(
                        incident_unit_code=commune,
                        child={"full_name": f"Trẻ {n}-{i}", "sex": "male", "age_years": 5},
                    ),
                    now=at("2027-02-03T10:00:00"),
                )
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [
        threading.Thread(target=intake, args=(1, "20194", "intake")),
        threading.Thread(target=intake, args=(2, "00004", "intake.111")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    from casework import audit

    with db.uow(readonly=True) as uow:
        assert audit.verify(uow.session, uow.settings.audit_key).ok


def test_connections_killed_while_idle_are_replaced_without_a_failed_request(
    db, people, backend, monkeypatch
) -> None:
    """After a database restart or failover, the pooled connections are dead; the next
    event and the next read must still work (connections idle for over a second are
    pinged before use, and a dead one is replaced)."""
    import pytest

    if backend != "postgresql":
        pytest.skip("SQLite has no server connections to lose")
    from casework import db as db_module

    case = case_in(db, people, "initial_assessment")
    get_case(db, people["officer"], case["id"], now=at("2027-02-03T09:00:00"))
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE", 0.0)
    killer = sa.create_engine(db.url, poolclass=sa.pool.NullPool)
    try:
        with killer.connect() as conn:
            killed = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        killer.dispose()
    assert killed >= 2  # the store's connection and the unit of work's
    view = fire_event(
        db,
        people["officer"],
        case["id"],
        "assess",
        case["version"],
        {"verified": True, "risk_level": "low", "findings": "f"},
        now=at("2027-02-03T10:00:00"),
    )
    assert view["state"] == "specific_assessment"
    assert get_case(db, people["officer"], case["id"])["version"] == view["version"]


def test_a_write_that_finds_its_case_moved_on_writes_nothing(db, people, backend) -> None:
    """The event read version n, someone else wrote n+1 before this event's write: the
    write is refused as a whole — no history row, no clock, no audit event — and the
    conflict names the version that won."""
    import pytest

    if backend == "sqlite":
        pytest.skip("SQLite reads an event's case under its write lock: no write between")
    from casework.casestore import open_store
    from casework.models import AuditEvent, Deadline
    from casework.services.cases import plan_event

    view = case_in(db, people, "initial_assessment")

    def counts():
        with db.uow(readonly=True) as uow:
            return [
                uow.session.scalar(sa.select(sa.func.count()).select_from(model))
                for model in (CaseTransition, Deadline, AuditEvent)
            ]

    with open_store(db) as store:
        case = store.load(view["id"])
        change = plan_event(
            store,
            case,
            people["officer"],
            "assess",
            {"verified": True, "risk_level": "low", "findings": "f"},
            NOW,
        )
        winner = fire_event(
            db,
            people["officer"],
            view["id"],
            "assess",
            view["version"],
            {"verified": True, "risk_level": "high", "findings": "h"},
            now=NOW,
        )
        before = counts()
        with pytest.raises(Conflict) as raised:
            store.write(change)
    assert raised.value.current_version == winner["version"]
    assert counts() == before
    with db.uow(readonly=True) as uow:
        from casework import audit

        assert audit.verify(uow.session, uow.settings.audit_key).ok
    assert get_case(db, people["officer"], view["id"], now=NOW)["risk_level"] == "high"


def test_events_agency_answers_and_sweeps_at_once_never_deadlock(db, people, backend) -> None:
    """Three kinds of writers touch the same rows in one province at the same time: people
    closing cases (case → tasks → clocks → chain head), agencies answering tasks (task →
    clocks → chain head) and the sweep firing the same clocks' rungs (clocks → chain head).
    They take their locks in that one order, so none of them ever dies in a deadlock."""
    import pytest

    if backend == "sqlite":
        pytest.skip("SQLite serialises writers: nothing to interleave")
    from casework.deadlines import sweep
    from casework.errors import EventNotAllowed
    from casework.services.queries import list_tasks
    from casework.services.tasks import respond
    from tests.helpers import report_payload

    cases = [
        case_in(
            db,
            people,
            "reviewing",
            child={**report_payload()["child"], "full_name": f"Trẻ số {n}"},
        )
        for n in range(6)
    ]
    tasks = [t for t in list_tasks(db, people["police"]) if t["status"] == "proposed"]
    late = at("2027-12-31T20:00:00")  # every task clock is due: the sweep fires them all
    failures: list[BaseException] = []
    start = threading.Barrier(3)

    def guarded(work):
        def run() -> None:
            start.wait()
            try:
                work()
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)

        return run

    def close_cases() -> None:
        review = {"review": {"harm": "low", "abuser_access": "low", "environment": "low"}}
        for view in cases:
            with contextlib.suppress(Conflict):
                fire_event(db, people["chair"], view["id"], "close", view["version"], review, late)

    def answer_tasks() -> None:
        for task in tasks:
            with contextlib.suppress(EventNotAllowed):  # the case was closed first
                respond(db, people["police"], task["id"], "accept", now=late)

    def sweeps() -> None:
        for _ in range(3):
            sweep(db, late, batch_size=5)

    threads = [threading.Thread(target=guarded(w)) for w in (close_cases, answer_tasks, sweeps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [], [str(f).splitlines()[:3] for f in failures]
    with db.uow(readonly=True) as uow:
        from casework import audit

        assert audit.verify(uow.session, uow.settings.audit_key).ok
