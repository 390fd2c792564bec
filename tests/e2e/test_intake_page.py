"""The hotline intake page: classify, type, see earlier cases, save, see the case's clocks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from casework.models import AuditEvent, Case, IntakeDraft, NuisanceContact, Report, ReportMatch
from tests.conftest import HANOI, HOME, NEIGHBOUR, PASSWORD
from tests.helpers import open_case


def login(client, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, username


def now_local(minutes_ago: int = 5) -> str:
    from zoneinfo import ZoneInfo

    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return moment.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m-%dT%H:%M")


def form(**overrides: Any) -> dict[str, Any]:
    """The page's fields as the browser posts them (WTForms names: record-field)."""
    data: dict[str, Any] = {
        "kind": "abuse_report",
        "channel": "hotline_111",
        "received_at": now_local(),
        "reporter-name": "Trần Văn Báo",
        "reporter-phone": "0905 123 456",
        "reporter-relation": "hàng xóm",
        "child-full_name": "Nguyễn Thị Lan",
        "child-sex": "female",
        "child-birth_date": "2018-05-01",
        "child-unit_code": HOME,
        "child-unit_code-q": "Phường Hải Châu",
        "child-address": "Tổ 5",
        "incident_unit_code": HOME,
        "incident_unit_code-q": "Phường Hải Châu",
        "abuse_types": ["violence"],
        "environment": "family",
        "description": "Hàng xóm nghe tiếng trẻ khóc.",
        "auto_transfer": "y",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def count(db, model) -> int:
    with db.uow(readonly=True) as uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_intake_staff_see_the_page_with_the_first_choice_focused(client, people) -> None:
    login(client, "intake")
    page = client.get("/intake")
    assert page.status_code == 200
    first = re.search(r'<input[^>]+name="kind"[^>]*>', page.text)
    assert first is not None and "autofocus" in first.group() and "abuse_report" in first.group()
    assert 'data-hotkey="1"' in page.text  # a silent call in one key
    assert 'href="/intake"' in client.get("/").text  # the menu's "New report"


@pytest.mark.parametrize("username", ["police", "admin"])
def test_roles_that_record_no_reports_find_no_page_and_no_menu_entry(
    client, people, username
) -> None:
    login(client, username)
    assert client.get("/intake").status_code == 404
    assert client.post("/intake", data=form()).status_code == 404
    assert client.post("/intake/nuisance", data={"nuisance": "silent"}).status_code == 404
    assert 'href="/intake"' not in client.get("/inbox").text


def test_signed_out_goes_to_sign_in_and_htmx_gets_401(client, people) -> None:
    response = client.get("/intake")
    assert response.status_code == 302 and "/login" in response.location
    assert (
        client.post("/intake/draft", data=form(), headers={"HX-Request": "true"}).status_code == 401
    )


def test_a_report_saved_from_the_page_shows_its_case_commune_and_clocks(client, db, people) -> None:
    login(client, "intake")
    client.post("/intake/draft", data=form())
    response = client.post("/intake", data=form())
    assert response.status_code == 302, response.text[:2000]
    outcome = client.get(response.location)
    assert outcome.status_code == 200
    with db.uow(readonly=True) as uow:
        case = uow.session.scalars(sa.select(Case)).one()
        report = uow.session.scalars(sa.select(Report)).one()
    assert case.reference in outcome.text and "Phường Hải Châu" in outcome.text
    assert "còn" in outcome.text  # a countdown: "còn 23 giờ"
    assert report.reporter_phone == "0905123456"
    assert count(db, IntakeDraft) == 0  # the draft goes with the saved report


def test_an_officer_records_a_walk_in(client, db, people) -> None:
    login(client, "officer")
    response = client.post("/intake", data=form(channel="walk_in"))
    assert response.status_code == 302
    assert "Phường Hải Châu" in client.get(response.location).text


def test_advice_only_is_a_contact_closed_on_the_spot(client, db, people) -> None:
    login(client, "intake")
    response = client.post(
        "/intake",
        data=form(kind="advice", **{"child-full_name": None, "child-sex": None}),
    )
    assert response.status_code == 302
    assert "Đã tư vấn" in client.get(response.location).text
    assert count(db, Case) == 0 and count(db, Report) == 1


CHILD_ID = "048318012345"  # born in 48 (Đà Nẵng), a girl of the 2000s, born in 2018


def test_a_report_linked_to_a_case_out_of_scope_says_where_it_went(client, db, people) -> None:
    child = {
        "full_name": "Nguyễn Thị Lan",
        "sex": "female",
        "birth_date": "2018-05-01",
        "unit_code": NEIGHBOUR,
        "national_id": CHILD_ID,
    }
    held = open_case(db, people, actor="officer.2", incident_unit_code=NEIGHBOUR, child=child)
    login(client, "intake")
    response = client.post("/intake", data=form(**{"child-national_id": CHILD_ID}))
    assert response.status_code == 302
    outcome = client.get(response.location).text
    assert "Đã tiếp nhận và chuyển đến Phường Thanh Khê" in outcome
    assert held["reference"] not in outcome
    with db.uow(readonly=True) as uow:
        assert uow.session.scalar(sa.select(sa.func.count(Case.id))) == 1  # linked, not new


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("child-national_id", "12345", "12 chữ số"),
        ("child-birth_date", "2001-01-01", "đủ 16 tuổi"),
        ("incident_unit_code", None, "bắt buộc phải nhập"),
        ("received_at", "2099-01-01T00:00", "trong tương lai"),
    ],
)
def test_bad_input_shows_the_message_next_to_the_field_and_writes_nothing(
    client, db, people, field, value, message
) -> None:
    login(client, "intake")
    data = form(**{field: value})
    if field == "incident_unit_code":
        data.pop("incident_unit_code-q")
    page = client.post("/intake", data=data)
    assert page.status_code == 422
    errors = re.search(rf'id="{field}-errors">(.*?)</ul>', page.text, re.S)
    assert errors is not None and message in errors.group(1), page.text[-3000:]
    assert count(db, Report) == 0 and count(db, Case) == 0
    assert "Nguyễn Thị Lan" in page.text  # what was typed is kept


def test_every_post_needs_the_csrf_token(db, people) -> None:
    from config import TestConfig
    from web import create_app

    class WithCsrf(TestConfig):
        WTF_CSRF_ENABLED = True

    client = create_app(WithCsrf, db=db).test_client()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    assert token is not None
    client.post(
        "/login", data={"username": "intake", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert client.get("/intake").status_code == 200
    for path in ("/intake", "/intake/draft", "/intake/suggestions", "/intake/nuisance"):
        assert client.post(path, data=form(nuisance="silent")).status_code == 400, path
    assert count(db, Report) == 0 and count(db, IntakeDraft) == 0
    assert count(db, NuisanceContact) == 0


def test_the_draft_is_kept_restored_after_sign_in_and_seen_by_its_author_alone(
    client, db, people
) -> None:
    login(client, "intake")
    saved = client.post("/intake/draft", data=form(description="Đang gõ dở"))
    assert saved.status_code == 200 and "Đã lưu bản nháp" in saved.text
    client.post("/logout")
    login(client, "intake")
    page = client.get("/intake")
    assert "Đang gõ dở" in page.text and "Phường Hải Châu" in page.text
    client.post("/logout")
    login(client, "officer")
    assert "Đang gõ dở" not in client.get("/intake").text
    client.post("/logout")
    login(client, "intake")
    client.post("/intake/draft/discard")
    assert "Đang gõ dở" not in client.get("/intake").text


def test_a_nuisance_contact_is_counted_without_case_data(client, db, people) -> None:
    login(client, "intake")
    first = client.post("/intake/nuisance", data={"nuisance": "silent"})
    assert first.status_code == 302
    client.post("/intake/nuisance", data={"nuisance": "silent"})
    page = client.get("/intake")
    assert "Cuộc gọi im lặng" in page.text and "hôm nay: 2" in page.text
    assert count(db, NuisanceContact) == 2 and count(db, Report) == 0
    refused = client.post("/intake/nuisance", data={"nuisance": "rude"})
    assert refused.status_code == 302 and count(db, NuisanceContact) == 2


def suggest(client, **fields: Any) -> str:
    response = client.post("/intake/suggestions", data=form(**fields))
    assert response.status_code == 200
    return response.text


def test_a_typo_without_diacritics_finds_the_earlier_child(client, db, people) -> None:
    earlier = open_case(db, people)
    login(client, "intake")
    text = suggest(client, **{"child-full_name": "nguyen thi lna", "reporter-phone": ""})
    assert earlier["reference"] in text
    assert "họ tên gần giống" in text and "cùng năm sinh" in text and "cùng xã" in text
    with db.uow(readonly=True) as uow:
        audited = uow.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "case.suggested")
        )
    assert audited == 1  # showing the child's data is an audited read
    # Another birth year, or a name too far off: nothing.
    assert earlier["reference"] not in suggest(client, **{"child-birth_date": "2016-05-01"})
    assert earlier["reference"] not in suggest(client, **{"child-full_name": "Trần Văn An"})


def test_suggestions_never_name_another_units_case(client, db, people) -> None:
    hanoi = open_case(
        db,
        people,
        actor="officer.hn",
        incident_unit_code=HANOI,
        child={
            "full_name": "Nguyễn Thị Lan",
            "sex": "female",
            "birth_date": "2018-05-01",
            "unit_code": HANOI,
            "national_id": "001318012345",
        },
    )
    login(client, "intake")
    # Same commune and name, but a case the Đà Nẵng intake user may not see.
    text = suggest(client, **{"child-unit_code": HANOI, "child-national_id": "001318012345"})
    assert hanoi["reference"] not in text and "Nguyễn Thị Lan" not in text
    assert "do đơn vị khác quản lý" in text


def test_the_callers_phone_shows_earlier_contacts_and_cases(client, db, people) -> None:
    earlier = open_case(db, people, reporter={"name": "Bà Hoa", "phone": "+84 905 123 456"})
    login(client, "intake")
    client.post("/intake", data=form(kind="advice", **{"child-full_name": None}))
    text = suggest(client, **{"child-full_name": ""})
    assert "2 lần liên hệ trước, 1 ca" in text
    assert earlier["reference"] in text


def test_choosing_a_suggestion_links_the_report_and_a_different_child_is_recorded(
    client, db, people
) -> None:
    earlier = open_case(db, people)
    other = open_case(
        db,
        people,
        child={
            "full_name": "Nguyễn Thị Lam",
            "sex": "female",
            "birth_date": "2018-02-01",
            "unit_code": HOME,
        },
    )
    login(client, "intake")
    response = client.post(
        "/intake",
        data=form(
            **{"child-full_name": "Nguyen Thi Lan", "child-birth_date": "2018-09-09"},
            link_case_id=str(earlier["id"]),
            different_child_case_ids=[str(other["id"])],
        ),
    )
    assert response.status_code == 302
    assert "gắn vào ca đã có" in client.get(response.location).text
    with db.uow(readonly=True) as uow:
        assert uow.session.scalar(sa.select(sa.func.count(Case.id))) == 2  # no new case
        report = uow.session.scalars(sa.select(Report).order_by(Report.id.desc())).first()
        assert report is not None and report.case_id == earlier["id"]
        rejected = uow.session.scalars(
            sa.select(ReportMatch).where(ReportMatch.report_id == report.id)
        ).all()
    assert [(m.case_id, m.status) for m in rejected] == [(other["id"], "rejected")]


def test_a_case_out_of_scope_cannot_be_chosen(client, db, people) -> None:
    hanoi = open_case(db, people, actor="officer.hn", incident_unit_code=HANOI)
    login(client, "intake")
    page = client.post("/intake", data=form(link_case_id=str(hanoi["id"])))
    assert page.status_code == 422
    assert count(db, Report) == 1  # only the Hà Nội one


def test_communes_are_found_without_diacritics(client, people) -> None:
    login(client, "intake")
    found = client.get("/intake/communes?incident_unit_code-q=hai+chau&for=incident_unit_code")
    assert "Phường Hải Châu" in found.text and "Thanh Khê" not in found.text
    assert "Ba Đình" not in client.get("/intake/communes?x-q=ba+dinh").text  # another province


def test_the_outcome_of_another_users_report_is_not_found(client, db, people) -> None:
    login(client, "intake")
    response = client.post("/intake", data=form())
    path = response.location
    client.post("/logout")
    login(client, "officer")
    assert client.get(path).status_code == 404


def test_a_close_name_held_by_another_unit_goes_there_to_be_confirmed(client, db, people) -> None:
    held = open_case(db, people, actor="officer")  # intake staff see only what they recorded
    login(client, "intake")
    typed = {"child-full_name": "Nguyen Thi Lna", "child-birth_date": "2018-09-09"}
    text = suggest(client, **typed, **{"reporter-phone": ""})
    assert held["reference"] not in text and "do đơn vị khác quản lý" in text
    response = client.post("/intake", data=form(**typed))
    assert response.status_code == 302
    outcome = client.get(response.location).text
    assert "đã được chuyển đến đơn vị đó để xác nhận" in outcome
    assert held["reference"] not in outcome
    with db.uow(readonly=True) as uow:
        match = uow.session.scalars(sa.select(ReportMatch)).one()
        assert (match.case_id, match.status) == (held["id"], "open")
        assert "name_close" in match.reasons
