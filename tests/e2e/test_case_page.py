"""The case page: summary, clocks named by what is due, actions, notes, attachments, the
history in plain language, the print view and reassignment (Flask's test client, both
databases)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from casework.models import AuditEvent, Case, CaseAttachment, CaseNote
from tests.conftest import PASSWORD, at
from tests.helpers import case_in, open_case

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def files(app, tmp_path):
    folder = tmp_path / "attachments"
    app.config["ATTACHMENT_DIR"] = str(folder)
    return folder


def login(client, username: str) -> None:
    answer = client.post("/login", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 302


def audited(db, action: str) -> list[dict]:
    with db.uow(readonly=True) as uow:
        return [
            e.summary
            for e in uow.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        ]


def count(db, model) -> int:
    with db.uow(readonly=True) as uow:
        return uow.session.scalar(sa.select(sa.func.count()).select_from(model))


def text_of(html: str) -> str:
    """What a reader sees: the page without its tags."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- the page ------------------------------------------------------------------------------


def test_summary_clocks_and_actions_for_the_chair(client, db, people) -> None:
    case = case_in(db, people, "implementing")
    login(client, "chair")
    page = client.get(f"/cases/{case['id']}")
    assert page.status_code == 200
    seen = text_of(page.text)
    assert "Nguyễn Thị Lan" in seen and "Phường Hải Châu" in seen
    assert "Thực hiện kế hoạch" in seen  # the step
    # Each agency task's clock names its agency and the action, with a countdown.
    assert "Hoàn thành nhiệm vụ: công an — điều tra" in seen
    assert "Hoàn thành nhiệm vụ: y tế — khám" in seen
    assert re.search(r"(còn|quá hạn) \d+", seen)
    # The assignee is named (the demo's list showed "—").
    assert "Officer" in seen or "officer" in seen
    assert f'href="/cases/{case["id"]}/assign"' in page.text  # the chair reassigns
    assert f'href="/cases/{case["id"]}/print"' in page.text


def test_out_of_scope_and_signed_out(client, db, people) -> None:
    case = case_in(db, people, "initial_assessment")
    login(client, "officer.2")
    for path in ("", "/print", "/assign"):
        assert client.get(f"/cases/{case['id']}{path}").status_code == 404, path
    client.post("/logout")
    for path in ("", "/print", "/assign"):
        answer = client.get(f"/cases/{case['id']}{path}")
        assert answer.status_code == 302 and "/login" in answer.location, path


def test_history_reads_in_plain_language_without_ids_or_versions(client, db, people) -> None:
    case = case_in(db, people, "plan_approval")
    login(client, "officer")
    page = client.get(f"/cases/{case['id']}")
    history = page.text[page.text.index('id="history-title"') :]
    history = history[history.index("</h2>") : history.index("</section>")]
    seen = text_of(history)
    assert "Đánh giá ban đầu (Mẫu 02)" in seen  # what
    assert "Mức độ nguy cơ trung bình" in seen  # a choice, by its label
    assert "Đã xác minh có" in seen  # a yes/no
    assert "Cơ quan thực hiện công an" in seen and "Thời hạn 31/12/2027" in seen  # the plan
    assert "Chủ tịch UBND cấp xã" in seen  # who, by role
    assert "·" not in seen and "version" not in seen.lower() and "phiên bản" not in seen.lower()
    assert not re.search(r"\b(report_id|seq|id)\b", seen)


def test_the_agency_sees_its_task_not_the_record(client, db, people) -> None:
    case = case_in(db, people, "implementing")
    login(client, "police")
    page = client.get(f"/cases/{case['id']}")
    assert page.status_code == 200
    seen = text_of(page.text)
    assert "Hoàn thành nhiệm vụ: công an — điều tra" in seen
    assert "khám" not in seen  # another agency's task
    assert 'id="history"' not in page.text and 'id="notes"' not in page.text


# --- notes ---------------------------------------------------------------------------------


def test_a_note_is_added_listed_and_audited(client, db, people) -> None:
    case = case_in(db, people, "initial_assessment")
    login(client, "officer")
    answer = client.post(f"/cases/{case['id']}/notes", data={"note": "Đã gọi điện cho nhà trường."})
    assert answer.status_code == 302
    page = client.get(answer.location)
    assert "Đã gọi điện cho nhà trường." in page.text
    assert audited(db, "case.note_added")[-1]["length"] == len("Đã gọi điện cho nhà trường.")
    assert "nhà trường" not in str(audited(db, "case.note_added"))  # never the text


def test_a_bad_note_is_refused_with_its_message_and_nothing_written(client, db, people) -> None:
    case = case_in(db, people, "initial_assessment")
    login(client, "officer")
    for body in ("   ", "x" * 4001):
        answer = client.post(f"/cases/{case['id']}/notes", data={"note": body})
        assert answer.status_code == 422
        assert 'id="note-errors"' in answer.text
    assert count(db, CaseNote) == 0 and audited(db, "case.note_added") == []


def test_notes_out_of_scope_or_not_casework_are_not_found(client, db, people) -> None:
    case = case_in(db, people, "initial_assessment")
    for username in ("officer.2", "intake", "police"):
        login(client, username)
        assert client.post(f"/cases/{case['id']}/notes", data={"note": "x"}).status_code == 404
        client.post("/logout")
    assert client.post(f"/cases/{case['id']}/notes", data={"note": "x"}).status_code == 302
    assert count(db, CaseNote) == 0


def csrf_client(db):
    from config import TestConfig
    from web import create_app

    class WithCsrf(TestConfig):
        WTF_CSRF_ENABLED = True

    client = create_app(WithCsrf, db=db).test_client()
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    answer = client.post(
        "/login", data={"username": "officer", "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 302
    return client


def test_posts_without_csrf_are_refused(db, people, tmp_path) -> None:
    case = case_in(db, people, "initial_assessment")
    client = csrf_client(db)
    assert client.post(f"/cases/{case['id']}/notes", data={"note": "x"}).status_code == 400
    upload = {"kind": "minutes", "title": "Biên bản", "file": (_io(PDF), "bb.pdf")}
    answer = client.post(
        f"/cases/{case['id']}/attachments", data=upload, content_type="multipart/form-data"
    )
    assert answer.status_code == 400
    assert client.post(f"/cases/{case['id']}/assign", data={"assignee": "officer"}).status_code in (
        400,
        404,  # officers do not assign
    )
    assert count(db, CaseNote) == 0 and count(db, CaseAttachment) == 0


# --- attachments ---------------------------------------------------------------------------


def _io(data: bytes):
    import io

    return io.BytesIO(data)


def upload(client, case_id: int, content: bytes, name: str = "bien-ban.pdf", **fields):
    data = {
        "kind": "minutes",
        "title": "Biên bản họp đã ký",
        **fields,
        "file": (_io(content), name),
    }
    return client.post(
        f"/cases/{case_id}/attachments", data=data, content_type="multipart/form-data"
    )


def test_a_signed_record_is_attached_stored_apart_and_downloaded(client, db, people, files) -> None:
    case = case_in(db, people, "specific_assessment")
    login(client, "officer")
    big = PDF + b"0" * (2 * 1024 * 1024)  # more than the app-wide 1 MiB body limit
    answer = upload(client, case["id"], big)
    assert answer.status_code == 302, answer.text[:500]
    stored = list(files.iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == big
    assert "bien-ban" not in stored[0].name  # a random name
    page = client.get(f"/cases/{case['id']}")
    assert "Biên bản họp đã ký" in page.text and "biên bản đã ký" in page.text
    link = re.search(r'href="(/attachments/\d+)"', page.text).group(1)
    got = client.get(link)
    assert got.status_code == 200 and got.data == big
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert len(audited(db, "case.attachment_read")) == 1
    assert audited(db, "case.attachment_added")[0]["size"] == len(big)
    # Out of scope: as if there were no such file; nothing more audited.
    client.post("/logout")
    login(client, "officer.2")
    assert client.get(link).status_code == 404
    client.post("/logout")
    login(client, "intake")
    assert client.get(link).status_code == 404
    assert len(audited(db, "case.attachment_read")) == 1
    client.post("/logout")
    assert client.get(link).status_code == 302


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"MZ\x90\x00 not a pdf at all", "quyet-dinh.pdf", "phải là tệp PDF, JPEG hoặc PNG"),
        (b"<html><script>alert(1)</script>", "anh.png", "phải là tệp PDF, JPEG hoặc PNG"),
        (b"", "trong.pdf", "bắt buộc phải nhập"),
        (PNG + b"0" * (10 * 1024 * 1024), "lon.png", "quá lớn (tối đa 10 MiB)"),
    ],
)
def test_files_refused_by_content_or_size(client, db, people, files, content, name, message):
    case = case_in(db, people, "specific_assessment")
    login(client, "officer")
    answer = upload(client, case["id"], content, name)
    assert answer.status_code == 422
    assert 'id="file-errors"' in answer.text and message in answer.text
    assert count(db, CaseAttachment) == 0 and not (files.exists() and any(files.iterdir()))


def test_an_attachment_needs_a_title_and_a_known_kind(client, db, people, files) -> None:
    case = case_in(db, people, "specific_assessment")
    login(client, "officer")
    answer = upload(client, case["id"], PDF, title="")
    assert answer.status_code == 422 and 'id="title-errors"' in answer.text
    answer = upload(client, case["id"], PDF, kind="virus")
    assert answer.status_code == 422 and 'id="kind-errors"' in answer.text
    assert count(db, CaseAttachment) == 0


def test_a_body_too_large_is_refused_on_other_routes(client, db, people) -> None:
    case = case_in(db, people, "initial_assessment")
    login(client, "officer")
    answer = client.post(f"/cases/{case['id']}/notes", data={"note": "x" * (2 * 1024 * 1024)})
    assert answer.status_code == 413
    assert count(db, CaseNote) == 0


def test_uploads_out_of_scope_are_not_found(client, db, people, files) -> None:
    case = case_in(db, people, "specific_assessment")
    login(client, "officer.2")
    assert upload(client, case["id"], PDF).status_code == 404
    assert count(db, CaseAttachment) == 0 and not (files.exists() and any(files.iterdir()))


# --- print view, assignment ----------------------------------------------------------------


def test_the_print_view_holds_the_file_and_is_an_audited_read(client, db, people) -> None:
    case = case_in(db, people, "implementing")
    login(client, "officer")
    client.post(f"/cases/{case['id']}/notes", data={"note": "Ghi chú để in"})
    page = client.get(f"/cases/{case['id']}/print")
    assert page.status_code == 200
    seen = text_of(page.text)
    for expected in ("Nguyễn Thị Lan", "điều tra", "Ghi chú để in", "Phê duyệt kế hoạch (Mẫu 05)"):
        assert expected in seen, expected
    main = page.text.split('id="main"')[1]
    assert "·" not in text_of(main) and "<form" not in main
    assert {"view": "full", "purpose": "print"} in audited(db, "case.read")


def test_the_chair_reassigns_and_the_list_names_the_officer(client, db, people) -> None:
    people.make("officer.b", "officer", "20194")
    case = case_in(db, people, "specific_assessment")
    login(client, "chair")
    form = client.get(f"/cases/{case['id']}/assign")
    assert form.status_code == 200 and "officer.b" in form.text
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form.text).group(1)
    bad = client.post(
        f"/cases/{case['id']}/assign", data={"assignee": "officer.2", "version": version}
    )
    assert bad.status_code == 422 and 'id="assignee-errors"' in bad.text
    done = client.post(
        f"/cases/{case['id']}/assign", data={"assignee": "officer.b", "version": version}
    )
    assert done.status_code == 302
    listed = client.get("/")
    row = re.search(rf"{case['reference']}.*?</tr>", listed.text, re.S).group(0)
    assert "Officer B" in row or "officer.b" in row
    page = text_of(client.get(f"/cases/{case['id']}").text)
    assert "Phân công người phụ trách" in page  # in the history
    client.post("/logout")
    login(client, "officer")
    assert client.get(f"/cases/{case['id']}/assign").status_code == 404


def test_a_stale_form_names_who_changed_what(client, db, people) -> None:
    case = case_in(db, people, "plan_drafting")
    login(client, "officer")
    url = f"/cases/{case['id']}/actions/submit_plan"
    form = client.get(url).text
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)
    opened = re.search(r'name="opened_at" value="([^"]+)"', form).group(1)
    from casework.services.cases import assign

    people.make("officer.c", "officer", "20194")
    assign(db, people["chair"], case["id"], "officer.c", int(version))
    due = (datetime.now().date() + timedelta(days=30)).isoformat()
    answer = client.post(url, data={"measures-0-agency_kind": "police",
                                    "measures-0-action": "hành động đã gõ",
                                    "measures-0-due_date": due,
                                    "version": version, "opened_at": opened})  # fmt: skip
    assert answer.status_code == 409
    conflict = text_of(answer.text[answer.text.index("conflict") :])
    assert "Phân công người phụ trách" in conflict and "Chủ tịch UBND cấp xã" in conflict
    assert "Officer C" in conflict or "officer.c" in conflict
    assert "hành động đã gõ" in answer.text


# --- the list ------------------------------------------------------------------------------


def refs(page) -> set[str]:
    return set(re.findall(r">(48-\d{4}-\d{6})<", page.text))


def test_filters_narrow_the_list_and_stay_in_scope(client, db, people) -> None:
    from tests.helpers import drive

    people.make("officer.b", "officer", "20194")
    high = case_in(db, people, "specific_assessment")
    with db.uow() as uow:  # a known risk level on one case (the helpers assess "medium")
        uow.session.get(Case, high["id"]).risk_level = "high"
        uow.commit()
    other = open_case(
        db, people,
        child={"full_name": "Trần Văn Bình", "sex": "male", "age_years": 7},
        abuse_types=["neglect"], reporter={"name": "Cô giáo", "phone": "0905 123 456"},
    )  # fmt: skip
    from casework.services.cases import assign as assign_case

    drive(db, people, other["id"], ["accept"], datetime.now().astimezone())
    with db.uow(readonly=True) as uow:
        version = uow.session.get(Case, other["id"]).version
    assign_case(db, people["chair"], other["id"], "officer.b", version)
    neighbour = open_case(
        db, people, incident_unit_code="20197", abuse_types=["neglect"],
        child={"full_name": "Lê Văn Cường", "sex": "male", "age_years": 5},
    )  # fmt: skip
    login(client, "chair")
    assert refs(client.get("/?risk=high")) == {high["reference"]}
    assert refs(client.get("/?assignee=officer.b")) == {other["reference"]}
    assert refs(client.get("/?abuse_type=neglect")) == {other["reference"]}  # not the neighbour's
    assert refs(client.get("/?q=%2B84905123456")) == {other["reference"]}  # phone, any writing
    assert refs(client.get("/?q=0905.123.456")) == {other["reference"]}
    assert refs(client.get("/?status=closed")) == set()
    assert refs(client.get("/?due_before=2000-01-01")) == set()
    assert high["reference"] in refs(client.get("/?due_before=2099-01-01"))
    assert client.get("/?assignee=officer.2").status_code == 422  # not an officer of the scope
    assert client.get("/?commune=20197").status_code == 422  # communes: province staff only
    assert client.get("/?due_before=tomorrow").status_code == 422
    client.post("/logout")
    login(client, "province")
    everything = refs(client.get("/"))
    assert {high["reference"], other["reference"], neighbour["reference"]} <= everything
    assert refs(client.get("/?commune=20197")) == {neighbour["reference"]}
    assert refs(client.get("/?commune=20197&abuse_type=neglect")) == {neighbour["reference"]}
    client.post("/logout")
    login(client, "province.hn")
    assert refs(client.get("/?q=0905123456")) == set()
    assert client.get("/?commune=20197").status_code == 422  # another province's commune


def test_the_list_is_kept_when_going_into_a_case_and_back(client, db, people) -> None:
    case = case_in(db, people, "specific_assessment")
    login(client, "chair")
    client.get("/?risk=medium&status=open")
    page = client.get(f"/cases/{case['id']}")
    back = re.search(r'<a href="([^"]+)">← ', page.text).group(1).replace("&amp;", "&")
    assert back.startswith("/?") and "risk=medium" in back and "status=open" in back
    assert case["reference"] in client.get(back).text


def test_advice_contacts_are_found_by_intake_and_province_only(client, db, people) -> None:
    from casework.services.intake import record_report
    from tests.conftest import report_payload

    body = report_payload(
        kind="advice",
        child={"full_name": "Võ Thị Ánh", "sex": "female", "age_years": 12},
        reporter={"name": "Mẹ của trẻ", "phone": "0912 000 111"},
        description="Hỏi cách nói chuyện với con.",
    )
    for key in ("abuse_types", "environment"):
        body.pop(key, None)
    record_report(db, people["intake"], body, now=at("2027-02-03T10:00:00"))
    for username in ("intake", "province"):
        login(client, username)
        assert "Hỏi cách nói chuyện với con." in client.get("/?q=vo+thi+anh").text, username
        assert "Hỏi cách nói chuyện với con." in client.get("/?q=0912000111").text, username
        client.post("/logout")
    for username in ("officer", "chair", "province.hn", "intake.111"):
        login(client, username)
        assert "Hỏi cách nói chuyện với con." not in client.get("/?q=vo+thi+anh").text, username
        client.post("/logout")
    assert audited(db, "contacts.searched")


def test_filtered_pages_stay_stable_while_cases_arrive(client, db, people, monkeypatch) -> None:
    from casework.services import queries

    monkeypatch.setattr(
        queries.case_page, "__kwdefaults__", {**queries.case_page.__kwdefaults__, "limit": 2}
    )

    def new_case(i: int, abuse: str) -> str:
        child = {"full_name": f"Trẻ Số {i}", "sex": "female", "age_years": 6}
        return open_case(db, people, child=child, abuse_types=[abuse])["reference"]

    wanted = {new_case(i, "neglect") for i in range(5)}
    new_case(9, "violence")
    login(client, "officer")
    seen, url, arrived = [], "/?abuse_type=neglect", False
    while url:
        page = client.get(url)
        seen += sorted(refs(page))
        if not arrived:  # a new case arrives between two pages: it is newer, on no later page
            new_case(20, "neglect")
            arrived = True
        following = re.search(r'href="(/\?[^"]*after=[^"]+)">', page.text)
        url = following.group(1).replace("&amp;", "&") if following else None
        assert url is None or "abuse_type=neglect" in url
    assert len(seen) == len(set(seen)) and set(seen) == wanted


def test_intake_staff_cannot_filter_by_what_they_do_not_see(client, db, people) -> None:
    case = case_in(db, people, "specific_assessment")
    login(client, "intake")
    assert case["reference"] in refs(client.get("/"))
    assert refs(client.get("/?risk=medium")) == set()  # the risk level is not theirs to see
    assert 'id="risk"' not in client.get("/").text
