"""Intake: cases, advice contacts, repeat reports."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from casework.errors import ValidationError
from casework.models import Case, Child, Report
from casework.services.intake import name_key, record_report
from tests.conftest import at, report_payload
from tests.helpers import case_in, open_case

NOW = at("2027-02-03T09:10:00")


def count(db, model) -> int:
    with db.uow(readonly=True) as uow:
        return uow.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_advice_contact_is_recorded_without_a_case(db, people) -> None:
    result = record_report(
        db,
        people["intake.111"],
        {
            "kind": "advice",
            "channel": "hotline_111",
            "received_at": "2027-02-03T09:00:00+07:00",
            "description": "Phụ huynh hỏi cách nói chuyện với con về an toàn trên mạng.",
        },
        now=NOW,
    )
    assert result.case is None
    assert result.to_dict() == {"report_id": result.report_id, "kind": "advice"}
    assert count(db, Case) == 0
    with db.uow(readonly=True) as uow:
        report = uow.session.get(Report, result.report_id)
        assert report.kind == "advice" and "an toàn trên mạng" in report.description


def test_a_repeat_report_is_linked_to_the_open_case(db, people) -> None:
    first = open_case(db, people)
    again = record_report(
        db,
        people["intake.111"],
        report_payload(
            channel="school",
            child={
                "full_name": "nguyen thi  LAN",
                "sex": "female",
                "birth_date": "2018-05-01",
                "unit_code": "20194",
            },
        ),
        now=NOW,
    )
    assert again.linked and again.case["id"] == first["id"]
    assert count(db, Case) == 1 and count(db, Child) == 1 and count(db, Report) == 2


def test_a_different_child_gets_a_new_case(db, people) -> None:
    open_case(db, people)
    other = record_report(
        db,
        people["intake"],
        report_payload(
            child={
                "full_name": "Nguyễn Thị Lan",
                "sex": "female",
                "birth_date": "2016-01-01",
                "unit_code": "20194",
            }
        ),
        now=NOW,
    )
    assert not other.linked
    assert count(db, Case) == 2


def test_a_new_report_on_a_closed_case_reopens_it(db, people) -> None:
    closed = case_in(db, people, "closed")
    result = record_report(
        db,
        people["intake"],
        report_payload(received_at="2027-03-01T08:00:00+07:00"),
        now=at("2027-03-01T08:05:00"),
    )
    assert result.linked and result.reopened
    assert result.case["id"] == closed["id"]
    assert result.case["state"] == "initial_assessment"
    cycle2 = [d for d in result.case["deadlines"] if d["cycle"] == 2]
    assert [d["rule"] for d in cycle2] == ["initial_assessment"]


def test_name_key_folds_vietnamese_accents() -> None:
    assert name_key("  Đặng Thị  Hoà ") == "dang thi hoa"


BAD_REPORTS = [
    ({"kind": "complaint"}, "kind"),
    ({"channel": "pigeon"}, "channel"),
    ({"received_at": "yesterday"}, "received_at"),
    ({"received_at": "2099-01-01T00:00:00+07:00"}, "received_at"),
    (
        {"child": {"full_name": "A", "sex": "female", "birth_date": "2005-01-01"}},
        "child.birth_date",
    ),
    ({"child": {"full_name": "A", "sex": "female", "age_years": 16}}, "child.age_years"),
    ({"child": {"full_name": "A", "sex": "x", "age_years": 5}}, "child.sex"),
    ({"child": {"sex": "female", "age_years": 5}}, "child.full_name"),
    ({"child": {"full_name": "A", "sex": "female"}}, "child.birth_date"),
    ({"incident_unit_code": "99999"}, "incident_unit_code"),
    ({"incident_unit_code": "48"}, "incident_unit_code"),
    ({"abuse_types": []}, "abuse_types"),
    ({"abuse_types": ["bullying"]}, "abuse_types[0]"),
    ({"environment": "moon"}, "environment"),
    ({"risk_level": "extreme"}, "risk_level"),
    ({"nickname": "x"}, "nickname"),
]


@pytest.mark.parametrize(("change", "field"), BAD_REPORTS)
def test_bad_report_names_the_field_and_writes_nothing(db, people, change, field) -> None:
    with pytest.raises(ValidationError) as error:
        record_report(db, people["intake"], report_payload(**change), now=NOW)
    assert field in error.value.errors
    assert count(db, Report) == 0 and count(db, Child) == 0


def test_two_reports_on_the_same_child_at_once_make_one_case(db, people) -> None:
    import threading

    barrier = threading.Barrier(4)
    results = []
    errors: list[BaseException] = []

    def report(actor: str) -> None:
        barrier.wait()
        try:
            results.append(record_report(db, people[actor], report_payload(), now=NOW))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [
        threading.Thread(target=report, args=(a,))
        for a in ("intake", "intake.111", "intake", "intake.111")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(db, Case) == 1 and count(db, Report) == 4
    assert sorted(r.linked for r in results) == [False, True, True, True]
    assert len({r.case["id"] for r in results}) == 1


def test_the_clocks_stored_are_the_clocks_answered(db, people) -> None:
    """Intake writes its changes batched (PostgreSQL); what the answer says about the clocks
    — the transfer clock met, the next ones open — is what the database holds."""
    import sqlalchemy as sa

    from casework.models import Deadline

    view = open_case(db, people)
    answered = {(d["rule"], d["status"]) for d in view["deadlines"]}
    assert ("transfer", "met") in answered
    with db.uow(readonly=True) as uow:
        stored = {
            (d.rule, "met" if d.status == "met" and not d.late else d.status)
            for d in uow.session.scalars(sa.select(Deadline).where(Deadline.case_id == view["id"]))
        }
    assert stored == answered
