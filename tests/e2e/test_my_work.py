"""My work: what needs the officer or the chair now, the nearest deadline first."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from casework.services.queries import my_work
from tests.conftest import PASSWORD
from tests.helpers import drive, open_case


def recent(db, people, name: str, hours_ago: float):
    received = (datetime.now().astimezone() - timedelta(hours=hours_ago)).replace(microsecond=0)
    child = {"full_name": name, "sex": "female", "age_years": 7, "unit_code": "20194"}
    return open_case(
        db, people, now=datetime.now().astimezone(), received_at=received.isoformat(), child=child
    )


def test_sections_hold_what_needs_each_person_the_most_urgent_first(db, people) -> None:
    older = recent(db, people, "Trẻ A", 2)  # its 3 h assignment clock runs out first
    newer = recent(db, people, "Trẻ B", 0.5)
    mine = recent(db, people, "Trẻ C", 1)
    drive(db, people, mine["id"], ["accept"], datetime.now().astimezone(), timedelta(seconds=1))
    officer = my_work(db, people["officer"])
    assert [c["id"] for c in officer["unassigned"]] == [older["id"], newer["id"]]
    assert [c["id"] for c in officer["assigned"]] == [mine["id"]]
    chair = my_work(db, people["chair"])
    assert set(chair) == {"approval", "unassigned"} and chair["approval"] == []
    assert my_work(db, people["officer.2"]) == {"assigned": [], "unassigned": []}
    for role in ("intake", "province", "police", "admin"):
        assert my_work(db, people[role]) == {}


def test_the_page_counts_down_in_the_readers_language(client, db, people) -> None:
    case = recent(db, people, "Trẻ A", 1)
    client.post("/login", data={"username": "officer", "password": PASSWORD})
    page = client.get("/work")
    assert page.status_code == 200 and case["reference"] in page.text
    assert re.search(r"còn [23] (giờ|tiếng)", page.text)  # the 3 h clock (CLDR words vary)
    english = client.get("/work?lang=en")
    assert re.search(r"[23] hours left", english.text)
    client.post("/logout")
    client.post("/login", data={"username": "police", "password": PASSWORD})
    assert client.get("/work").status_code == 404


def test_a_long_section_shows_its_most_urgent_cases(db, people, monkeypatch) -> None:
    from casework.services import queries

    # Recorded newest first: the first ids are the least urgent, so a section cut before
    # it is sorted would keep the wrong ones.
    cases = []
    for n, hours in enumerate((0.5, 1, 2, 2.5)):
        when = (datetime.now().astimezone() - timedelta(hours=hours)).replace(microsecond=0)
        child = {"full_name": f"Trẻ {n}", "sex": "female", "age_years": 7, "unit_code": "20194"}
        cases.append(open_case(db, people, now=when, received_at=when.isoformat(), child=child))
    monkeypatch.setattr(queries, "WORK_SECTION_SIZE", 2)
    shown = [c["id"] for c in my_work(db, people["officer"])["unassigned"]]
    assert shown == [cases[3]["id"], cases[2]["id"]]
