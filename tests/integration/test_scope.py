"""Each role sees its scope and nothing else; out of scope looks like not found."""

from __future__ import annotations

import pytest

from casework.errors import NotFound, PermissionDenied
from casework.services.intake import record_report
from casework.services.queries import get_case, list_cases
from tests.conftest import HANOI, NEIGHBOUR, at, report_payload
from tests.helpers import case_in, open_case

NOW = at("2027-02-04T10:00:00")

#: username → can it see a case of commune 20194 (Đà Nẵng) that user "intake" recorded?
VISIBILITY = [
    ("intake", True),  # recorded it
    ("intake.111", False),  # another intake point
    ("officer", True),  # the commune
    ("chair", True),
    ("officer.2", False),  # neighbouring commune
    ("chair.2", False),
    ("officer.hn", False),  # another province
    ("province", True),  # the province office
    ("province.hn", False),
    ("police", False),  # no task referred yet
    ("admin", False),  # no case content by default
]


@pytest.mark.parametrize(("username", "visible"), VISIBILITY)
def test_case_visibility_by_role(db, people, username, visible) -> None:
    case = open_case(db, people)
    listed = [c["id"] for c in list_cases(db, people[username], now=NOW)]
    if visible:
        assert get_case(db, people[username], case["id"], now=NOW)["id"] == case["id"]
        assert listed == [case["id"]]
    else:
        with pytest.raises(NotFound, match=f"case {case['id']} not found"):
            get_case(db, people[username], case["id"], now=NOW)
        assert listed == []


def test_agency_sees_only_cases_referred_to_it_and_only_its_tasks(db, people) -> None:
    view = case_in(db, people, "implementing")
    police = get_case(db, people["police"], view["id"], now=NOW)
    assert [t["agency_kind"] for t in police["tasks"]] == ["police"]
    assert "history" not in police and "facts" not in police
    assert "risk_level" not in police  # no assessments
    # What the task needs: who the child is and where to find them; not the birth date.
    assert set(police["child"]) == {"full_name", "sex", "age_years", "address"}
    assert {d["rule"] for d in police["deadlines"]} == {"task_response.police", "task_completion"}
    assert "escalations" not in police
    # The neighbouring commune's police was not referred anything.
    with pytest.raises(NotFound):
        get_case(db, people["police.2"], view["id"], now=NOW)


def test_agency_cannot_fire_workflow_events(db, people) -> None:
    from casework.services.cases import fire_event

    view = case_in(db, people, "implementing")
    with pytest.raises(PermissionDenied):
        fire_event(db, people["police"], view["id"], "start_review", view["version"], {}, now=NOW)


def test_out_of_scope_event_looks_like_not_found(db, people) -> None:
    from casework.services.cases import fire_event

    view = case_in(db, people, "initial_assessment")
    with pytest.raises(NotFound):
        fire_event(
            db,
            people["officer.2"],
            view["id"],
            "assess",
            view["version"],
            {"verified": True, "risk_level": "low", "findings": "x"},
            now=NOW,
        )


def test_agency_and_admin_cannot_record_reports(db, people) -> None:
    for username in ("police", "admin"):
        with pytest.raises(PermissionDenied):
            record_report(db, people[username], report_payload(), now=NOW)


def test_inactive_user_sees_nothing(db, people) -> None:
    case = open_case(db, people)
    officer = people["officer"]
    officer.active = False
    with pytest.raises(NotFound):
        get_case(db, officer, case["id"], now=NOW)


def test_the_event_paths_scope_check_agrees_with_the_query_filter(db, people) -> None:
    """Events read a case by id and check scope in Python (scope.may_see); lists and reads
    filter in SQL (scope.case_filter). For every person and cases of every kind — another
    commune, another intake point, a case referred to an agency, an inactive user — the
    two give the same answer."""
    import sqlalchemy as sa

    from casework.casestore import open_store
    from casework.models import Case, User
    from casework.scope import case_filter, may_see

    moved = case_in(
        db, people, "implementing", child={**report_payload()["child"], "full_name": "Đỗ Văn Bình"}
    )
    moved_out = _moved(db, people, moved, HANOI)
    declined = case_in(
        db, people, "implementing", child={**report_payload()["child"], "full_name": "Vũ Thị Mai"}
    )
    _answer_police_task(db, people, declined["id"], "decline")
    done_then_moved = case_in(
        db, people, "implementing", child={**report_payload()["child"], "full_name": "Hồ Văn Tú"}
    )
    _answer_police_task(db, people, done_then_moved["id"], "complete")
    _moved(db, people, get_case(db, people["officer"], done_then_moved["id"], now=NOW), NEIGHBOUR)
    cases = [
        moved_out["id"],
        declined["id"],
        done_then_moved["id"],
        open_case(db, people)["id"],
        case_in(
            db,
            people,
            "implementing",
            child={**report_payload()["child"], "full_name": "Trần Văn Nam"},
        )["id"],
        open_case(
            db,
            people,
            actor="intake.111",
            child={**report_payload()["child"], "full_name": "Lê Thị Hoa"},
        )["id"],
        open_case(
            db,
            people,
            incident_unit_code=NEIGHBOUR,
            child={**report_payload()["child"], "full_name": "Phạm Văn An", "unit_code": NEIGHBOUR},
        )["id"],
    ]
    with db.uow() as uow:
        inactive = uow.session.scalars(sa.select(User).where(User.username == "officer.2")).one()
        inactive.active = False
        uow.commit()
    actors = {**people._users, "officer.2": inactive}
    checked = 0
    for username, actor in actors.items():
        with db.uow(readonly=True) as uow:
            visible = set(uow.session.scalars(sa.select(Case.id).where(case_filter(actor))))
        with open_store(db) as store:
            for case_id in cases:
                case = store.load(case_id)
                assert may_see(lambda: store.session, actor, case) == (case_id in visible), (
                    username,
                    case_id,
                )
                checked += 1
    assert checked == len(actors) * len(cases)


def _moved(db, people, view, unit_code):
    from casework.services.cases import fire_event

    return fire_event(
        db,
        people["chair"],
        view["id"],
        "transfer_out",
        view["version"],
        {"unit_code": unit_code, "reason": "chuyển nơi ở"},
        now=NOW,
    )


def _answer_police_task(db, people, case_id, action):
    from casework.services.tasks import respond

    view = get_case(db, people["police"], case_id, now=NOW)
    [task] = view["tasks"]
    return respond(db, people["police"], task["id"], action, "lý do", now=NOW)


def test_intake_sees_its_report_and_where_the_case_stands_not_the_casework(db, people) -> None:
    from workflows.case import INTAKE_STEPS

    view = case_in(db, people, "implementing")
    seen = get_case(db, people["intake"], view["id"], now=NOW)
    assert (seen["reference"], seen["state"]) == (view["reference"], "implementing")
    assert [r["description"] for r in seen["reports"]] == [report_payload()["description"]]
    assert seen["child"]["full_name"] == "Nguyễn Thị Lan"  # as the intake point recorded it
    for hidden in ("facts", "history", "escalations", "risk_level"):
        assert hidden not in seen
    assert seen["tasks"] == []
    assert seen["deadlines"] and {d["step"] for d in seen["deadlines"]} <= set(INTAKE_STEPS)
    [listed] = list_cases(db, people["intake"], now=NOW)
    assert listed["risk_level"] is None
    # The commune sees all of it.
    full = get_case(db, people["officer"], view["id"], now=NOW)
    assert full["risk_level"] == "medium" and full["history"] and len(full["tasks"]) == 2


def test_intake_loses_sight_of_a_case_that_left_the_province(db, people) -> None:
    view = case_in(db, people, "initial_assessment")
    view = _moved(db, people, view, NEIGHBOUR)  # same province: still followed
    assert get_case(db, people["intake"], view["id"], now=NOW)["state"] == "transferred"
    from casework.services.cases import fire_event

    fire_event(
        db,
        people["chair.2"],
        view["id"],
        "transfer_out",
        view["version"],
        {"unit_code": HANOI, "reason": "chuyển nơi ở"},
        now=NOW,
    )
    with pytest.raises(NotFound):
        get_case(db, people["intake"], view["id"], now=NOW)
    assert list_cases(db, people["intake"], now=NOW) == []
    with pytest.raises(NotFound):  # nor can it fire an event on it
        fire_event(db, people["intake"], view["id"], "transfer", view["version"] + 1, {}, now=NOW)


def test_an_agency_loses_the_case_when_it_declines_its_task(db, people) -> None:
    from casework.services.queries import list_tasks

    view = case_in(db, people, "implementing")
    _answer_police_task(db, people, view["id"], "decline")
    with pytest.raises(NotFound):
        get_case(db, people["police"], view["id"], now=NOW)
    assert list_tasks(db, people["police"]) == []
    assert list_cases(db, people["police"], now=NOW) == []


def test_a_task_outside_ones_scope_answers_like_one_that_does_not_exist(db, people) -> None:
    from casework.services.tasks import respond

    view = case_in(db, people, "implementing")
    task_id = view["tasks"][0]["id"]
    missing = task_id + 1000
    for username in ("officer.2", "chair.2", "province.hn", "intake.111", "police.2", "admin"):
        answers = []
        for some_id in (task_id, missing):
            with pytest.raises(NotFound) as error:
                respond(db, people[username], some_id, "accept", now=NOW)
            answers.append(error.value.message.replace(str(some_id), "N"))
        assert answers[0] == answers[1], username
    # Who sees the case sees the task: told why they may not answer it.
    with pytest.raises(PermissionDenied):
        respond(db, people["officer"], task_id, "accept", now=NOW)


def test_an_agencys_case_list_times_only_its_own_tasks(db, people) -> None:
    # The list's "next due" must not reveal the review or the other agencies' clocks.
    from casework.services.tasks import respond

    view = case_in(db, people, "implementing")
    task = next(t for t in view["tasks"] if t["agency_kind"] == "police")
    respond(db, people["police"], task["id"], "accept", now=NOW)  # its answer clock is met
    seen = get_case(db, people["police"], view["id"], now=NOW)["deadlines"]
    police = {d["due_at"] for d in seen if d["status"] in ("open", "overdue")}
    [row] = list_cases(db, people["police"])
    assert row["next_due_at"] == min(police)
    everything = get_case(db, people["chair"], view["id"], now=NOW)["deadlines"]
    earliest = min(d["due_at"] for d in everything if d["status"] in ("open", "overdue"))
    assert earliest < row["next_due_at"]  # health's answer is due first: not the police's


def test_a_province_administrator_runs_only_its_province(db, people) -> None:
    import sqlalchemy as sa

    from casework import scope
    from casework.models import User

    national = people["admin"]
    provincial = people.make("admin.48", "admin", "48")
    assert scope.administers(national, "48") and scope.administers(national, "01")
    assert scope.administers(national, None)  # national things: the units tree
    assert scope.administers(provincial, "48")
    assert not scope.administers(provincial, "01")
    assert not scope.administers(provincial, None)
    assert not scope.administers(people["province"], "48")  # staff, not an administrator
    with db.uow(readonly=True) as uow:

        def managed(actor: User) -> set[str]:
            query = sa.select(User.username).where(scope.administered_users(actor))
            return set(uow.session.scalars(query))

        everyone = set(uow.session.scalars(sa.select(User.username)))
        assert managed(national) == everyone
        assert "officer.hn" not in managed(provincial)
        assert "province.hn" not in managed(provincial)
        assert {"officer", "chair", "officer.2", "province", "police", "admin.48"} <= managed(
            provincial
        )
        assert managed(people["chair"]) == set()
