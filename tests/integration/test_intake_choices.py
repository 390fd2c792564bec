"""Intake's choices made on the page (also open to the API): link to a case the reporter saw,
mark a case as another child; contacts without case data; the caller's phone as digits."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from casework.errors import PermissionDenied, ValidationError
from casework.models import NuisanceContact, Report, ReportMatch
from casework.names import phone_key
from casework.services.intake import record_nuisance, record_report
from tests.conftest import HANOI, at, report_payload
from tests.helpers import open_case

NOW = at("2027-02-03T09:30:00")


def reports(db) -> int:
    with db.uow(readonly=True) as uow:
        return int(uow.session.scalar(sa.select(sa.func.count(Report.id))) or 0)


def test_a_chosen_case_takes_the_report_like_a_certain_match(db, people) -> None:
    earlier = open_case(db, people)
    body = report_payload(link_case_id=earlier["id"])
    body["child"] = {**body["child"], "full_name": "Nguyen Thi Lan", "birth_date": "2018-06-01"}
    result = record_report(db, people["intake"], body, now=NOW)
    assert result.linked and result.case is not None and result.case["id"] == earlier["id"]


def test_a_case_the_reporter_may_not_see_cannot_be_chosen(db, people) -> None:
    hanoi = open_case(db, people, actor="officer.hn", incident_unit_code=HANOI)
    before = reports(db)
    with pytest.raises(ValidationError) as refused:
        record_report(db, people["intake"], report_payload(link_case_id=hanoi["id"]), now=NOW)
    assert "link_case_id" in refused.value.errors
    with pytest.raises(ValidationError) as refused:
        record_report(
            db, people["intake"], report_payload(different_child_case_ids=[hanoi["id"]]), now=NOW
        )
    assert "different_child_case_ids[0]" in refused.value.errors
    assert reports(db) == before


def test_a_case_marked_as_another_child_is_decided_at_once(db, people) -> None:
    earlier = open_case(db, people)
    body = report_payload(different_child_case_ids=[earlier["id"]])
    body["child"] = {**body["child"], "full_name": "Nguyen Thi Lan"}  # folded: a possible match
    result = record_report(db, people["intake"], body, now=NOW)
    assert not result.linked and result.possible_matches == []
    with db.uow(readonly=True) as uow:
        match = uow.session.scalars(sa.select(ReportMatch)).one()
    assert (match.case_id, match.status, match.decided_by_id) == (
        earlier["id"],
        "rejected",
        people["intake"].id,
    )


def test_contacts_without_case_data_are_counted_by_kind(db, people) -> None:
    record_nuisance(db, people["intake"], {"nuisance": "prank"}, now=NOW)
    with pytest.raises(ValidationError):
        record_nuisance(db, people["intake"], {"nuisance": "rude"}, now=NOW)
    with pytest.raises(PermissionDenied):
        record_nuisance(db, people["police"], {"nuisance": "prank"}, now=NOW)
    with db.uow(readonly=True) as uow:
        rows = uow.session.scalars(sa.select(NuisanceContact)).all()
    assert [(r.kind, r.province_code) for r in rows] == [("prank", "48")]


@pytest.mark.parametrize(
    ("typed", "key"),
    [("+84 905 123 456", "0905123456"), ("0905.123.456", "0905123456"), ("không rõ", "")],
)
def test_a_phone_is_kept_as_digits(typed: str, key: str) -> None:
    assert phone_key(typed) == key


def test_a_name_with_digits_is_a_placeholder_never_a_typo() -> None:
    from casework.services.intake_queries import typo_budget

    assert typo_budget("tre 2") == 0
    assert typo_budget("nguyen thi lan") == 2
