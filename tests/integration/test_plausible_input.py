"""Receipt times and due dates the law can work with; nothing written otherwise (both
databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from casework.errors import EventNotAllowed, ValidationError
from casework.services.cases import assign, fire_event
from casework.services.intake import earliest_receipt, record_report, validate_report
from tests.conftest import at, report_payload
from tests.helpers import case_in

NOW = at("2027-02-03T09:10:00")


def counts(db) -> tuple[int, ...]:
    with db.engine.connect() as conn:
        return tuple(
            conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("cases", "reports", "audit_events", "case_transitions", "deadlines")
        )


@pytest.mark.parametrize(
    "received_at",
    [
        "1900-01-01T08:00:00+07:00",
        "0001-01-02T00:00:00",
        "0001-01-01T00:00:00+07:00",
        "2026-W01",
        "2016-02-03T09:00:00+07:00",  # a mistyped year
        "2026-10-01T09:00:00+07:00",  # four months before: older than the window
    ],
)
def test_an_implausible_receipt_opens_no_case(db, people, received_at: str) -> None:
    before = counts(db)
    with pytest.raises(ValidationError) as error:
        record_report(db, people["intake"], report_payload(received_at=received_at), now=NOW)
    assert "received_at" in error.value.errors
    assert counts(db) == before


def test_the_earliest_receipt_is_a_setting_in_days_or_a_date() -> None:
    assert earliest_receipt(NOW, "90") == NOW - timedelta(days=90)
    assert earliest_receipt(NOW, "2025-07-01") == at("2025-07-01T00:00:00")
    old = report_payload(received_at="2026-01-05T08:00:00+07:00")
    with pytest.raises(ValidationError):
        validate_report(old, NOW, earliest=earliest_receipt(NOW, "90"))
    assert validate_report(old, NOW, earliest=earliest_receipt(NOW, "2025-07-01"))


def test_the_same_abuse_type_twice_is_refused(db, people) -> None:
    before = counts(db)
    payload = report_payload(abuse_types=["violence", "neglect", "violence"])
    with pytest.raises(ValidationError) as error:
        record_report(db, people["intake"], payload, now=NOW)
    assert "abuse_types[2]" in error.value.errors
    assert counts(db) == before


@pytest.mark.parametrize("due_date", ["9999-12-31", "2032-03-01"])
def test_a_measure_due_beyond_five_years_is_refused(db, people, due_date: str) -> None:
    case = case_in(db, people, "plan_drafting")
    before = counts(db)
    measure = {"agency_kind": "police", "action": "điều tra", "due_date": due_date}
    with pytest.raises(ValidationError) as error:
        fire_event(
            db,
            people["officer"],
            case["id"],
            "submit_plan",
            case["version"],
            {"measures": [measure]},
            now=NOW + timedelta(hours=3),
        )
    assert "data.measures[0].due_date" in error.value.errors
    assert counts(db) == before


def test_a_closed_case_is_not_assigned(db, people) -> None:
    case = case_in(db, people, "closed")
    before = counts(db)
    with pytest.raises(EventNotAllowed, match="closed"):
        assign(db, people["chair"], case["id"], "officer", case["version"], now=NOW)
    assert counts(db) == before
