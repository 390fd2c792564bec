"""Administrative units, agencies and their focal points in the browser (/admin/units…):
who may do what, what is written and audited, and bad input refused with nothing written."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from casework.models import AdministrativeUnit, Agency, AuditEvent, FocalPoint, User
from casework.services import units
from tests.conftest import HANOI, HOME, PASSWORD
from tests.helpers import case_in

OTHER_ROLES = ("intake", "officer", "chair", "province", "police")


def login(client, username: str) -> None:
    answer = client.post("/login", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 302, username


def count(db, model, *where) -> int:
    with db.uow(readonly=True) as uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)))


def events(db, action: str) -> list[AuditEvent]:
    with db.uow(readonly=True) as uow:
        return list(
            uow.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def admins(people):
    """The national administrator ("admin") and Đà Nẵng's ("admin.48")."""
    people.make("admin.48", "admin", "48")
    return people


def agency_at(db, code: str, kind: str = "health", name: str = "Trạm y tế") -> int:
    with db.uow() as uow:
        unit = uow.session.scalars(
            sa.select(AdministrativeUnit).where(AdministrativeUnit.code == code)
        ).first()
        agency = Agency(unit_id=unit.id, kind=kind, name=name)
        uow.session.add(agency)
        uow.session.flush()
        uow.commit()
        return agency.id


def focal_at(db, agency_id: int) -> int:
    with db.uow() as uow:
        point = FocalPoint(agency_id=agency_id, name="Trần Văn Bình", phone="0905 111 222")
        uow.session.add(point)
        uow.session.flush()
        uow.commit()
        return point.id


def paths(db) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
    """Every page and every form of this section, on things in Đà Nẵng."""
    agency = agency_at(db, HOME)
    point = focal_at(db, agency)
    pages = [
        "/admin/units",
        "/admin/units/new",
        f"/admin/units/{HOME}/agencies",
        f"/admin/agencies/{agency}",
        f"/admin/agencies/{agency}/focal-points/new",
        f"/admin/focal-points/{point}",
    ]
    posts = [
        ("/admin/units/new", {"code": "20399", "name": "Xã X (cũ)", "level": "commune"}),
        (f"/admin/units/{HOME}/agencies", {"kind": "police", "name": "Công an phường"}),
        (f"/admin/agencies/{agency}", {"kind": "health", "name": "Trạm y tế phường"}),
        (f"/admin/agencies/{agency}/delete", {}),
        (f"/admin/agencies/{agency}/focal-points/new", {"name": "A", "phone": "0905123456"}),
        (f"/admin/focal-points/{point}", {"name": "B", "phone": "0905123456"}),
        (f"/admin/focal-points/{point}/delete", {}),
    ]
    return pages, posts


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_every_other_role_is_refused_and_nothing_is_written(client, db, people, role) -> None:
    pages, posts = paths(db)
    login(client, role)
    for path in pages:
        assert client.get(path).status_code == 403, path
    before = (count(db, Agency), count(db, FocalPoint), count(db, AuditEvent))
    for path, data in posts:
        assert client.post(path, data=data).status_code == 403, path
    assert (count(db, Agency), count(db, FocalPoint), count(db, AuditEvent)) == before


def test_anonymous_is_sent_to_sign_in(client, db, people) -> None:
    pages, posts = paths(db)
    before = (count(db, Agency), count(db, FocalPoint), count(db, AuditEvent))
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 302 and "/login" in answer.location, path
    for path, data in posts:
        assert client.post(path, data=data).status_code == 302, path
    assert (count(db, Agency), count(db, FocalPoint), count(db, AuditEvent)) == before


def test_posts_without_csrf_are_refused(db, admins) -> None:
    from config import TestConfig
    from web import create_app

    class WithCsrf(TestConfig):
        WTF_CSRF_ENABLED = True

    pages, posts = paths(db)
    client = create_app(WithCsrf, db=db).test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text)
    client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    before = (count(db, Agency), count(db, FocalPoint), count(db, AuditEvent))
    for path, data in posts:
        assert client.post(path, data=data).status_code == 400, path
    assert (count(db, Agency), count(db, FocalPoint), count(db, AuditEvent)) == before


# --- the tree ------------------------------------------------------------------------------


def test_the_national_admin_browses_provinces_then_communes(client, db, admins) -> None:
    login(client, "admin")
    page = text_of(client.get("/admin/units").text)
    assert "Thành phố Đà Nẵng" in page and "Thành phố Hà Nội" in page
    communes = text_of(client.get("/admin/units?province=48").text)
    assert "Phường Hải Châu" in communes and "Phường Ba Đình" not in communes


def test_search_finds_communes_with_or_without_diacritics(client, db, admins) -> None:
    login(client, "admin")
    for typed in ("hai chau", "Hải Châu", "HAI", "20194"):
        page = text_of(client.get("/admin/units", query_string={"q": typed}).text)
        assert "Phường Hải Châu" in page, typed
        assert "Phường Thanh Khê" not in page, typed
    assert "No commune or ward matches" in text_of(
        client.get("/admin/units?q=khong+co&lang=en").text
    ) or "Không có xã" in text_of(client.get("/admin/units?q=khong+co").text)


def test_the_tree_is_paged(client, db, admins) -> None:
    with db.uow() as uow:
        province = uow.session.scalars(
            sa.select(AdministrativeUnit).where(AdministrativeUnit.code == "48")
        ).first()
        for n in range(60):
            uow.session.add(
                AdministrativeUnit(
                    code=f"9{n:04d}",
                    name=f"Xã Thử {n:02d}",
                    level="commune",
                    parent_id=province.id,
                    province_code="48",
                    valid_from=units.REFORM_DATE,
                )
            )
        uow.commit()
    login(client, "admin")
    first = text_of(client.get("/admin/units?province=48").text)
    second = text_of(client.get("/admin/units?province=48&page=2").text)
    assert "Xã Thử 00" in first and "Xã Thử 59" not in first
    assert "Xã Thử 59" in second and "Xã Thử 00" not in second


def test_a_province_admin_sees_its_province_only(client, db, admins) -> None:
    login(client, "admin.48")
    page = text_of(client.get("/admin/units").text)
    assert "Phường Hải Châu" in page and "Phường Ba Đình" not in page
    assert "Ba Đình" not in text_of(client.get("/admin/units?q=ba+dinh").text)
    assert client.get("/admin/units?province=01").status_code == 404
    assert "Xã Hoà Bắc (cũ)" in page  # its older units too


def test_older_units_are_shown_apart_with_their_dates(client, db, admins) -> None:
    login(client, "admin")
    page = client.get("/admin/units").text
    older = text_of(page[page.index('id="older"') :])
    assert "Huyện Hoà Vang (cũ)" in older and "30/06/2025" in older and "01/01/1997" in older
    assert "Phường Hải Châu" not in older


def test_an_older_unit_shows_the_current_unit_that_kept_its_code(client, db, admins) -> None:
    with db.uow() as uow:
        province = uow.session.scalars(
            sa.select(AdministrativeUnit).where(AdministrativeUnit.code == "48")
        ).first()
        uow.session.add(
            AdministrativeUnit(
                code="20308",
                name="Xã Bà Nà",
                level="commune",
                parent_id=province.id,
                province_code="48",
                valid_from=units.REFORM_DATE,
            )
        )
        uow.commit()
    login(client, "admin")
    page = client.get("/admin/units").text
    rows = re.findall(r"<tr>(.*?)</tr>", page[page.index('id="older"') :], re.S)
    [hoa_bac] = [text_of(r) for r in rows if "Hoà Bắc" in r]
    assert "Xã Bà Nà" in hoa_bac
    [hoa_vang] = [text_of(r) for r in rows if "Hoà Vang (cũ)" in r and "Hoà Bắc" not in r]
    assert "chưa rõ" in hoa_vang  # nothing took the district's code


# --- adding an older unit --------------------------------------------------------------------


def test_the_national_admin_adds_an_older_unit_audited(client, db, admins) -> None:
    login(client, "admin")
    answer = client.post(
        "/admin/units/new",
        data={
            "code": "20311",
            "name": "Xã Hoà Liên (cũ)",
            "level": "commune",
            "parent": "490",
            "valid_from": "1997-01-01",
            "valid_to": "2025-06-30",
        },
    )
    assert answer.status_code == 302
    assert count(db, AdministrativeUnit, AdministrativeUnit.code == "20311") == 1
    [event] = events(db, "settings.unit_added")
    assert event.actor == "admin" and event.summary["code"] == "20311" and event.chain == "48"
    assert "Xã Hoà Liên (cũ)" in text_of(client.get("/admin/units").text)


GOOD_UNIT = {
    "code": "20311",
    "name": "Xã Hoà Liên (cũ)",
    "level": "commune",
    "parent": "490",
    "valid_from": "1997-01-01",
    "valid_to": "2025-06-30",
}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"code": "20308"}, "code", "already used for these dates"),  # Hoà Bắc, same years
        ({"code": "123"}, "code", "5 digits"),
        ({"parent": "20194"}, "parent", "wrong level"),  # a commune under a commune
        ({"parent": "99999"}, "parent", "no unit has this code"),
        ({"valid_to": "1990-01-01"}, "valid_to", "before the date it took effect"),
        ({"valid_from": "soon"}, "valid_from", "must be a date"),
        ({"name": ""}, "name", "is required"),
        ({"level": "hamlet"}, "level", "not one of the choices"),
    ],
)
def test_a_bad_unit_is_refused_next_to_its_field(client, db, admins, change, field, message):
    login(client, "admin")
    client.get("/lang/en")
    before = (count(db, AdministrativeUnit), count(db, AuditEvent))
    answer = client.post("/admin/units/new", data=GOOD_UNIT | change)
    assert answer.status_code == 422
    errors = re.search(rf'id="{field}-errors">(.*?)</ul>', answer.text, re.S)
    assert errors and message in errors.group(1), answer.text[-3000:]
    assert (count(db, AdministrativeUnit), count(db, AuditEvent)) == before


def test_an_overlap_is_a_duplicate_but_other_dates_are_not(client, db, admins) -> None:
    login(client, "admin")
    later = GOOD_UNIT | {"code": "20308", "valid_from": "2025-07-01", "valid_to": "2025-07-02"}
    # Hoà Bắc (cũ) ended on 30/6/2025: the same code may serve again from 1/7/2025.
    assert client.post("/admin/units/new", data=later).status_code == 302
    overlapping = GOOD_UNIT | {"code": "20308", "valid_from": "2020-01-01"}
    assert client.post("/admin/units/new", data=overlapping).status_code == 422


def test_a_province_admin_may_not_add_units(client, db, admins) -> None:
    login(client, "admin.48")
    assert client.get("/admin/units/new").status_code == 403
    assert client.post("/admin/units/new", data=GOOD_UNIT).status_code == 403
    assert count(db, AdministrativeUnit, AdministrativeUnit.code == "20311") == 0
    assert "/admin/units/new" not in client.get("/admin/units").text


# --- agencies and focal points ---------------------------------------------------------------


@pytest.mark.parametrize("admin", ["admin", "admin.48"])
def test_an_admin_adds_renames_and_deletes_an_agency(client, db, admins, admin) -> None:
    login(client, admin)
    answer = client.post(
        f"/admin/units/{HOME}/agencies", data={"kind": "education", "name": "Trường TH Hải Châu"}
    )
    assert answer.status_code == 302
    with db.uow(readonly=True) as uow:
        agency = uow.session.scalars(sa.select(Agency).where(Agency.kind == "education")).one()
    assert events(db, "settings.agency_added")[0].actor == admin
    page = text_of(client.get(f"/admin/units/{HOME}/agencies").text)
    assert "Trường TH Hải Châu" in page
    answer = client.post(
        f"/admin/agencies/{agency.id}", data={"kind": "education", "name": "Trường TH số 1"}
    )
    assert answer.status_code == 302
    [renamed] = events(db, "settings.agency_changed")
    assert renamed.summary["before"]["name"] == "Trường TH Hải Châu"
    assert renamed.summary["after"]["name"] == "Trường TH số 1"
    assert client.post(f"/admin/agencies/{agency.id}/delete").status_code == 302
    assert count(db, Agency, Agency.id == agency.id) == 0
    assert len(events(db, "settings.agency_removed")) == 1


def test_an_agency_in_use_is_not_deleted(client, db, admins) -> None:
    case_in(db, admins, "implementing")  # the plan's tasks go to Hải Châu's police
    login(client, "admin")
    client.get("/lang/en")
    with db.uow(readonly=True) as uow:
        police = uow.session.scalar(sa.select(User.agency_id).where(User.username == "police"))
    before = (count(db, Agency), count(db, AuditEvent))
    answer = client.post(f"/admin/agencies/{police}/delete", follow_redirects=True)
    assert "cannot be deleted" in text_of(answer.text)
    assert (count(db, Agency), count(db, AuditEvent)) == before


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "police", "name": ""}, "name", "is required"),
        ({"kind": "army", "name": "Đồn"}, "kind", "not one of the choices"),
        ({"kind": "police", "name": "x" * 201}, "name", "at most 200"),
    ],
)
def test_a_bad_agency_is_refused_with_nothing_written(client, db, admins, data, field, message):
    login(client, "admin")
    client.get("/lang/en")
    before = (count(db, Agency), count(db, AuditEvent))
    answer = client.post(f"/admin/units/{HOME}/agencies", data=data)
    assert answer.status_code == 422
    errors = re.search(rf'id="{field}-errors">(.*?)</ul>', answer.text, re.S)
    assert errors and message in errors.group(1)
    assert (count(db, Agency), count(db, AuditEvent)) == before


def test_the_same_agency_twice_is_refused(client, db, admins) -> None:
    agency_at(db, HOME, "health", "Trạm y tế")
    login(client, "admin")
    client.get("/lang/en")
    answer = client.post(
        f"/admin/units/{HOME}/agencies", data={"kind": "health", "name": "trạm Y tế"}
    )
    assert answer.status_code == 422 and "already has an agency" in answer.text
    assert count(db, Agency, Agency.kind == "health") == 1


def test_a_province_admin_cannot_reach_another_provinces_agencies(client, db, admins) -> None:
    hanoi = agency_at(db, HANOI)
    point = focal_at(db, hanoi)
    login(client, "admin.48")
    before = (count(db, Agency), count(db, FocalPoint), count(db, AuditEvent))
    assert client.get(f"/admin/units/{HANOI}/agencies").status_code == 404
    assert (
        client.post(
            f"/admin/units/{HANOI}/agencies", data={"kind": "police", "name": "CA"}
        ).status_code
        == 404
    )
    assert client.get(f"/admin/agencies/{hanoi}").status_code == 404
    assert client.post(f"/admin/agencies/{hanoi}/delete").status_code == 404
    assert client.get(f"/admin/agencies/{hanoi}/focal-points/new").status_code == 404
    assert (
        client.post(
            f"/admin/focal-points/{point}", data={"name": "X", "phone": "0905123456"}
        ).status_code
        == 404
    )
    assert client.post(f"/admin/focal-points/{point}/delete").status_code == 404
    assert (count(db, Agency), count(db, FocalPoint), count(db, AuditEvent)) == before
    client.post("/logout")
    login(client, "admin")  # the national one may
    assert client.get(f"/admin/units/{HANOI}/agencies").status_code == 200


@pytest.mark.parametrize("admin", ["admin", "admin.48"])
def test_focal_points_are_added_edited_and_removed(client, db, admins, admin) -> None:
    agency = agency_at(db, HOME)
    login(client, admin)
    for name in ("Nguyễn Thị Hoa", "Lê Văn Nam"):  # several per agency
        answer = client.post(
            f"/admin/agencies/{agency}/focal-points/new",
            data={"name": name, "position": "Trạm trưởng", "phone": "0236 3822 111", "email": ""},
        )
        assert answer.status_code == 302
    page = text_of(client.get(f"/admin/units/{HOME}/agencies").text)
    assert "Nguyễn Thị Hoa" in page and "Lê Văn Nam" in page and "0236 3822 111" in page
    with db.uow(readonly=True) as uow:
        first = uow.session.scalars(sa.select(FocalPoint).order_by(FocalPoint.id)).first()
    answer = client.post(
        f"/admin/focal-points/{first.id}",
        data={
            "name": "Nguyễn Thị Hoa",
            "position": "Phó trạm",
            "phone": "",
            "email": "hoa@tram.vn",
        },
    )
    assert answer.status_code == 302
    [changed] = events(db, "settings.focal_point_changed")
    assert changed.summary["fields"] == ["email", "phone", "position"]
    assert client.post(f"/admin/focal-points/{first.id}/delete").status_code == 302
    assert count(db, FocalPoint) == 1
    assert len(events(db, "settings.focal_point_added")) == 2
    assert len(events(db, "settings.focal_point_removed")) == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "A", "phone": "", "email": ""}, "phone", "a phone number or an e-mail"),
        ({"name": "A", "phone": "call me"}, "phone", "must be a phone number"),
        ({"name": "A", "email": "not-an-address"}, "email", "must be an e-mail address"),
        ({"name": "", "phone": "0905123456"}, "name", "is required"),
    ],
)
def test_a_bad_focal_point_is_refused_with_nothing_written(
    client, db, admins, data, field, message
):
    agency = agency_at(db, HOME)
    point = focal_at(db, agency)
    login(client, "admin")
    client.get("/lang/en")
    before = (count(db, FocalPoint), count(db, AuditEvent))
    for path in (f"/admin/agencies/{agency}/focal-points/new", f"/admin/focal-points/{point}"):
        answer = client.post(path, data=data)
        assert answer.status_code == 422, path
        errors = re.search(rf'id="{field}-errors">(.*?)</ul>', answer.text, re.S)
        assert errors and message in errors.group(1), path
    assert (count(db, FocalPoint), count(db, AuditEvent)) == before
    with db.uow(readonly=True) as uow:
        assert uow.session.get(FocalPoint, point).name == "Trần Văn Bình"
