"""Bulk reassignment from the case list: chairs and the province tick cases and name one
officer; a batch the officer cannot take writes nothing and names the cases."""

from __future__ import annotations

import re

import sqlalchemy as sa

from casework.models import Case, Deadline
from tests.conftest import NEIGHBOUR, PASSWORD
from tests.helpers import case_in, open_case


def login(client, username: str) -> None:
    answer = client.post("/login", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 302


def child(name: str, unit: str = "20194") -> dict[str, object]:
    return {"full_name": name, "sex": "male", "age_years": 7, "unit_code": unit}


def picks(page: str) -> dict[str, str]:
    """The list's checkboxes: reference -> value (id:version)."""
    found = {}
    for value, ref in re.findall(
        r'name="case" value="(\d+:\d+)" id="pick-\d+"><label class="visually-hidden" '
        r'for="pick-\d+">[^<]*?([A-Z0-9][^<]*?)</label>',
        page,
    ):
        found[ref.split()[-1]] = value
    return found


def state(db):
    with db.uow(readonly=True) as uow:
        s = uow.session
        return (
            {c.reference: c.assignee_id for c in s.scalars(sa.select(Case))},
            sorted((d.id, d.due_at, d.status) for d in s.scalars(sa.select(Deadline))),
        )


def test_the_chair_reassigns_the_ticked_cases_and_no_clock_moves(client, db, people) -> None:
    people.make("officer.b", "officer", "20194")
    made = [case_in(db, people, "initial_assessment", child=child(f"Trẻ {n}")) for n in range(2)]
    login(client, "chair")
    page = client.get("/?lang=en")
    assert 'id="pick-all"' in page.text and "Select all cases on this page" in page.text
    assert 'for="pick-all"' in page.text and "js/bulk.js" in page.text
    boxes = picks(page.text)
    assert set(boxes) == {c["reference"] for c in made}
    _, clocks_before = state(db)
    answer = client.post(
        "/cases/reassign", data={"case": list(boxes.values()), "assignee": "officer.b"}
    )
    assert answer.status_code == 302
    assignees, clocks_after = state(db)
    assert {assignees[c["reference"]] for c in made} == {people["officer.b"].id}
    assert clocks_after == clocks_before
    assert "đã phân công lại 2 vụ việc" in client.get("/").text  # the list, flashed


def test_a_case_of_another_commune_is_named_and_nothing_is_written(client, db, people) -> None:
    home = case_in(db, people, "initial_assessment", child=child("Trẻ nhà"))
    other = open_case(
        db, people, child=child("Trẻ xã bên", NEIGHBOUR), incident_unit_code=NEIGHBOUR
    )
    login(client, "province")
    boxes = picks(client.get("/").text)
    before = state(db)
    answer = client.post(
        "/cases/reassign?lang=en", data={"case": list(boxes.values()), "assignee": "officer"}
    )
    assert answer.status_code == 422
    assert "Nothing was reassigned." in answer.text
    named = answer.text.split(other["reference"])[1].split("</li>")[0]
    assert "does not work in" in named
    assert home["reference"] in answer.text
    assert state(db) == before
    # Leaving the other commune's case out, the rest goes through.
    again = client.post(
        "/cases/reassign", data={"case": [boxes[home["reference"]]], "assignee": "officer"}
    )
    assert again.status_code == 302


def test_a_stale_case_bad_input_and_who_may(client, db, people) -> None:
    case = case_in(db, people, "initial_assessment", child=child("Trẻ cũ"))
    login(client, "chair")
    value = picks(client.get("/").text)[case["reference"]]
    case_id, version = value.split(":")
    stale = client.post(
        "/cases/reassign?lang=en",
        data={"case": f"{case_id}:{int(version) - 1}", "assignee": "officer"},
    )
    assert stale.status_code == 422 and "changed since the list was shown" in stale.text
    nothing = client.post("/cases/reassign?lang=en", data={"assignee": "officer"})
    assert nothing.status_code == 422 and 'id="case-errors"' in nothing.text
    nobody = client.post("/cases/reassign?lang=en", data={"case": value})
    assert nobody.status_code == 422 and 'id="assignee-errors"' in nobody.text
    garbage = client.post("/cases/reassign", data={"case": "x:y", "assignee": "officer"})
    assert garbage.status_code == 422
    before = state(db)
    client.post("/logout")
    assert client.post("/cases/reassign", data={"case": value}).status_code == 302  # sign in
    login(client, "officer")
    assert 'id="pick-all"' not in client.get("/").text
    assert (
        client.post("/cases/reassign", data={"case": value, "assignee": "officer"}).status_code
        == 404
    )
    assert state(db) == before


def test_without_csrf_nothing_is_reassigned(db, people) -> None:
    from config import TestConfig
    from web import create_app

    class WithCsrf(TestConfig):
        WTF_CSRF_ENABLED = True

    case = case_in(db, people, "initial_assessment", child=child("Trẻ csrf"))
    client = create_app(WithCsrf, db=db).test_client()
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text
    ).group(1)
    client.post("/login", data={"username": "chair", "password": PASSWORD, "csrf_token": token})
    before = state(db)
    answer = client.post("/cases/reassign", data={"case": f"{case['id']}:1", "assignee": "officer"})
    assert answer.status_code == 400
    assert state(db) == before


def test_a_race_shows_which_cases_were_done(client, db, people, monkeypatch) -> None:
    from casework.errors import Conflict
    from casework.services import cases as commands

    made = [
        case_in(db, people, "initial_assessment", child=child(f"Trẻ đua {n}")) for n in range(2)
    ]
    login(client, "chair")
    boxes = picks(client.get("/").text)
    real, late = commands.assign, made[1]["id"]

    def racing(db_, actor, case_id, *args, **kwargs):
        if case_id == late:
            raise Conflict("changed", current_version=99)
        return real(db_, actor, case_id, *args, **kwargs)

    monkeypatch.setattr(commands, "assign", racing)
    answer = client.post(
        "/cases/reassign?lang=en",
        data={"case": [boxes[c["reference"]] for c in made], "assignee": "officer"},
    )
    assert answer.status_code == 409
    assert "Those marked done are reassigned" in answer.text
    done = answer.text.split(made[0]["reference"])[1].split("</li>")[0]
    assert "done" in done
    assert "changed since the list was shown" in answer.text.split(made[1]["reference"])[1]
