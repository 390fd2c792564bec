"""The field cleaners refuse what databases and drivers cannot store, and dates no case can
have, so that the services are safe whichever door the data came through (API, CLI, demo)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workflows.spec import (
    FieldError,
    FieldSpec,
    choice,
    clean_fields,
    integer,
    iso_date,
    iso_datetime,
    list_of,
    reference_time,
    text,
)

REFUSED = [
    ("NUL in a name", text(200), "Nguyễn\x00Lan"),
    ("lone surrogate", text(200), "Lan\ud800"),
    ("low surrogate", text(5000), "\udfff"),
    ("escape sequence", text(5000), "a\x1b[31mb"),
    ("DEL", text(200), "a\x7fb"),
    ("line break in a one-line field", text(200), "Tổ 5\nPhường"),
    ("tab in a one-line field", text(8), "20\t194"),
    ("list for text", text(200), ["x"]),
    ("object for a choice", choice("accept", "decline"), {"accept": 1}),
    ("list for a choice", choice("accept", "decline"), ["accept"]),
    ("ISO week date", iso_date(), "2026-W01"),
    ("ISO week date with day", iso_date(), "2026-W01-1"),
    ("basic format", iso_date(), "20260101"),
    ("year 1", iso_date(), "0001-01-02"),
    ("year 9999", iso_date(), "9999-12-31"),
    ("date-time as date", iso_date(), "2026-01-01T00:00:00"),
    ("week date-time", iso_datetime(), "2026-W01"),
    ("date without time", iso_datetime(), "2026-01-01"),
    ("year 1 with offset", iso_datetime(), "0001-01-01T00:00:00+07:00"),
    ("year 1 without offset", iso_datetime(), "0001-01-01T00:00:00"),
    ("year 9999 west of UTC", iso_datetime(), "9999-12-31T23:59:59-12:00"),
    ("year 1899", iso_datetime(), "1899-12-31T23:00:00+07:00"),
    ("NUL in a date-time", iso_datetime(), "2026-01-01T00:00:00\x00"),
    ("32-bit overflow", integer(), 2**31),
    ("64-bit overflow", integer(), 2**63),
    ("negative overflow", integer(), -(2**31) - 1),
    ("twice the same", list_of(choice("violence", "neglect"), unique=True), ["neglect", "neglect"]),
]


@pytest.mark.parametrize(("case", "clean", "value"), REFUSED, ids=[r[0] for r in REFUSED])
def test_cleaner_refuses(case: str, clean, value) -> None:
    with pytest.raises(FieldError) as error:
        clean(value, "field")
    assert error.value.path.startswith("field")
    assert "\x00" not in error.value.message and len(error.value.message) < 200


ACCEPTED = [
    ("Vietnamese name", text(200), "Trần Thị Hạ", "Trần Thị Hạ"),
    ("lines in long text", text(5000), "Dòng 1\r\nDòng 2\tcột", "Dòng 1\r\nDòng 2\tcột"),
    ("calendar date", iso_date(), "2027-12-31", "2027-12-31"),
    ("local date-time", iso_datetime(), "2026-11-26T09:30", None),
    ("UTC with Z", iso_datetime(), "2026-11-26T02:30:00.123456Z", None),
    ("32-bit max", integer(), 2**31 - 1, 2**31 - 1),
    ("distinct items", list_of(choice("a", "b"), unique=True), ["a", "b"], ["a", "b"]),
]


@pytest.mark.parametrize(
    ("case", "clean", "value", "expected"), ACCEPTED, ids=[a[0] for a in ACCEPTED]
)
def test_cleaner_accepts(case: str, clean, value, expected) -> None:
    cleaned = clean(value, "field")
    assert expected is None or cleaned == expected


def test_a_date_horizon_is_measured_from_the_injected_clock() -> None:
    due = iso_date(max_years_ahead=5)
    with reference_time(datetime(2027, 2, 3, tzinfo=UTC)):
        assert due("2032-02-03", "due_date") == "2032-02-03"
        with pytest.raises(FieldError, match="within 5 years"):
            due("2032-02-04", "due_date")
    with reference_time(datetime(2030, 1, 1, tzinfo=UTC)):
        assert due("2034-12-31", "due_date") == "2034-12-31"


def test_an_unknown_field_is_named_briefly() -> None:
    with pytest.raises(FieldError) as error:
        clean_fields((FieldSpec("name", text(10)),), {"x" * 100_000 + "\x00": 1})
    assert len(error.value.path) < 60 and "\x00" not in error.value.path


def test_plan_measures_are_due_within_five_years_of_the_event() -> None:
    from workflows.case import EVENTS

    plan = EVENTS["submit_plan"]
    measure = {"agency_kind": "police", "action": "điều tra", "due_date": "9999-12-31"}
    with pytest.raises(FieldError, match="due_date"):
        plan.clean({"measures": [measure]}, now=datetime(2027, 2, 3, tzinfo=UTC))
    measure["due_date"] = "2031-12-31"
    assert plan.clean({"measures": [measure]}, now=datetime(2027, 2, 3, tzinfo=UTC))
    with pytest.raises(FieldError, match="due_date"):
        plan.clean({"measures": [measure]}, now=datetime(2020, 2, 3, tzinfo=UTC))
