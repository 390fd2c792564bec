"""The supervisor's charts: their numbers against cases counted by hand (a frozen clock;
cases in several months, communes and provinces; clocks met on time and late)."""

from __future__ import annotations

from datetime import timedelta
from statistics import median

import pytest
import sqlalchemy as sa

from casework.models import Case, Deadline
from casework.services.charts import deadlines_met, median_times, month_starts, new_cases
from tests.conftest import HANOI, HOME, NEIGHBOUR, at
from tests.helpers import drive, open_case

NOW = at("2027-02-06T10:00:00")
FEB, JAN, DEC = 11, 10, 9  # month indexes in the window 03/2026 – 02/2027


def child(name: str, unit: str) -> dict[str, object]:
    return {"full_name": name, "sex": "female", "age_years": 8, "unit_code": unit}


def received(db, people, when: str, types: list[str], unit: str = HOME, **kw):
    actor = "intake.111" if unit == HANOI else "intake"
    return open_case(
        db,
        people,
        actor=actor,
        received_at=f"{when}+07:00",
        abuse_types=types,
        incident_unit_code=unit,
        child=child(f"Trẻ {when}", unit),
        **kw,
    )


@pytest.fixture
def history(db, people):
    """Counted by hand (times local):
    - A (home) received 03/02/2027 09:00, violence; assessed 10:10 (1.17 h), plan approved
      11:40 (2.67 h) — every clock on time;
    - B (home) received 10/12/2026 08:00, neglect and violence; assessed 14:10 (6.17 h);
    - C (home) received 20/12/2026 08:00, sexual abuse; accepted 18:10 (the 3 h assignment
      clock late), assessed 04:10 next day (20.17 h, late);
    - D (home) received 01/12/2025: before the window;
    - E (neighbour commune) received 15/01/2027, violence: the province's, not the chair's;
    - F (Hà Nội) received 15/01/2027, violence: never counted in Đà Nẵng."""
    a = received(db, people, "2027-02-03T09:00:00", ["violence"])
    drive(
        db,
        people,
        a["id"],
        ["accept", "assess", "complete_assessment", "submit_plan", "approve_plan"],
        at("2027-02-03T09:10:00"),
    )
    b = received(db, people, "2026-12-10T08:00:00", ["neglect", "violence"])
    drive(db, people, b["id"], ["accept", "assess"], at("2026-12-10T08:10:00"), timedelta(hours=3))
    c = received(db, people, "2026-12-20T08:00:00", ["sexual_abuse"])
    drive(db, people, c["id"], ["accept", "assess"], at("2026-12-20T08:10:00"), timedelta(hours=10))
    received(db, people, "2025-12-01T08:00:00", ["violence"])
    e = received(db, people, "2027-01-15T08:00:00", ["violence"], unit=NEIGHBOUR)
    received(db, people, "2027-01-15T08:00:00", ["violence"], unit=HANOI)
    return {"a": a, "b": b, "c": c, "e": e}


def test_the_window_is_twelve_months_of_vietnams_calendar() -> None:
    starts = month_starts(at("2027-03-01T00:30:00"))  # still 28/02 in UTC
    assert len(starts) == 13
    assert (starts[0].year, starts[0].month) == (2026, 4)
    assert (starts[-1].year, starts[-1].month) == (2027, 4)


def test_new_cases_per_month_by_form_of_abuse(db, people, history) -> None:
    chair = new_cases(db, people["chair"], NOW)
    assert chair["months"][FEB] == "02/2027" and chair["months"][0] == "03/2026"
    assert chair["totals"][FEB] == 1 and chair["totals"][DEC] == 2 and sum(chair["totals"]) == 3
    assert chair["counts"]["violence"][FEB] == 1 and chair["counts"]["violence"][DEC] == 1
    assert chair["counts"]["neglect"][DEC] == 1 and chair["counts"]["sexual_abuse"][DEC] == 1
    assert chair["counts"]["violence"][JAN] == 0  # the neighbour's case is not the chair's
    province = new_cases(db, people["province"], NOW)
    assert province["totals"][JAN] == 1 and sum(province["totals"]) == 4  # not Hà Nội's
    assert province["counts"]["violence"][JAN] == 1
    assert sum(new_cases(db, people["officer"], NOW)["totals"]) == 0  # no dashboard


def met_by_hand(db, where, now):
    starts = month_starts(now)
    counted: dict[str, list[int]] = {}
    with db.uow(readonly=True) as uow:
        for clock in uow.session.scalars(sa.select(Deadline)):
            case = uow.session.get(Case, clock.case_id)
            if (
                where(case)
                and clock.status == "met"
                and clock.task_id is None
                and starts[0] <= case.received_at < starts[-1]
            ):
                counted.setdefault(clock.rule, [0, 0])[int(clock.late)] += 1
    return counted


def test_the_share_of_deadlines_met_per_step(db, people, history) -> None:
    chair = people["chair"]
    rows = {r["rule"]: r for r in deadlines_met(db, chair, NOW)["rows"]}
    # Counted by hand: three initial assessments, C's late; C's assignment late.
    assert rows["initial_assessment"] == {
        "rule": "initial_assessment",
        "on_time": 2,
        "late": 1,
        "percent": 67,
    }
    assert rows["assignment"]["late"] == 1 and rows["assignment"]["on_time"] == 2
    assert rows["plan_approval"] == {
        "rule": "plan_approval",
        "on_time": 1,
        "late": 0,
        "percent": 100,
    }
    expected = met_by_hand(db, lambda c: c.unit_id == chair.unit_id, NOW)
    assert {r: [v["on_time"], v["late"]] for r, v in rows.items()} == expected
    province = deadlines_met(db, people["province"], NOW)["rows"]
    assert {r["rule"]: [r["on_time"], r["late"]] for r in province} == met_by_hand(
        db, lambda c: c.province_code == "48", NOW
    )


def test_the_median_time_from_receipt_to_assessment_and_to_approval(db, people, history) -> None:
    got = median_times(db, people["chair"], NOW)
    # By month of receipt: A 1.17 h in February; B 6.17 h and C 20.17 h in December
    # (median 13.17 h).
    assert got["monthly"]["initial_assessment"][FEB] == 1.2
    assert got["monthly"]["initial_assessment"][DEC] == 13.2
    assert got["monthly"]["initial_assessment"][JAN] is None
    assert got["overall"]["initial_assessment"] == 6.2
    assert got["counts"] == {"initial_assessment": 3, "plan_approval": 1}
    assert got["monthly"]["plan_approval"][FEB] == 2.7
    assert got["overall"]["plan_approval"] == 2.7
    # In December 2027 the window starts in January: B and C (December 2026) are out.
    later = median_times(db, people["chair"], at("2027-12-06T10:00:00"))
    assert later["counts"]["initial_assessment"] == 1
    assert later["overall"]["initial_assessment"] == round(median([70 / 60]), 1)


def test_out_of_scope_never_counts(db, people, history) -> None:
    # The neighbour's chair sees only the neighbour's case; Hà Nội's province only its own.
    other = new_cases(db, people["chair.2"], NOW)
    assert sum(other["totals"]) == 1 and other["totals"][JAN] == 1
    hanoi = new_cases(db, people["province.hn"], NOW)
    assert sum(hanoi["totals"]) == 1
    assert deadlines_met(db, people["chair.2"], NOW)["rows"] == [
        r for r in deadlines_met(db, people["chair.2"], NOW)["rows"] if r["rule"] == "transfer"
    ]
    assert median_times(db, people["province.hn"], NOW)["counts"] == {
        "initial_assessment": 0,
        "plan_approval": 0,
    }


def test_the_page_figures_are_counted_once_per_scope_and_again_after_five_minutes(
    db, people, history, monkeypatch
) -> None:
    import time_machine

    from casework import db as database
    from casework.services.charts import figures

    clock = [1000.0]
    monkeypatch.setattr(database, "monotonic", lambda: clock[0])
    with time_machine.travel(NOW, tick=False):
        first = figures(db, people["chair"])
        assert sum(first["new_cases"]["totals"]) == 3
        assert first["counted_at"] == NOW
        received(db, people, "2027-02-05T09:00:00", ["neglect"])
        clock[0] += database.STATS_SECONDS - 1
        assert figures(db, people["chair"]) is first  # kept: the same twelve months
        # The province's officer has a scope of its own: counted for it, with the new case.
        assert sum(figures(db, people["province"])["new_cases"]["totals"]) == 5
        clock[0] += 2
        again = figures(db, people["chair"])
        assert sum(again["new_cases"]["totals"]) == 4
        assert again["new_cases"]["counts"]["neglect"][FEB] == 1
