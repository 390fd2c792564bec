"""The case list: filters, search and keyset pages, in the query and in scope."""

from __future__ import annotations

import re

from tests.conftest import PASSWORD
from tests.helpers import case_in, open_case


def names(n: int) -> list[str]:
    return [f"Phạm Thị Hoà {i}" for i in range(n)]


def login(client, username: str) -> None:
    client.post("/login", data={"username": username, "password": PASSWORD})


def references(page) -> list[str]:
    return re.findall(r">(48-\d{4}-\d{6})<", page.text)


def test_pages_walk_the_whole_list_once(client, db, people, monkeypatch) -> None:
    from casework.services import queries

    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    monkeypatch.setattr(
        queries.case_page, "__kwdefaults__", {**queries.case_page.__kwdefaults__, "limit": 2}
    )
    made = [
        open_case(db, people, child={"full_name": n, "sex": "female", "age_years": 6})["reference"]
        for n in names(5)
    ]
    login(client, "officer")
    seen, url = [], "/"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += references(page)
        following = re.search(r'href="(/\?[^"]*after=[^"]+)">', page.text)
        url = following.group(1).replace("&amp;", "&") if following else None
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))


def test_search_by_name_without_diacritics_and_by_reference(client, db, people) -> None:
    first = open_case(
        db, people, child={"full_name": "Đặng Văn Hùng", "sex": "male", "age_years": 9}
    )
    other = open_case(
        db, people, child={"full_name": "Lê Thị Mai", "sex": "female", "age_years": 8}
    )
    login(client, "officer")
    found = references(client.get("/?q=dang+van+hung"))
    assert found == [first["reference"]]
    assert references(client.get(f"/?q={other['reference'][-6:]}")) == [other["reference"]]
    assert references(client.get("/?q=zzz")) == []


def test_filters_by_step_and_overdue(client, db, people) -> None:
    closed = case_in(db, people, "closed")
    fresh = open_case(
        db, people, child={"full_name": "Lê Thị Mai", "sex": "female", "age_years": 8}
    )
    login(client, "chair")
    assert references(client.get("/?state=closed")) == [closed["reference"]]
    overdue = references(client.get("/?overdue=1"))
    assert closed["reference"] not in overdue  # a closed case runs no clock
    assert fresh["reference"] in references(client.get("/?state=transferred"))


def test_bad_filters_are_refused_naming_the_parameter(client, db, people) -> None:
    login(client, "officer")
    for query, name in (("state=nonsense", "state"), ("overdue=yes", "overdue"),
                        ("after=garbage", "after"), ("colour=red", "colour")):  # fmt: skip
        page = client.get(f"/?{query}")
        assert page.status_code in (400, 422) and name in page.text, query


def test_the_list_stays_in_scope(client, db, people) -> None:
    case = open_case(db, people)
    login(client, "officer.2")
    assert references(client.get(f"/?q={case['reference']}")) == []
    assert references(client.get("/?q=nguyen")) == []
