"""The `casework` command: happy paths and errors that name the bad argument."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from casework.cli import main
from casework.services.users import user_for_token


@pytest.fixture
def run(db, db_url):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(
            main,
            ["--database-url", db_url, *args],
            input=input,
            env={"CASEWORK_AUDIT_KEY": "test-audit-key"},
        )

    return invoke


def test_users_create_and_token(run, db) -> None:
    result = run(
        "users",
        "create",
        "lan.officer",
        "--role",
        "officer",
        "--unit",
        "20194",
        "--password-stdin",
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    token = run("tokens", "create", "lan.officer")
    assert token.exit_code == 0
    printed = token.output.strip()
    assert printed.startswith("cw_") and "\n" not in printed
    assert user_for_token(db, printed).username == "lan.officer"


BAD_USERS = [
    (["bad name!", "--role", "officer", "--unit", "20194"], "pw-long-enough", "USERNAME"),
    (["ok.user", "--role", "wizard", "--unit", "20194"], "pw-long-enough", "--role"),
    (["ok.user", "--role", "officer", "--unit", "99999"], "pw-long-enough", "--unit"),
    (["ok.user", "--role", "officer", "--unit", "48"], "pw-long-enough", "--unit"),
    (["ok.user", "--role", "agency", "--unit", "20194"], "pw-long-enough", "--agency"),
    (
        ["ok.user", "--role", "agency", "--unit", "20194", "--agency", "army"],
        "pw-long-enough",
        "--agency",
    ),
    (["ok.user", "--role", "officer", "--unit", "20194"], "short", "password"),
    (
        ["ok.user", "--role", "officer", "--unit", "20194", "--locale", "fr"],
        "pw-long-enough",
        "--locale",
    ),
]


@pytest.mark.parametrize(("args", "password", "named"), BAD_USERS)
def test_users_create_errors_name_the_argument(run, args, password, named) -> None:
    result = run("users", "create", *args, "--password-stdin", input=password + "\n")
    assert result.exit_code != 0
    assert named in result.output
    assert run("tokens", "create", "ok.user").exit_code != 0  # nothing was created


def test_users_create_requires_password_stdin(run) -> None:
    result = run("users", "create", "ok.user", "--role", "admin")
    assert result.exit_code == 2 and "--password-stdin" in result.output


def test_duplicate_username_is_refused(run) -> None:
    args = ["users", "create", "twice", "--role", "admin", "--password-stdin"]
    assert run(*args, input="a-long-password\n").exit_code == 0
    again = run(*args, input="a-long-password\n")
    assert again.exit_code == 1 and "already taken" in again.output


def test_tokens_for_unknown_user(run) -> None:
    result = run("tokens", "create", "nobody.here")
    assert result.exit_code == 1 and "nobody.here" in result.output


def test_workflow_show_and_diagram(run) -> None:
    show = run("workflow", "show")
    assert show.exit_code == 0 and "plan_submission" in show.output and "Art. 28(1)" in show.output
    diagram = run("workflow", "diagram")
    assert diagram.exit_code == 0 and "stateDiagram-v2" in diagram.output
    assert "initial_assessment --> emergency_protection" in diagram.output
    unknown = run("workflow", "show", "nope")
    assert unknown.exit_code == 2 and "NAME" in unknown.output


def test_audit_seal_then_verify(run, db) -> None:
    from tests.conftest import People
    from tests.helpers import open_case

    crowd = People(db)
    crowd.make("intake", "intake", "48")
    open_case(db, crowd)
    sealed = run("audit", "seal")
    assert sealed.exit_code == 0 and sealed.output.startswith("seal 1:")
    assert run("audit", "verify").exit_code == 0


def test_demo_rejects_unknown_province(run) -> None:
    result = run("demo", "--province", "77", "--cases", "1")
    assert result.exit_code != 0 and "--province" in result.output
    bad = run("demo", "--cases", "0")
    assert bad.exit_code == 2 and "--cases" in bad.output


def test_calendar_add_list_remove(run) -> None:
    added = run(
        "calendar",
        "add",
        "--province",
        "48",
        "--date",
        "2027-03-16",
        "--kind",
        "off",
        "--note",
        "nghỉ bù",
    )
    assert added.exit_code == 0, added.output
    assert "2027-03-16  off   nghỉ bù" in run("calendar", "list", "--province", "48").output
    assert run("calendar", "remove", "--province", "48", "--date", "2027-03-16").exit_code == 0
    assert run("calendar", "list", "--province", "48").output == ""


BAD_CALENDAR = [
    (["--province", "77", "--date", "2027-03-16", "--kind", "off"], "--province"),
    (["--province", "20194", "--date", "2027-03-16", "--kind", "off"], "--province"),
    (["--province", "48", "--date", "16/03/2027", "--kind", "off"], "--date"),
    (["--province", "48", "--date", "2027-03-16", "--kind", "holiday"], "--kind"),
    (["--province", "48", "--date", "2027-03-16", "--kind", "work"], "--date"),
]


@pytest.mark.parametrize(("args", "named"), BAD_CALENDAR)
def test_calendar_errors_name_the_option(run, args, named) -> None:
    result = run("calendar", "add", *args)
    assert result.exit_code != 0 and named in result.output
    assert run("calendar", "list", "--province", "48").output == ""


def test_calendar_day_twice_and_removing_a_missing_day(run) -> None:
    args = ["calendar", "add", "--province", "48", "--date", "2027-03-16", "--kind", "off"]
    assert run(*args).exit_code == 0
    again = run(*args)
    assert again.exit_code == 1 and "already" in again.output
    missing = run("calendar", "remove", "--province", "48", "--date", "2027-03-17")
    assert missing.exit_code == 1 and "not in the calendar" in missing.output


def test_workflow_override_applies_to_new_clocks(run, db) -> None:
    result = run(
        "workflow",
        "override",
        "--province",
        "48",
        "--rule",
        "initial_assessment",
        "--duration",
        "8",
        "--source",
        "QĐ 704/QĐ-UBND",
        "--reason",
        "QĐ 704",
    )
    assert result.exit_code == 0, result.output
    from tests.conftest import People, at
    from tests.helpers import open_case

    crowd = People(db)
    crowd.make("intake", "intake", "48")
    case = open_case(db, crowd, received_at="2027-03-01T08:00:00+07:00")
    due = next(d["due_at"] for d in case["deadlines"] if d["rule"] == "initial_assessment")
    from casework.clock import parse_iso

    assert parse_iso(due) == at("2027-03-01T16:00:00")


BAD_OVERRIDES = [
    (["--province", "48", "--rule", "nap_time", "--duration", "3"], "--rule"),
    (["--province", "99", "--rule", "review", "--duration", "3"], "--province"),
    (["--province", "48", "--rule", "review", "--duration", "0"], "--duration"),
    (["--province", "48", "--rule", "review", "--unit", "weeks"], "--unit"),
    (["--province", "48", "--rule", "review"], "--rule"),
    (["--province", "48", "--rule", "review", "--ladder", "[{"], "--ladder"),
    (["--province", "48", "--rule", "review", "--ladder", "[]"], "--ladder"),
    (["--province", "48", "--rule", "review", "--ladder", '[{"name": "x"}]'], "--ladder"),
    (
        [
            "--province",
            "48",
            "--rule",
            "review",
            "--ladder",
            '[{"name": "x", "at_fraction": 0.5, "notify": ["mayor"]}]',
        ],
        "--ladder",
    ),
]


BAD_OVERRIDES += [
    (["--province", "48", "--rule", "review", "--duration", "3"], "--reason"),
    (["--province", "48", "--rule", "review", "--duration", "3", "--reason", " "], "--reason"),
    (
        ["--province", "48", "--rule", "review", "--duration", "3", "--reason", "x"]
        + ["--effective", "2020-01-01"],
        "--effective",
    ),
    (
        ["--province", "48", "--rule", "review", "--duration", "3", "--reason", "x"]
        + ["--effective", "01/03/2030"],
        "--effective",
    ),
]


@pytest.mark.parametrize(("args", "named"), BAD_OVERRIDES)
def test_workflow_override_errors_name_the_option(run, args, named) -> None:
    result = run("workflow", "override", *args)
    assert result.exit_code != 0 and named in result.output


def test_workflow_withdraw_and_history(run) -> None:
    base = ["--province", "48", "--rule", "review"]
    assert (
        run("workflow", "override", *base, "--duration", "20", "--reason", "QĐ 704").exit_code == 0
    )
    assert run("workflow", "withdraw", *base).exit_code != 0  # no reason
    withdrawn = run(
        "workflow", "withdraw", *base, "--reason", "bãi bỏ", "--effective", "2030-01-01"
    )
    assert withdrawn.exit_code == 0, withdrawn.output
    history = run("workflow", "history", "--province", "48").output.splitlines()
    assert history[0].startswith("review") and "v2  from 2030-01-01" in history[0]
    assert "withdrawn" in history[0] and "bãi bỏ" in history[0]
    assert "v1" in history[1] and '"duration": 20' in history[1] and "QĐ 704" in history[1]


def test_bad_database_url_and_revision(run) -> None:
    runner = CliRunner()
    bad = runner.invoke(main, ["--database-url", "mysql://x/y", "audit", "verify"])
    assert bad.exit_code == 2 and "--database-url" in bad.output
    nonsense = runner.invoke(main, ["--database-url", "not a url", "audit", "verify"])
    assert nonsense.exit_code == 2 and "--database-url" in nonsense.output
    revision = run("db", "upgrade", "--revision", "nonsense")
    assert revision.exit_code == 2 and "--revision" in revision.output


def test_units_add_an_old_district_and_commune(run, db) -> None:
    district = run(
        "units",
        "add",
        "--code",
        "491",
        "--name",
        "Huyện Hoà Vang (cũ 2)",
        "--level",
        "district",
        "--parent",
        "48",
        "--valid-from",
        "1997-01-01",
        "--valid-to",
        "2025-06-30",
    )
    assert district.exit_code == 0, district.output
    commune = run(
        "units",
        "add",
        "--code",
        "20309",
        "--name",
        "Xã Hoà Liên (cũ)",
        "--level",
        "commune",
        "--parent",
        "491",
        "--valid-from",
        "1997-01-01",
        "--valid-to",
        "2025-06-30",
    )
    assert commune.exit_code == 0, commune.output
    assert "province 48" in commune.output
    from datetime import date

    from casework.services.units import find_unit

    with db.uow(readonly=True) as uow:
        unit = find_unit(uow.session, "20309", on=date(2020, 1, 1))
        assert unit is not None and unit.parent.code == "491"
        assert find_unit(uow.session, "20309", on=date(2026, 1, 1)) is None


BAD_UNITS = [
    (["--code", "4911", "--level", "district", "--parent", "48"], "--code"),
    (["--code", "492", "--level", "district"], "--parent"),
    (["--code", "492", "--level", "district", "--parent", "77"], "--parent"),
    (["--code", "20310", "--level", "commune", "--parent", "20194"], "--parent"),
    (["--code", "49", "--level", "province", "--parent", "48"], "--parent"),
    (["--code", "492", "--level", "hamlet", "--parent", "48"], "--level"),
    (
        ["--code", "492", "--level", "district", "--parent", "48", "--valid-to", "1990-01-01"],
        "--valid-to",
    ),
    (
        ["--code", "492", "--level", "district", "--parent", "48", "--valid-to", "soon"],
        "--valid-to",
    ),
    (["--code", "490", "--level", "district", "--parent", "48"], "--code"),
]


@pytest.mark.parametrize(("args", "named"), BAD_UNITS)
def test_units_add_errors_name_the_option(run, args, named) -> None:
    result = run("units", "add", "--name", "X", "--valid-from", "1997-01-01", *args)
    assert result.exit_code != 0 and named in result.output


def test_demo_cases_past_acceptance_have_their_communes_officer(run, db) -> None:
    import sqlalchemy as sa

    from casework.models import Case, User

    result = run("demo", "--cases", "20")
    assert result.exit_code == 0, result.output
    with db.uow(readonly=True) as uow:
        rows = uow.session.execute(
            sa.select(Case.state, Case.unit_id, User.unit_id, User.role).outerjoin(
                User, Case.assignee_id == User.id
            )
        ).all()
    accepted = [r for r in rows if r[0] not in ("received", "transferred")]
    assert accepted and all(r[3] == "officer" and r[2] == r[1] for r in accepted)


def test_demo_prints_the_two_step_keys_of_those_who_need_them(run, db) -> None:
    import pyotp
    import sqlalchemy as sa

    from casework.models import User
    from casework.services import twofactor

    result = run("demo", "--cases", "10")
    assert result.exit_code == 0, result.output
    keys = dict(
        line.split() for line in result.output.split("Two-step sign-in")[1].splitlines()[2:]
    )
    assert set(keys) == {"province", "admin", "admin.province"}
    with db.uow(readonly=True) as uow:
        province = uow.session.scalar(sa.select(User).where(User.username == "province"))
    assert twofactor.is_enrolled(province)
    assert pyotp.TOTP(keys["province"]).verify(pyotp.TOTP(province.totp_secret).now())
    again = run("demo", "--cases", "10")  # the same keys on a second run
    assert keys["province"] in again.output


def test_the_cli_says_an_over_long_name_is_too_long(run, db) -> None:
    result = run("users", "disable", "x" * 81)
    assert result.exit_code != 0
    assert "at most 80 characters" in result.output


@pytest.mark.parametrize(
    ("args", "named"),
    [(["--name", "x" * 81], "--name"), (["--days", "0"], "--days"), (["--days", "9999"], "--days")],
)
def test_tokens_create_errors_name_the_option_and_create_nothing(run, args, named) -> None:
    assert (
        run(
            "users",
            "create",
            "tok.user",
            "--role",
            "admin",
            "--password-stdin",
            input="a-long-password\n",
        ).exit_code
        == 0
    )
    result = run("tokens", "create", "tok.user", *args)
    assert result.exit_code != 0 and named in result.output, result.output
    listed = run("tokens", "list", "--user", "tok.user", "--json")
    assert listed.exit_code == 0 and json.loads(listed.output) == [], listed.output
