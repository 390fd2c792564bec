"""The `casework` command."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import click

from casework.db import Database, Settings
from casework.errors import CaseworkError, ValidationError

#: Service field names → the CLI option a user typed.
OPTION_NAMES = {
    "unit": "--unit",
    "days": "--days",
    "agency": "--agency",
    "role": "--role",
    "password": "--password-stdin",
    "username": "USERNAME",
    "locale": "--locale",
    "province": "--province",
    "kind": "--kind",
    "date": "--date",
    "rule": "--rule",
    "duration": "--duration",
    "high_risk_duration": "--high-risk-duration",
    "ladder": "--ladder",
    "workflow": "NAME",
    "assignee_role": "--assignee-role",
    "code": "--code",
    "name": "--name",
    "level": "--level",
    "parent": "--parent",
    "valid_to": "--valid-to",
    "new_password": "password",
    "effective_on": "--effective",
    "reason": "--reason",
    "day": "--date",
    "day_kind": "--kind",
}


class CliContext:
    def __init__(self, database_url: str | None, audit_key: str | None = None) -> None:
        self._url = database_url
        self._audit_key = audit_key
        self._db: Database | None = None

    @property
    def url(self) -> str:
        import sqlalchemy as sa

        from config import Config

        url = self._url or Config.DATABASE_URL
        try:
            backend = sa.make_url(url).get_backend_name()
        except sa.exc.ArgumentError:
            raise click.BadParameter(
                f"not a database URL: {url!r}", param_hint="--database-url"
            ) from None
        if backend not in ("sqlite", "postgresql"):
            raise click.BadParameter(
                "use sqlite:///… or postgresql+psycopg://…", param_hint="--database-url"
            )
        return url

    @property
    def db(self) -> Database:
        if self._db is None:
            from config import Config

            settings = Settings.from_config(Config)
            if self._audit_key:
                settings = dataclasses.replace(settings, audit_key=self._audit_key.encode())
            self._db = Database(self.url, settings)
        return self._db


def _fail(error: CaseworkError) -> None:
    if isinstance(error, ValidationError):
        problems = "; ".join(f"{OPTION_NAMES.get(k, k)}: {v}" for k, v in error.errors.items())
        raise click.ClickException(problems)
    raise click.ClickException(error.message)


@click.group()
@click.option(
    "--database-url",
    envvar="CASEWORK_DATABASE_URL",
    default=None,
    help="SQLAlchemy URL (default: SQLite in instance/).",
)
@click.option("--audit-key", envvar="CASEWORK_AUDIT_KEY", default=None, hidden=True)
@click.pass_context
def main(ctx: click.Context, database_url: str | None, audit_key: str | None) -> None:
    """casework — child-protection case management."""
    ctx.obj = CliContext(database_url, audit_key)


# --- db --------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_obj
def db_upgrade(obj: CliContext, revision: str) -> None:
    """Create or upgrade the schema."""
    from alembic.util import CommandError

    from casework import migrate

    click.echo(f"Upgrading database to {revision} ...", err=True)
    try:
        migrate.upgrade(obj.url, revision)
    except CommandError as error:
        raise click.BadParameter(str(error), param_hint="--revision") from None
    click.echo(f"Database at revision {migrate.current(obj.url)}")


# --- units -----------------------------------------------------------------------------------


@main.group()
def units() -> None:
    """Administrative units."""


@units.command("load")
@click.pass_obj
def units_load(obj: CliContext) -> None:
    """Load the 2025 provinces and communes from vietnam-provinces (idempotent)."""
    from tqdm import tqdm

    from casework.services.units import load_2025_units

    bar = tqdm(total=0, unit="unit", desc="Loading units", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    counts = load_2025_units(obj.db, progress)
    bar.close()
    click.echo(
        f"{counts['provinces']} provinces, {counts['communes']} communes "
        f"({counts['added']} added, {counts['updated']} updated)"
    )


@units.command("add")
@click.option("--code", required=True, help="Official code (2, 3 or 5 digits).")
@click.option("--name", required=True)
@click.option("--level", required=True, type=click.Choice(["province", "district", "commune"]))
@click.option("--parent", "parent_code", default=None, help="The parent unit's code.")
@click.option("--valid-from", required=True, help="YYYY-MM-DD")
@click.option("--valid-to", default=None, help="YYYY-MM-DD (e.g. 2025-06-30 for old units)")
@click.pass_obj
def units_add(
    obj: CliContext,
    code: str,
    name: str,
    level: str,
    parent_code: str | None,
    valid_from: str,
    valid_to: str | None,
) -> None:
    """Add a unit by hand, e.g. a pre-2025 district or commune that old cases keep."""
    from casework.services.units import add_unit

    try:
        unit = add_unit(
            obj.db,
            code,
            name,
            level,
            parent_code,
            _date(valid_from, "--valid-from"),
            _date(valid_to, "--valid-to") if valid_to else None,
        )
    except CaseworkError as error:
        _fail(error)
        return
    click.echo(f"added {unit.level} {unit.code} {unit.name} (province {unit.province_code})")


# --- users and tokens ------------------------------------------------------------------------


@main.group()
def users() -> None:
    """User accounts."""


@users.command("create")
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["intake", "officer", "chair", "province", "agency", "admin"]),
)
@click.option("--unit", "unit_code", default=None, help="Official unit code (commune: 5 digits).")
@click.option(
    "--agency",
    "agency_kind",
    default=None,
    type=click.Choice(["police", "health", "education", "justice", "social_services", "other"]),
)
@click.option("--full-name", default="")
@click.option("--email", default="")
@click.option("--locale", default="vi", type=click.Choice(["vi", "en"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
def users_create(
    obj: CliContext,
    username: str,
    role: str,
    unit_code: str | None,
    agency_kind: str | None,
    full_name: str,
    email: str,
    locale: str,
    password_stdin: bool,
) -> None:
    """Create a user."""
    from casework.services.users import create_user

    if not password_stdin:
        raise click.UsageError("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = create_user(
            obj.db,
            username,
            role,
            password,
            unit_code=unit_code,
            agency_kind=agency_kind,
            full_name=full_name,
            email=email,
            locale=locale,
        )
    except CaseworkError as error:
        _fail(error)
        return
    click.echo(f"created user {user.username} ({user.role})")


@users.command("disable")
@click.argument("username")
@click.pass_obj
def users_disable(obj: CliContext, username: str) -> None:
    """Disable a user: every session ends at once, tokens are refused."""
    _set_active(obj, username, False)


@users.command("enable")
@click.argument("username")
@click.pass_obj
def users_enable(obj: CliContext, username: str) -> None:
    """Enable a disabled user again."""
    _set_active(obj, username, True)


def _set_active(obj: CliContext, username: str, active: bool) -> None:
    from casework.services.users import set_active

    try:
        user = set_active(obj.db, username, active)
    except CaseworkError as error:
        _fail(error)
        return
    click.echo(f"{'enabled' if active else 'disabled'} user {user.username}")


@users.command("unlock")
@click.argument("username")
@click.pass_obj
def users_unlock(obj: CliContext, username: str) -> None:
    """Lift a lockout after repeated failed sign-ins."""
    from casework.services.users import unlock

    try:
        user = unlock(obj.db, username)
    except CaseworkError as error:
        _fail(error)
        return
    click.echo(f"unlocked user {user.username}")


@users.command("reset-password")
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the temporary password from standard input (default: print a random one).",
)
@click.pass_obj
def users_reset_password(obj: CliContext, username: str, password_stdin: bool) -> None:
    """Set a temporary password that must be changed at the next sign-in; every session of
    the user ends."""
    from casework.services.users import reset_password

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    try:
        temporary = reset_password(obj.db, username, password)
    except CaseworkError as error:
        _fail(error)
        return
    if password_stdin:
        click.echo(f"reset the password of {username}; it must be changed at the next sign-in")
    else:
        click.echo(temporary)


@users.command("reset-two-factor")
@click.argument("username")
@click.pass_obj
def users_reset_two_factor(obj: CliContext, username: str) -> None:
    """Turn off a user's two-step sign-in (lost phone and codes); who must use it enrols
    again at the next sign-in."""
    from casework.services.twofactor import reset

    try:
        user = reset(obj.db, username)
    except CaseworkError as error:
        _fail(error)
        return
    click.echo(f"two-step sign-in of {user.username} is off")


@main.group()
def tokens() -> None:
    """API tokens."""


@tokens.command("create")
@click.argument("username")
@click.option("--days", default=90, show_default=True, type=int, help="Days until it expires.")
@click.option("--name", default="", help="What the token is for (shown in the lists).")
@click.pass_obj
def tokens_create(obj: CliContext, username: str, days: int, name: str) -> None:
    """Print a new API token for `Authorization: Bearer` (shown this once)."""
    from casework.services.users import create_token

    try:
        click.echo(create_token(obj.db, username, days=days, name=name))
    except CaseworkError as error:
        _fail(error)


@tokens.command("list")
@click.option("--user", "username", default=None, help="Only this user's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def tokens_list(obj: CliContext, username: str | None, as_json: bool) -> None:
    """Tokens (never their value): id, user, state, created, expires."""
    from casework.services.users import list_tokens

    try:
        rows = list_tokens(obj.db, username)
    except CaseworkError as error:
        _fail(error)
        return
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=1))
        return
    if not rows:
        click.echo("no tokens")
        return
    click.echo(f"{'id':>6}  {'user':<20} {'state':<8} {'created':<17} {'expires':<21} name")
    for row in rows:
        click.echo(
            f"{row['id']:>6}  {row['username'][:20]:<20} {row['state']:<8} "
            f"{row['created_at']:%Y-%m-%d %H:%M} {row['expires_at']:%Y-%m-%d %H:%M} UTC "
            f"{row['name']}"
        )


@tokens.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@click.pass_obj
def tokens_revoke(obj: CliContext, token_id: int) -> None:
    """Revoke a token by its id (see `tokens list`): the API refuses it at once."""
    from casework.services.users import revoke_token

    try:
        revoke_token(obj.db, token_id)
    except CaseworkError as error:
        _fail(error)
        return
    click.echo(f"revoked token {token_id}")


# --- workflow --------------------------------------------------------------------------------


@main.group()
def workflow() -> None:
    """Workflow definitions."""


def _workflow(name: str) -> Any:
    from workflows.engine import WORKFLOWS

    if name not in WORKFLOWS:
        raise click.BadParameter(
            f"unknown workflow (known: {', '.join(WORKFLOWS)})", param_hint="NAME"
        )
    return WORKFLOWS[name]


@workflow.command("show")
@click.argument("name", default="case")
def workflow_show(name: str) -> None:
    """States, events and deadlines of a workflow."""
    from workflows.engine import describe

    click.echo(describe(_workflow(name)))


@workflow.command("diagram")
@click.argument("name", default="case")
def workflow_diagram(name: str) -> None:
    """A Mermaid state diagram of a workflow (the graph the administrators' page draws)."""
    from workflows.graph import mermaid, transition_graph

    click.echo(mermaid(transition_graph(_workflow(name))), nl=False)


# --- audit -----------------------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail."""


@audit_group.command("verify")
@click.option(
    "--anchor",
    "anchor_file",
    type=click.File("r"),
    default=None,
    help="An anchor printed earlier by 'casework audit anchor': fail unless the trail extends it.",
)
@click.option(
    "--seal-within",
    envvar="CASEWORK_AUDIT_SEAL_WITHIN",
    type=click.IntRange(0, 31 * 24 * 3600),
    default=300,
    show_default=True,
    help="Seconds within which every event must be sealed (0: do not check).",
)
@click.pass_obj
def audit_verify(obj: CliContext, anchor_file: Any, seal_within: int) -> None:
    """Walk every chain and the seals; exit 1 naming the first event changed, removed,
    inserted or replayed, a seal removed, events left unsealed, or a cut tail."""
    from datetime import timedelta

    from casework.services.audit_trail import verify_trail

    saved = None
    if anchor_file is not None:
        try:
            saved = json.load(anchor_file)
        except ValueError:
            raise click.BadParameter(
                "not an anchor printed by 'casework audit anchor' (JSON)", param_hint="--anchor"
            ) from None
    within = timedelta(seconds=seal_within) if seal_within else None
    check = verify_trail(obj.db, anchor=saved, seal_within=within)
    result, problem = check.result, check.problem
    if problem is not None:
        click.echo(f"TAMPERED: {problem}", err=True)
        click.echo(f"({result.count} events verified before the problem)", err=True)
        sys.exit(1)
    click.echo(f"OK: {result.count} events in {result.chains} chain(s); head {result.head_hash}")


@audit_group.command("anchor")
@click.pass_obj
def audit_anchor(obj: CliContext) -> None:
    """Seal now and print the global head (JSON) to keep outside the database, for
    'casework audit verify --anchor FILE'."""
    from casework import audit
    from casework.clock import utcnow

    with obj.db.uow() as uow:
        saved = audit.anchor(uow.session, uow.settings.audit_key, utcnow())
        uow.commit()
    click.echo(json.dumps(saved, sort_keys=True))


@audit_group.command("seal")
@click.pass_obj
def audit_seal(obj: CliContext) -> None:
    """Seal every chain's head into the global head."""
    from casework import audit
    from casework.clock import utcnow

    with obj.db.uow() as uow:
        row = audit.seal(uow.session, uow.settings.audit_key, utcnow())
        assert row is not None
        uow.commit()
        click.echo(f"seal {row.id}: {len(row.heads)} chain(s), hash {row.hash}")


# --- deadlines: sweep, worker, forecast ------------------------------------------------------


def _parse_now(value: str | None) -> Any:
    from casework.clock import parse_iso, utcnow

    if value is None:
        return utcnow()
    try:
        return parse_iso(value)
    except ValueError:
        raise click.BadParameter(
            "an ISO 8601 date-time, e.g. 2027-02-03T09:00:00+07:00", param_hint="--now"
        ) from None


def smtp_settings() -> Any:
    from casework.services.runtime import smtp_settings
    from config import Config

    return smtp_settings(Config)


@main.command()
@click.option("--now", default=None, help="Sweep as of this ISO 8601 time (default: now).")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_obj
def sweep(obj: CliContext, now: str | None, batch_size: int) -> None:
    """Fire every escalation rung that is due, once; print a JSON summary."""
    from casework.deadlines import sweep as run_sweep

    counts = run_sweep(obj.db, _parse_now(now), batch_size=batch_size)
    summary = {"reminded": 0, "overdue": 0, "escalated": 0, "notified": 0, **counts}
    click.echo(json.dumps(summary, sort_keys=True))


@main.command()
@click.option(
    "--interval",
    default=None,
    type=click.IntRange(1, 86_400),
    help="Seconds between ticks (default: CASEWORK_SWEEP_INTERVAL or 60).",
)
@click.pass_obj
def worker(obj: CliContext, interval: int | None) -> None:
    """Run the sweep, mail delivery and audit sealing forever (APScheduler)."""
    from casework.scheduler import run_blocking
    from config import Config

    run_blocking(
        obj.db,
        smtp_settings(),
        interval or Config.SWEEP_INTERVAL_SECONDS,
        echo=lambda text: click.echo(text, err=True),
    )


@main.group()
def mail() -> None:
    """Outgoing mail."""


@mail.command("deliver")
@click.pass_obj
def mail_deliver(obj: CliContext) -> None:
    """Send the pending mail once; print a JSON summary."""
    from casework.clock import utcnow
    from casework.notify import deliver

    click.echo(json.dumps(deliver(obj.db, smtp_settings(), utcnow()), sort_keys=True))


@main.group()
def deadlines() -> None:
    """Statutory clocks."""


@deadlines.command("upcoming")
@click.option("--days", default=7, show_default=True, type=click.IntRange(0, 366))
@click.option("--unit", "unit_code", default=None, help="A commune or province code.")
@click.option("--now", default=None, help="As of this ISO 8601 time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def deadlines_upcoming(
    obj: CliContext, days: int, unit_code: str | None, now: str | None, as_json: bool
) -> None:
    """What becomes overdue in the next N days, by unit, assignee and step."""
    from casework.services.forecast import upcoming

    try:
        groups = upcoming(obj.db, days=days, unit_code=unit_code, now=_parse_now(now))
    except CaseworkError as error:
        _fail(error)
        return
    if as_json:
        click.echo(json.dumps(groups, ensure_ascii=False, indent=1))
        return
    if not groups:
        click.echo(f"Nothing falls due in the next {days} day(s).")
        return
    click.echo(f"{'unit':<28} {'assignee':<16} {'step':<22} {'open':>5} {'overdue':>8}  first due")
    for group in groups:
        click.echo(
            f"{(group['unit_code'] + ' ' + group['unit_name'])[:28]:<28} "
            f"{(group['assignee'] or '-')[:16]:<16} {group['step'][:22]:<22} "
            f"{group['count']:>5} {group['overdue']:>8}  {group['first_due_at']}"
        )


# --- workflow settings per province ----------------------------------------------------------


def _date(value: str, option: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("a date YYYY-MM-DD", param_hint=option) from None


@main.group("calendar")
def calendar_group() -> None:
    """A province's extra days off and swapped working days."""


@calendar_group.command("add")
@click.option("--province", required=True, help="Province code (2 digits).")
@click.option("--date", "day", required=True, help="YYYY-MM-DD")
@click.option("--kind", required=True, type=click.Choice(["off", "work"]))
@click.option("--note", default="")
@click.pass_obj
def calendar_add(obj: CliContext, province: str, day: str, kind: str, note: str) -> None:
    """Add a day off, or a weekend day that is worked."""
    from casework.services.settings import add_calendar_day

    try:
        row = add_calendar_day(obj.db, province, _date(day, "--date"), kind, note)
    except CaseworkError as error:
        _fail(error)
        return
    click.echo(
        f"province {row['province']}: {row['date']} is a day {'off' if kind == 'off' else 'worked'}"
    )


@calendar_group.command("remove")
@click.option("--province", required=True)
@click.option("--date", "day", required=True, help="YYYY-MM-DD")
@click.pass_obj
def calendar_remove(obj: CliContext, province: str, day: str) -> None:
    """Remove a day added before."""
    from casework.services.settings import remove_calendar_day

    try:
        remove_calendar_day(obj.db, province, _date(day, "--date"))
    except CaseworkError as error:
        _fail(error)
        return
    click.echo("removed")


@calendar_group.command("list")
@click.option("--province", required=True)
@click.pass_obj
def calendar_list(obj: CliContext, province: str) -> None:
    """The days an administrator added for a province."""
    from casework.services.settings import calendar_days

    try:
        rows = calendar_days(obj.db, province)
    except CaseworkError as error:
        _fail(error)
        return
    for row in rows:
        click.echo(f"{row['date']}  {row['kind']:<4}  {row['note']}")


@workflow.command("override")
@click.option("--province", required=True, help="Province code (2 digits).")
@click.option("--rule", required=True, help="Deadline rule (see `casework workflow show`).")
@click.option("--duration", type=int, default=None)
@click.option(
    "--unit",
    "duration_unit",
    default=None,
    type=click.Choice(["hours", "calendar_days", "working_days"]),
)
@click.option("--high-risk-duration", type=int, default=None)
@click.option(
    "--assignee-role",
    default=None,
    type=click.Choice(["intake", "officer", "chair", "province", "agency"]),
)
@click.option(
    "--ladder",
    "ladder_json",
    default=None,
    help='JSON list of rungs, e.g. [{"name":"reminded","at_fraction":0.5,"notify":["assignee"]}]',
)
@click.option("--source", "legal_source", default="", help="The province's decision.")
@click.option("--reason", default="", help="Why the setting changes (required).")
@click.option(
    "--effective",
    default=None,
    help="The local date it takes effect, YYYY-MM-DD (default: today; not in the past).",
)
@click.pass_obj
def workflow_override(
    obj: CliContext,
    province: str,
    rule: str,
    duration: int | None,
    duration_unit: str | None,
    high_risk_duration: int | None,
    assignee_role: str | None,
    ladder_json: str | None,
    legal_source: str,
    reason: str,
    effective: str | None,
) -> None:
    """Add a version of a province's own deadline, assignee role or ladder for one rule,
    for clocks opened from local midnight of --effective on."""
    from casework.services.settings import set_override

    effective_on = _date(effective, "--effective") if effective else None
    ladder = None
    if ladder_json is not None:
        try:
            ladder = json.loads(ladder_json)
        except json.JSONDecodeError as error:
            raise click.BadParameter(f"not JSON: {error}", param_hint="--ladder") from None
    try:
        row = set_override(
            obj.db,
            province,
            rule,
            duration=duration,
            unit=duration_unit,
            high_risk_duration=high_risk_duration,
            assignee_role=assignee_role,
            ladder=ladder,
            legal_source=legal_source,
            reason=reason,
            effective_on=effective_on,
        )
    except CaseworkError as error:
        _fail(error)
        return
    click.echo(json.dumps(row, ensure_ascii=False))


@workflow.command("withdraw")
@click.option("--province", required=True, help="Province code (2 digits).")
@click.option("--rule", required=True, help="Deadline rule (see `casework workflow show`).")
@click.option("--reason", default="", help="Why the setting is withdrawn (required).")
@click.option("--effective", default=None, help="YYYY-MM-DD (default: today).")
@click.pass_obj
def workflow_withdraw(
    obj: CliContext, province: str, rule: str, reason: str, effective: str | None
) -> None:
    """Withdraw a province's setting: the national default for clocks opened from then on."""
    from casework.services.settings import withdraw_override

    effective_on = _date(effective, "--effective") if effective else None
    try:
        row = withdraw_override(obj.db, province, rule, reason=reason, effective_on=effective_on)
    except CaseworkError as error:
        _fail(error)
        return
    click.echo(json.dumps(row, ensure_ascii=False))


@workflow.command("history")
@click.option("--province", required=True, help="Province code (2 digits).")
@click.option("--rule", default=None, help="Only this rule.")
@click.pass_obj
def workflow_history(obj: CliContext, province: str, rule: str | None) -> None:
    """Every version of a province's settings: author, reason, effective date, values."""
    from casework.services.settings import workflow_settings

    try:
        found = workflow_settings(obj.db, None, province, rule=rule)
    except CaseworkError as error:
        _fail(error)
        return
    for entry in found["rules"]:
        for version in entry["history"]:
            values = (
                "withdrawn"
                if version["withdrawn"]
                else json.dumps(
                    {k: v for k, v in version["values"].items() if v not in (None, "")},
                    ensure_ascii=False,
                )
            )
            click.echo(
                f"{entry['name']:<20} v{version['version']}  from {version['effective_on']}  "
                f"by {version['author'] or '(command line)'}  {values}  — {version['reason']}"
            )


# --- demo ------------------------------------------------------------------------------------


@main.command()
@click.option(
    "--cases", "case_count", default=300, show_default=True, type=click.IntRange(1, 100_000)
)
@click.option("--province", default="48", show_default=True, help="Province code.")
@click.option("--password", default="demo-password-2026", show_default=True)
@click.option("--seed", default=56, show_default=True, type=int)
@click.pass_obj
def demo(obj: CliContext, case_count: int, province: str, password: str, seed: int) -> None:
    """Load units, one user of each role, and realistic cases in every state."""
    from casework.demo import load_demo

    try:
        summary = load_demo(
            obj.db,
            province,
            case_count,
            password,
            seed,
            echo=lambda text: click.echo(text, err=True),
        )
    except CaseworkError as error:
        _fail(error)
        return
    click.echo(json.dumps(summary["states"], ensure_ascii=False))
    click.echo(f"Logins (password: {password}):")
    for username, role in summary["users"]:
        click.echo(f"  {username:<24} {role}")
    if summary["two_factor"]:
        click.echo("Two-step sign-in (add the key to an authenticator app, or print the code:")
        click.echo("  .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('KEY').now())\"):")
        for username, key in summary["two_factor"].items():
            click.echo(f"  {username:<24} {key}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.pass_obj
def serve(obj: CliContext, host: str, port: int, workers: int) -> None:
    """Serve the web application with gunicorn."""
    import os

    os.environ["CASEWORK_DATABASE_URL"] = obj.url
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "web:create_app()",
        ],
    )


if __name__ == "__main__":
    main()
