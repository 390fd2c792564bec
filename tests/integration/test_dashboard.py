"""The supervisor's overview: its counts against a count made by hand over the same cases,
in scope only; closed cases and other provinces never count."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from casework.deadlines import sweep
from casework.errors import ValidationError
from casework.models import Case, Deadline, FiredRung, PlanTask
from casework.services.dashboard import TILES, horizon_hours, overview
from tests.conftest import HANOI, HOME, NEIGHBOUR, at
from tests.helpers import case_in, drive, open_case

NOW = at("2027-02-06T10:00:00")


def by_hand(db, where, now, hours):
    """The tiles counted case by case in Python, from the rows."""
    horizon = now + timedelta(hours=hours)
    counts = dict.fromkeys(TILES, 0)
    with db.uow(readonly=True) as uow:
        s = uow.session
        for case in s.scalars(sa.select(Case)):
            if not where(case) or case.state == "closed":
                if where(case) and case.state == "plan_approval":
                    counts["approval"] += 1
                continue
            clocks = [
                d
                for d in s.scalars(sa.select(Deadline).where(Deadline.case_id == case.id))
                if d.status == "open" and d.task_id is None
            ]
            late = any(d.due_at < now for d in clocks)
            soon = any(now <= d.due_at < horizon for d in clocks)
            escalated = any(
                f.rung == "escalated" and s.get(Deadline, f.deadline_id).status == "open"
                for f in s.scalars(sa.select(FiredRung).where(FiredRung.case_id == case.id))
            )
            counts["unassigned"] += case.assignee_id is None and case.state in (
                "received",
                "transferred",
            )
            counts["overdue"] += late
            counts["due_soon"] += soon and not late
            counts["escalated"] += escalated
            counts["approval"] += case.state == "plan_approval"
    return counts


def child(name: str, unit: str = HOME) -> dict[str, object]:
    return {"full_name": name, "sex": "female", "age_years": 8, "unit_code": unit}


@pytest.fixture
def area(db, people):
    """Cases in every state at the home commune, one late at the neighbour, one in Hà Nội."""
    made = {
        state: case_in(db, people, state, child=child(f"Trẻ {state}"))
        for state in (
            "transferred",
            "initial_assessment",
            "specific_assessment",
            "plan_approval",
            "implementing",
            "closed",
        )
    }
    fresh = open_case(
        db,
        people,
        now=NOW - timedelta(hours=1),
        received_at=(NOW - timedelta(hours=1)).isoformat(),
        child=child("Trẻ mới báo"),
    )
    made["fresh"] = fresh
    neighbour = open_case(
        db,
        people,
        child={"full_name": "Lê Văn Bình", "sex": "male", "age_years": 9, "unit_code": NEIGHBOUR},
        incident_unit_code=NEIGHBOUR,
    )
    made["neighbour"] = neighbour
    hanoi = open_case(
        db,
        people,
        actor="intake.111",
        child={"full_name": "Trần Thị Mai", "sex": "female", "age_years": 6, "unit_code": HANOI},
        incident_unit_code=HANOI,
    )
    made["hanoi"] = hanoi
    sweep(db, NOW)
    return made


@pytest.mark.parametrize("hours", [1, 48, 24 * 30])
def test_a_chairs_tiles_are_the_communes_cases_counted_by_hand(db, people, area, hours) -> None:
    chair = people["chair"]
    got = overview(db, chair, hours, now=NOW)
    expected = by_hand(db, lambda c: c.unit_id == chair.unit_id, NOW, hours)
    assert got["tiles"] == expected
    assert got["by"] == "officer"
    assert sum(got["tiles"].values()) > 0
    # The table by officer adds up to the tiles.
    for tile in TILES:
        assert sum(row[tile] for row in got["rows"]) == got["tiles"][tile]


def test_the_province_sees_its_communes_and_never_another_province(db, people, area) -> None:
    province = people["province"]
    got = overview(db, province, 48, now=NOW)
    expected = by_hand(db, lambda c: c.province_code == province.province_code, NOW, 48)
    assert got["tiles"] == expected and got["by"] == "commune"
    communes = {row["key"] for row in got["rows"]}
    assert NEIGHBOUR in communes and HANOI not in communes
    everything = by_hand(db, lambda c: True, NOW, 48)
    assert everything["overdue"] > expected["overdue"]  # Hà Nội's late case is not counted


def test_closed_cases_never_count(db, people, area) -> None:
    closed = area["closed"]["id"]
    with db.uow() as uow:  # even with a clock left open by mistake
        clock = uow.session.scalars(sa.select(Deadline).where(Deadline.case_id == closed)).first()
        clock.status, clock.due_at = "open", NOW - timedelta(days=1)
        uow.commit()
    before = overview(db, people["chair"], 48, now=NOW)["tiles"]["overdue"]
    assert before == by_hand(db, lambda c: c.unit_id == people["chair"].unit_id, NOW, 48)["overdue"]


def test_agencies_declined_and_overdue_tasks(db, people, area) -> None:
    case_id = area["implementing"]["id"]
    with db.uow() as uow:
        tasks = list(uow.session.scalars(sa.select(PlanTask).where(PlanTask.case_id == case_id)))
        tasks[0].status = "declined"
        tasks[1].due_date = (NOW - timedelta(days=2)).date()
        kinds = (tasks[0].agency_kind, tasks[1].agency_kind)
        uow.commit()
    agencies = overview(db, people["chair"], 48, now=NOW)["agencies"]
    assert agencies[kinds[0]]["declined"] == 1
    assert agencies[kinds[1]]["overdue"] == 1


def test_only_supervisors_have_an_overview(db, people) -> None:
    for role in ("officer", "intake", "police", "admin"):
        assert overview(db, people[role], now=NOW) == {}


def test_the_horizon_is_checked() -> None:
    assert horizon_hours(None) == 48 and horizon_hours("12") == 12
    for bad in ("0", "-1", "abc", "1.5", str(24 * 31 + 1)):
        with pytest.raises(ValidationError) as caught:
            horizon_hours(bad)
        assert "hours" in caught.value.errors


def test_accepting_a_case_takes_it_off_the_unassigned_tile(db, people, area) -> None:
    chair = people["chair"]
    before = overview(db, chair, 48, now=NOW)["tiles"]["unassigned"]
    assert before >= 1
    later = NOW + timedelta(minutes=5)
    drive(db, people, area["transferred"]["id"], ["accept"], later, timedelta(seconds=1))
    after = overview(db, chair, 48, now=later + timedelta(minutes=1))
    assert after["tiles"]["unassigned"] == before - 1
    assert after["tiles"] == by_hand(
        db, lambda c: c.unit_id == chair.unit_id, later + timedelta(minutes=1), 48
    )


def test_the_forecast_by_step_adds_up_to_the_tiles(db, people, area) -> None:
    for who in ("chair", "province"):
        got = overview(db, people[who], 24 * 30, now=NOW)
        for tile in ("overdue", "due_soon"):
            assert sum(s[tile] for s in got["steps"]) == got["tiles"][tile], (who, tile)
        with db.uow(readonly=True) as uow:  # by hand: the steps the late cases are in
            late_states = {
                uow.session.get(Case, c).state
                for c in uow.session.scalars(
                    sa.select(Deadline.case_id).where(
                        Deadline.status == "open", Deadline.task_id.is_(None), Deadline.due_at < NOW
                    )
                )
                if uow.session.get(Case, c).state != "closed"
                and (who == "province" or uow.session.get(Case, c).unit_id == people[who].unit_id)
                and uow.session.get(Case, c).province_code == "48"
            }
        assert {s["state"] for s in got["steps"] if s["overdue"]} == late_states
