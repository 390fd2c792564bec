"""Intake: cases, advice contacts, repeat reports."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from casework.errors import ValidationError
from casework.models import Case, Child, Notification, Report, ReportMatch
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
    # The same name as written (up to case and spacing), sex, birth date and commune.
    first = open_case(db, people)
    again = record_report(
        db,
        people["intake"],
        report_payload(
            channel="school",
            child={
                "full_name": "nguyễn thị  LAN",
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
    with db.uow(readonly=True) as uow:
        cases = set(uow.session.scalars(sa.select(Report.case_id)))
    assert len(cases) == 1
    # Each reporter is shown the case only if it may see it (the one who opened it, here).
    assert all(r.case is None or r.case["id"] in cases for r in results)


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


# --- certain evidence only (two different children are never merged) ----------------------


def child(**fields):
    return report_payload(child=fields)


HA = {"full_name": "Trần Thị Hà", "sex": "female", "birth_date": "2017-06-01", "unit_code": "20194"}
HA_CASE = child(**HA, address="Tổ 1")


def matches(db, report_id):
    with db.uow(readonly=True) as uow:
        rows = uow.session.scalars(sa.select(ReportMatch).where(ReportMatch.report_id == report_id))
        return [(m.case_id, m.reasons, m.status) for m in rows]


def test_two_children_whose_names_fold_alike_get_two_cases(db, people) -> None:
    # Hà, a girl of 9, and Hạ, a boy of 10, at another address in the same commune.
    ha = record_report(db, people["intake"], HA_CASE, now=NOW)
    ha_ = record_report(
        db,
        people["intake"],
        child(full_name="Trần Thị Hạ", sex="male", age_years=10, unit_code="20194", address="Tổ 9"),
        now=NOW,
    )
    assert not ha_.linked and ha_.case["id"] != ha.case["id"]
    assert "initial_assessment" in {
        d["rule"] for d in ha_.case["deadlines"] if d["status"] == "open"
    }
    assert count(db, Case) == 2 and count(db, Child) == 2
    # Not linked, but recorded for a person to confirm or reject, with the reasons.
    assert matches(db, ha_.report_id) == [
        (ha.case["id"], ["name_folded", "age", "commune"], "open")
    ]
    assert ha_.to_dict()["possible_matches"] == [
        {"case_id": ha.case["id"], "reference": ha.case["reference"],
         "reasons": ["name_folded", "age", "commune"]}
    ]  # fmt: skip


def test_a_closed_case_is_not_reopened_for_another_child(db, people) -> None:
    closed = case_in(db, people, "closed", child=HA)
    other = record_report(
        db,
        people["intake"],
        child(full_name="Tran Thi Ha", sex="female", birth_date="2017-06-01", unit_code="20194"),
        now=at("2027-03-01T08:05:00"),
    )
    assert not other.linked and other.case["id"] != closed["id"]
    with db.uow(readonly=True) as uow:
        assert uow.session.get(Case, closed["id"]).state == "closed"
    assert [m[1] for m in matches(db, other.report_id)] == [
        ["name_folded", "birth_date", "commune", "sex"]
    ]


@pytest.mark.parametrize(
    "differs",
    [
        {"sex": "unknown"},  # an unknown sex is no evidence
        {"birth_date": None, "age_years": 9},  # an age instead of a date
        {"unit_code": None},  # no residence commune
        {"unit_code": "20197"},  # another commune
        {"full_name": "Trần Thị Hả"},  # another name, only the same once folded
    ],
)
def test_weaker_evidence_never_links(db, people, differs) -> None:
    first = record_report(db, people["intake"], HA_CASE, now=NOW)
    fields = {k: v for k, v in {**HA, **differs}.items() if v is not None}
    again = record_report(db, people["intake"], child(**fields), now=NOW)
    assert not again.linked and again.case["id"] != first.case["id"]


def test_invisible_characters_are_removed_before_storing_and_comparing(db, people) -> None:
    import unicodedata

    first = record_report(db, people["intake"], HA_CASE, now=NOW)
    hidden = unicodedata.normalize("NFD", "Trần\u200b Thị\u00ad H\u200dà\ufeff")
    again = record_report(db, people["intake"], child(**{**HA, "full_name": hidden}), now=NOW)
    assert again.linked and again.case["id"] == first.case["id"]
    with db.uow(readonly=True) as uow:
        names = set(uow.session.scalars(sa.select(Child.full_name)))
        reporter = uow.session.get(Report, again.report_id).reporter
    assert names == {"Trần Thị Hà"}
    assert "\u200b" not in str(reporter)


def test_the_same_personal_number_links_whatever_else_differs(db, people) -> None:
    first = record_report(db, people["intake"], child(**HA, national_id="048317001234"), now=NOW)
    again = record_report(
        db,
        people["intake.111"],
        child(full_name="Tran Thi Ha", sex="female", age_years=9, national_id="048317001234"),
        now=NOW,
    )
    assert again.linked
    with db.uow(readonly=True) as uow:
        assert uow.session.get(Report, again.report_id).case_id == first.case["id"]


def test_different_personal_numbers_are_different_children(db, people) -> None:
    first = record_report(db, people["intake"], child(**HA, national_id="048317001234"), now=NOW)
    again = record_report(db, people["intake"], child(**HA, national_id="048317009999"), now=NOW)
    assert not again.linked and again.case["id"] != first.case["id"]
    assert matches(db, again.report_id) == []


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("04831700123", "12 digits"),
        ("04831700123x", "12 digits"),
        ("０４８３１７００１２３４", "12 digits"),  # full-width digits
        ("099317001234", "001–096"),
        ("048217001234", "4th digit says male"),  # 2 = a boy born in the 2000s
        ("048115001234", "do not match the birth date"),  # born in the 1900s, in 2015
        (48317001234, "must be text"),
    ],
)
def test_a_bad_personal_number_names_the_field_and_writes_nothing(db, people, number, message):
    with pytest.raises(ValidationError) as raised:
        record_report(db, people["intake"], child(**HA, national_id=number), now=NOW)
    assert message in raised.value.errors["child.national_id"]
    assert count(db, Report) == 0 and count(db, Child) == 0


# --- out of scope looks like "not found", at intake too ------------------------------------


def test_a_report_linked_outside_the_reporters_scope_reveals_nothing(db, people) -> None:
    closed = case_in(db, people, "closed")  # recorded by province 48's intake
    people.make("intake.hn", "intake", "01")
    result = record_report(
        db, people["intake.hn"], report_payload(received_at="2027-03-01T08:00:00+07:00"),
        now=at("2027-03-01T08:05:00"),
    )  # fmt: skip
    answer = result.to_dict()
    assert answer == {
        "report_id": result.report_id,
        "kind": "abuse_report",
        "passed_to": {"unit_code": "20194", "unit_name": answer["passed_to"]["unit_name"]},
    }
    # The child's case is the one that takes the report (and a closed one reopens) ...
    with db.uow(readonly=True) as uow:
        case = uow.session.get(Case, closed["id"])
        assert case.state == "initial_assessment"
        assert uow.session.get(Report, result.report_id).case_id == case.id
        # ... and the unit that holds it is told, in each reader's language, without a name.
        notes = list(
            uow.session.scalars(sa.select(Notification).where(Notification.case_id == case.id))
        )
    told = {n.user_id for n in notes if n.kind == "case.report_reopened"}
    assert told == {people["officer"].id, people["chair"].id}
    assert all("Lan" not in n.subject + n.body and case.reference in n.subject for n in notes)


def test_national_intake_links_anywhere_but_is_shown_only_its_own(db, people) -> None:
    first = open_case(db, people, actor="intake")
    again = record_report(db, people["intake.111"], report_payload(), now=NOW)
    assert again.linked
    assert again.case is None and again.to_dict()["passed_to"]["unit_code"] == "20194"
    with db.uow(readonly=True) as uow:
        assert uow.session.get(Report, again.report_id).case_id == first["id"]
    # The officer who holds the case sees the report's arrival in the inbox.
    with db.uow(readonly=True) as uow:
        kinds = set(uow.session.scalars(
            sa.select(Notification.kind).where(Notification.user_id == people["officer"].id)
        ))  # fmt: skip
    assert "case.report_linked" in kinds


def test_a_possible_match_held_elsewhere_is_shown_only_as_such(db, people) -> None:
    ha = record_report(db, people["intake"], HA_CASE, now=NOW)
    other = record_report(
        db,
        people["officer.2"],
        child(full_name="Tran Thi Ha", sex="female", birth_date="2017-06-01", unit_code="20194"),
        now=NOW,
    )
    assert other.to_dict()["possible_matches"] == [{"held_by_another_unit": True}]
    # The unit that holds it is asked to decide.
    with db.uow(readonly=True) as uow:
        asked = set(
            uow.session.scalars(
                sa.select(Notification.user_id).where(
                    Notification.kind == "case.possible_match",
                    Notification.case_id == ha.case["id"],
                )
            )
        )
    assert asked == {people["officer"].id, people["chair"].id}


def test_a_possible_match_is_decided_once_by_the_unit_that_holds_the_case(db, people) -> None:
    from casework.errors import Conflict, NotFound
    from casework.models import AuditEvent
    from casework.services.intake import decide_match

    record_report(db, people["intake"], HA_CASE, now=NOW)
    other = record_report(
        db, people["intake"], child(**{**HA, "full_name": "Tran Thi Ha"}), now=NOW
    )
    with db.uow(readonly=True) as uow:
        match_id = uow.session.scalar(
            sa.select(ReportMatch.id).where(ReportMatch.report_id == other.report_id)
        )
    for outsider in ("officer.2", "officer.hn", "intake", "police", "admin"):
        with pytest.raises(NotFound):
            decide_match(db, people[outsider], match_id, False, now=NOW)
    with pytest.raises(ValidationError) as bad:
        decide_match(db, people["officer"], match_id, "yes", now=NOW)
    assert "same_child" in bad.value.errors
    answer = decide_match(db, people["officer"], match_id, False, now=NOW)
    assert answer["status"] == "rejected"
    with pytest.raises(Conflict):
        decide_match(db, people["chair"], match_id, True, now=NOW)
    with db.uow(readonly=True) as uow:
        actions = list(uow.session.scalars(sa.select(AuditEvent.action)))
    assert actions.count("case.match_rejected") == 1


def test_many_children_of_the_same_name_never_hide_the_childs_case(db, people, monkeypatch):
    # The candidates are bounded: same-named children elsewhere must not crowd out the
    # child's own case, nor newer same-named children the one with the same personal number.
    from casework.services import intake

    monkeypatch.setattr(intake, "MAX_CANDIDATES", 2)
    intake._pg_candidates_sql.cache_clear()
    try:
        target = record_report(
            db, people["intake"], child(**HA, national_id="048317001234"), now=NOW
        )
        for day in ("01", "02", "03"):  # newer, same name, elsewhere and at home, born later
            for unit in ("20197", "20194"):
                other = {**HA, "birth_date": f"2016-02-{day}", "unit_code": unit}
                record_report(db, people["intake"], child(**other), now=NOW)
        by_name = record_report(db, people["intake"], child(**HA), now=NOW)
        assert by_name.linked and by_name.case["id"] == target.case["id"]
        by_number = record_report(
            db,
            people["intake"],
            child(full_name="Tran Thi Ha", sex="female", age_years=9, national_id="048317001234"),
            now=NOW,
        )
        assert by_number.linked and by_number.case["id"] == target.case["id"]
    finally:
        intake._pg_candidates_sql.cache_clear()
