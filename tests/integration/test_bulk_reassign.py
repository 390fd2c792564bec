"""Bulk reassignment: each case through the single reassignment (audited per case, clocks
never reset); a batch with a case the officer cannot take writes nothing and names it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from casework.errors import PermissionDenied, ValidationError
from casework.models import AuditEvent, Case, Deadline
from casework.services.cases import reassign_many
from tests.conftest import NEIGHBOUR
from tests.helpers import case_in, open_case


def child(name: str, unit: str) -> dict[str, object]:
    return {"full_name": name, "sex": "male", "age_years": 7, "unit_code": unit}


@pytest.fixture
def cases(db, people):
    made = [
        case_in(db, people, state, child=child(f"Trẻ {state}", "20194"))
        for state in ("initial_assessment", "plan_approval")
    ]
    made.append(
        open_case(
            db, people, child=child("Trẻ láng giềng", NEIGHBOUR), incident_unit_code=NEIGHBOUR
        )
    )
    return made


def snapshot(db, ids):
    with db.uow(readonly=True) as uow:
        s = uow.session
        return {
            "assignees": {
                c.id: c.assignee_id for c in s.scalars(sa.select(Case).where(Case.id.in_(ids)))
            },
            "clocks": sorted(
                (d.id, d.due_at, d.status)
                for d in s.scalars(sa.select(Deadline).where(Deadline.case_id.in_(ids)))
            ),
            "audit": s.scalar(
                sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "case.assigned")
            ),
        }


def version(db, case_id):
    with db.uow(readonly=True) as uow:
        return uow.session.get(Case, case_id).version


def test_each_case_is_reassigned_and_audited_and_no_clock_moves(db, people, cases) -> None:
    people.make("officer.b", "officer", "20194")
    home = [c["id"] for c in cases[:2]]
    before = snapshot(db, home)
    got = reassign_many(db, people["chair"], [(i, version(db, i)) for i in home], "officer.b")
    assert not got["refused"] and all(r["done"] for r in got["results"])
    after = snapshot(db, home)
    officer_b = people["officer.b"].id
    assert set(after["assignees"].values()) == {officer_b}
    assert after["clocks"] == before["clocks"]  # due times and statuses unchanged
    assert after["audit"] == before["audit"] + 2  # one audit event per case


def test_a_case_of_another_commune_refuses_the_batch_by_name(db, people, cases) -> None:
    ids = [c["id"] for c in cases]
    before = snapshot(db, ids)
    got = reassign_many(db, people["province"], [(i, version(db, i)) for i in ids], "officer")
    assert got["refused"]
    problems = {r["reference"]: r["problem"] for r in got["results"]}
    assert problems[cases[2]["reference"]] == "other_commune"
    assert problems[cases[0]["reference"]] is None
    assert snapshot(db, ids) == before  # nothing written


def test_a_stale_version_and_an_unseen_case_are_reported(db, people, cases) -> None:
    home, neighbour = cases[0]["id"], cases[2]["id"]
    before = snapshot(db, [home, neighbour])
    stale = reassign_many(db, people["chair"], [(home, version(db, home) - 1)], "officer")
    assert stale["refused"] and stale["results"][0]["problem"] == "stale"
    unseen = reassign_many(db, people["chair"], [(neighbour, 1)], "officer")
    assert unseen["results"][0] == {
        "case_id": neighbour,
        "reference": None,  # the chair does not see it: not even its reference
        "commune": None,
        "problem": "not_found",
        "done": False,
    }
    assert snapshot(db, [home, neighbour]) == before


def test_who_may_and_what_is_asked(db, people, cases) -> None:
    home = cases[0]["id"]
    with pytest.raises(PermissionDenied):
        reassign_many(db, people["officer"], [(home, version(db, home))], "officer")
    with pytest.raises(ValidationError) as caught:
        reassign_many(db, people["chair"], [], "officer")
    assert "case" in caught.value.errors
    with pytest.raises(ValidationError) as caught:
        reassign_many(db, people["chair"], [(home, version(db, home))], "nobody")
    assert "assignee" in caught.value.errors


def test_a_case_changed_between_the_check_and_its_write_is_reported_not_done(
    db, people, cases, monkeypatch
) -> None:
    from casework.errors import Conflict
    from casework.services import cases as commands

    real = commands.assign
    home = [c["id"] for c in cases[:2]]
    chosen = [(i, version(db, i)) for i in home]

    def racing(db_, actor, case_id, *args, **kwargs):
        if case_id == home[1]:  # someone else wrote this case just now
            raise Conflict("changed", current_version=99)
        return real(db_, actor, case_id, *args, **kwargs)

    monkeypatch.setattr(commands, "assign", racing)
    got = reassign_many(db, people["chair"], chosen, "officer")
    assert not got["refused"]
    assert [(r["done"], r["problem"]) for r in got["results"]] == [(True, None), (False, "stale")]
