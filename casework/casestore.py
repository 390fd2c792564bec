"""One case as plain rows, and one change to it written at once: the workflow's hot path.

An event reads the case and all its clocks (one query), decides everything in Python — the
workflow and its guards, the effects, the clocks met, cancelled and opened, the history row
and the audit event — and writes the result as one `CaseChange`:

- PostgreSQL: one statement of data-modifying CTEs (`PG_WRITE`) on a bare pooled psycopg
  connection in autocommit, so a change is one round trip and one implicit transaction.
  Every part hangs off the versioned UPDATE of the case: a stale version writes nothing at
  all — history, clocks, tasks, audit event — and the caller gets a conflict naming the
  version that won. New agency tasks are written by it too, their clocks naming them by
  position. The audit event follows in the same transaction (its MAC covers its place in
  the chain, so it is computed once the chain head is locked): the write and the head's
  lock travel together, the event and the commit together — two round trips.
- SQLite (in process, no round trips): the same change as a few plain statements inside the
  store's write transaction.

Several writes that stand or fall together (intake: the new case, its entry into
"received", its transfer) run in `transaction()`; on PostgreSQL `batch()` sends them
without waiting for each answer (pipeline mode) and `settle()` reads the answers.

Nothing here knows the workflow: `services/cases.py` decides, this module reads and writes.
The equivalence of the two write paths is what the test suite checks: every database test
runs on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from casework import audit
from casework.db import Database
from casework.errors import Conflict
from casework.models import (
    Case,
    CaseTransition,
    Child,
    Deadline,
    Notification,
    PlanTask,
    PlanTaskStatus,
    Report,
)
from casework.models.cases import OPEN_TASK_STATUSES


@dataclass(slots=True)
class Clock:
    """A row of `deadlines` (new ones have no id until written)."""

    rule: str
    step: str
    cycle: int
    anchor_at: datetime
    due_at: datetime
    duration: int
    unit: str
    legal_source: str
    status: str
    late: bool
    ladder: list[Any]
    next_rung: int
    next_fire_at: datetime | None
    task_id: int | None = None
    met_at: datetime | None = None
    id: int | None = None
    #: For a new task's clock: the index of the task in `CaseChange.new_tasks`.
    task_index: int | None = None
    #: The name of the rung that fires next (a loaded clock carries this, not its ladder).
    next_rung_name: str | None = None


@dataclass(slots=True)
class TaskRow:
    """A row of `plan_tasks`, as the answer to an event shows it."""

    id: int
    agency_kind: str
    action: str
    due_date: date
    status: str


@dataclass(slots=True)
class CaseRow:
    """A row of `cases`, as an event sees and changes it."""

    id: int
    reference: str
    workflow: str
    child_id: int
    unit_id: int
    province_code: str
    state: str
    risk_level: str | None
    assignee_id: int | None
    created_by_id: int | None
    received_at: datetime
    clock_started_at: datetime
    cycle: int
    last_seq: int
    state_entered_at: datetime
    facts: dict[str, Any]
    closed_at: datetime | None
    version: int
    updated_at: datetime | None = None
    clocks: list[Clock] = field(default_factory=list)
    tasks: list[TaskRow] = field(default_factory=list)


#: The columns an event may change (all written back; unchanged values keep HOT updates).
MUTABLE = (
    "state",
    "risk_level",
    "facts",
    "unit_id",
    "province_code",
    "assignee_id",
    "cycle",
    "clock_started_at",
    "last_seq",
    "state_entered_at",
    "updated_at",
    "closed_at",
)


@dataclass
class CaseChange:
    """Everything one event writes."""

    case: CaseRow
    expected_version: int
    history: dict[str, Any]
    #: Clocks that stop (met or cancelled: status, met_at and late are set on the Clock).
    closed: list[Clock] = field(default_factory=list)
    opened: list[Clock] = field(default_factory=list)
    #: Plan approval: tasks to create (column values), and the unanswered tasks of an
    #: earlier plan that they supersede (their clocks are among `closed`).
    new_tasks: list[dict[str, Any]] = field(default_factory=list)
    superseded_tasks: list[int] = field(default_factory=list)
    #: A move to another commune: the open tasks cancelled (their clocks are among
    #: `closed`), and the notices to their agencies — each written only if its task was
    #: still open (an answer meanwhile stands), as a row of `notifications` plus `task_id`.
    cancelled_tasks: list[int] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    #: The audit event's content (`audit.Entry.values()`): placed in its chain at commit.
    audit: dict[str, Any] = field(default_factory=dict)


# --- reading -------------------------------------------------------------------------------

#: The columns read, in the order of CaseRow's, Clock's and TaskRow's leading fields.
_CASE_FIELDS = (
    "id", "reference", "workflow", "child_id", "unit_id", "province_code", "state",
    "risk_level", "assignee_id", "created_by_id", "received_at", "clock_started_at", "cycle",
    "last_seq", "state_entered_at", "facts", "closed_at", "version",
)  # fmt: skip
_CLOCK_FIELDS = (
    "rule", "step", "cycle", "anchor_at", "due_at", "duration", "unit", "legal_source",
    "status", "late", "ladder", "next_rung", "next_fire_at", "task_id", "met_at", "id",
)  # fmt: skip
_TASK_FIELDS = ("id", "agency_kind", "action", "due_date", "status")
#: PostgreSQL leaves the ladders in the database: only the next rung's name comes back.
_PG_CLOCK_COLUMNS = (
    ", ".join("'[]'::json" if name == "ladder" else f"d.{name}" for name in _CLOCK_FIELDS)
    + ", CASE WHEN d.next_fire_at IS NOT NULL THEN d.ladder -> d.next_rung ->> 'name' END"
)
PG_LOAD = (
    f"SELECT {', '.join(_CASE_FIELDS)}, (SELECT json_agg(json_build_array({_PG_CLOCK_COLUMNS})"
    " ORDER BY d.id) FROM deadlines d WHERE d.case_id = cases.id),"
    f" (SELECT json_agg(json_build_array({', '.join(f't.{n}' for n in _TASK_FIELDS)})"
    " ORDER BY t.id) FROM plan_tasks t WHERE t.case_id = cases.id) FROM cases WHERE id = %s"
)


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC)  # type: ignore[no-any-return]


def _clock_from_json(item: list[Any]) -> Clock:
    return Clock(
        item[0],
        item[1],
        item[2],
        _utc(item[3]),  # type: ignore[arg-type]
        _utc(item[4]),  # type: ignore[arg-type]
        item[5],
        item[6],
        item[7],
        item[8],
        item[9],
        item[10],
        item[11],
        _utc(item[12]),
        item[13],
        _utc(item[14]),
        item[15],
        next_rung_name=item[16],
    )


def _rung_name(ladder: list[Any], next_rung: int, next_fire_at: Any) -> str | None:
    return str(ladder[next_rung]["name"]) if next_fire_at is not None else None


def _case_from_row(row: Any, clocks: list[Clock], tasks: list[TaskRow]) -> CaseRow:
    values = list(row[:18])
    for index in (10, 11, 14, 16):  # received_at, clock_started_at, state_entered_at, closed_at
        values[index] = _utc(values[index])
    return CaseRow(*values, clocks=clocks, tasks=tasks)  # type: ignore[misc]


class CaseStore:
    """One connection for one event: read the case, write the change. Use `open_store`."""

    def __init__(self, db: Database, conn: sa.Connection | None = None, raw: Any = None) -> None:
        self.db = db
        self.settings = db.settings
        self.cache = db.cache
        #: SQLite: a SQLAlchemy connection in a write transaction. PostgreSQL: a bare pooled
        #: psycopg connection (autocommit), nothing between us and the driver.
        self._conn = conn
        self._raw = raw
        self.postgres = raw is not None
        self._session: Session | None = None
        self._batched = False
        self._pending: list[tuple[CaseChange, Any]] = []
        self._in_transaction = False
        #: The audit events of the transaction under way (`Entry.values()`), in order.
        self._audit: list[dict[str, Any]] = []
        #: A write that is a transaction of its own locks its chain's head itself.
        self._write_locks_head = False
        self._heads: dict[str, tuple[int, str]] = {}

    @property
    def conn(self) -> sa.Connection:
        """SQLite's connection (PostgreSQL paths use `driver()`)."""
        assert self._conn is not None, "the PostgreSQL store talks to the driver"
        return self._conn

    @property
    def session(self) -> Session:
        """An ORM session for the lookups some effects make: on SQLite on the store's own
        connection (its write lock), on PostgreSQL on another pooled one (committed data)."""
        if self._session is None:
            bind = self.db.engine if self.postgres else self.conn
            self._session = Session(bind=bind, expire_on_commit=False)
        return self._session

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Several writes that stand or fall together (an event, intake, the demo); their
        audit events are appended at the end, just before commit (the chain heads are the
        last locks a transaction takes). PostgreSQL: inside `batch()` the whole transaction
        costs two round trips. SQLite: the store's own transaction already is one."""
        if self._in_transaction:
            yield
            return
        self._in_transaction = True
        try:
            if self.postgres:
                with self.driver().transaction():
                    yield
                    self._flush_audit()
            else:
                yield
                self._flush_audit()
        finally:
            self._in_transaction = False
            self._audit = []
            self._heads = {}

    def append_audit(self, entry: audit.Entry, now: datetime) -> None:
        """An audit event of this transaction (written when it ends)."""
        with self.transaction():
            self._audit.append(entry.values(now))

    def _flush_audit(self) -> None:
        """Place the transaction's audit events after their chains' heads and write them.
        PostgreSQL: the head lock travels with the batched writes; their answers are read
        (a conflict stops here) before the events, which travel with the commit."""
        entries, self._audit = self._audit, []
        if not entries:
            self.settle()
            return
        key, now = self.settings.audit_key, entries[-1]["occurred_at"]
        chains = [entry["chain"] for entry in entries]
        if self.postgres:
            if self._write_locks_head:  # the write locked (and answered) the head
                self.settle()
                heads = dict(self._heads)
                missing = sorted(set(chains) - set(heads))
                if missing:  # a chain's first event
                    heads.update(audit.pg_heads(audit.pg_lock_heads(self.driver(), missing, now)))
            else:
                locked = audit.pg_lock_heads(self.driver(), chains, now)
                self.settle()
                heads = audit.pg_heads(locked)
            rows, _ = audit.link(key, entries, heads)
            audit.pg_insert(self.driver(), rows)
        else:
            rows, moved = audit.link(key, entries, audit.sqlite_lock_heads(self.conn, chains, now))
            audit.sqlite_insert(self.conn, rows, moved)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def driver(self) -> Any:
        return self._raw.driver_connection

    def cursor(self) -> Any:
        """A cursor kept with the pooled connection, for statements whose answer is read at
        once (a fresh cursor per statement costs about as much as sending one)."""
        cursor = self._raw.info.get("casework_cursor")
        if cursor is None or cursor.closed:
            cursor = self._raw.info["casework_cursor"] = self.driver().cursor()
        return cursor

    def load(self, case_id: int, lock: bool = False) -> CaseRow | None:
        """The case, its clocks and tasks. `lock`: inside a transaction, hold the case row
        until it ends (PostgreSQL; SQLite's store holds the write lock already)."""
        if self.postgres:
            sql = PG_LOAD + " FOR NO KEY UPDATE OF cases" if lock else PG_LOAD
            row = self.cursor().execute(sql, (case_id,)).fetchone()
            if row is None:
                return None
            return _case_from_row(
                row,
                [_clock_from_json(item) for item in row[18] or ()],
                [TaskRow(t[0], t[1], t[2], date.fromisoformat(t[3]), t[4]) for t in row[19] or ()],
            )
        columns = [getattr(Case, name) for name in _CASE_FIELDS]
        row = self.conn.execute(sa.select(*columns).where(Case.id == case_id)).first()
        if row is None:
            return None
        clock_columns = [getattr(Deadline, name) for name in _CLOCK_FIELDS]
        clocks = [
            Clock(*values, next_rung_name=_rung_name(values[10], values[11], values[12]))  # type: ignore[misc]
            for values in self.conn.execute(
                sa.select(*clock_columns).where(Deadline.case_id == case_id).order_by(Deadline.id)
            )
        ]
        tasks = [
            TaskRow(*values)
            for values in self.conn.execute(
                sa.select(*(getattr(PlanTask, name) for name in _TASK_FIELDS))
                .where(PlanTask.case_id == case_id)
                .order_by(PlanTask.id)
            )
        ]
        return _case_from_row(row, clocks, tasks)

    def write(self, change: CaseChange) -> None:
        """Write `change` (ids of new clocks and tasks are filled in); Conflict if the case
        moved on since it was read. Outside `transaction()` the write is a transaction of its
        own (on PostgreSQL two round trips: the write and the chain head's lock, then the
        audit event and the commit)."""
        if not self._in_transaction:
            self._write_locks_head = self.postgres
            try:
                with self.batch(), self.transaction():
                    self.write(change)
            finally:
                self._write_locks_head = False
            return
        if self.postgres:
            lock = self._write_locks_head
            if self._batched:  # each statement of a batch keeps its own cursor until settle()
                self._pending.append((change, _pg_write(self.driver(), change, lock)))
            else:
                self._written(change, _pg_write(self.cursor(), change, lock))
        else:
            self._insert_tasks(change)  # inside the store's transaction (open_store)
            _sqlite_write(self.conn, change)
        self._audit.append(change.audit)
        change.case.version = change.expected_version + 1

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several statements sent without waiting for each answer (PostgreSQL's pipeline
        mode): enter it before `transaction()`, and `settle()` before the transaction ends.
        Writes inside it are checked at `settle()`. SQLite: nothing to batch."""
        if not self.postgres:
            yield
            return
        with self.driver().pipeline():
            self._batched = True
            try:
                yield
            finally:
                self._batched = False

    def settle(self) -> None:
        """Read the answers of the batched writes; Conflict if one of them found its case
        moved on (the transaction then rolls back)."""
        pending, self._pending = self._pending, []
        for change, cursor in pending:
            self._written(change, cursor)

    def _written(self, change: CaseChange, cursor: Any) -> None:
        try:
            head = _pg_written(change, cursor)
        except Conflict as conflict:
            if conflict.current_version in (None, change.expected_version):
                # The statement's snapshot predates the winner's commit: read it anew.
                current = (
                    self.driver()
                    .execute("SELECT version FROM cases WHERE id = %s", (change.case.id,))
                    .fetchone()
                )
                raise _conflict(change.case.id, current[0] if current else None) from None
            raise
        if head is not None:
            self._heads[change.audit["chain"]] = head

    def reserve_ids(self) -> Any:
        """PostgreSQL: the ids a new case and its report and child will have, taken from their
        sequences in the same round trip as what follows (`create_case` reads them)."""
        if not self.postgres:
            return None
        return self.driver().execute(PG_RESERVE)

    def _insert_tasks(self, change: CaseChange) -> None:
        conn = self.conn
        if change.superseded_tasks:
            conn.execute(
                sa.update(PlanTask)
                .where(
                    PlanTask.id.in_(change.superseded_tasks),
                    PlanTask.status == PlanTaskStatus.PROPOSED,  # an answer meanwhile stands
                )
                .values(status=PlanTaskStatus.SUPERSEDED)
            )
        cancelled: set[int] = set()
        if change.cancelled_tasks:
            cancelled = set(
                conn.scalars(
                    sa.update(PlanTask)
                    .where(
                        PlanTask.case_id == change.case.id,
                        PlanTask.id.in_(change.cancelled_tasks),
                        PlanTask.status.in_(OPEN_TASK_STATUSES),  # an answer meanwhile stands
                    )
                    .values(status=PlanTaskStatus.CANCELLED)
                    .returning(PlanTask.id)
                )
            )
        # The event's notices: those of a cancelled task only if it really was cancelled.
        notices = [
            {key: value for key, value in notice.items() if key != "task_id"}
            for notice in change.notices
            if notice["task_id"] is None or notice["task_id"] in cancelled
        ]
        if notices:
            conn.execute(
                sa.insert(Notification), [{**n, "case_id": change.case.id} for n in notices]
            )
        ids = [
            conn.execute(sa.insert(PlanTask).values(**task).returning(PlanTask.id)).scalar_one()
            for task in change.new_tasks
        ]
        _tasks_written(change, ids)


def _tasks_written(change: CaseChange, ids: list[int]) -> None:
    """The case's task list after `change` (for the answer to the event)."""
    case = change.case
    for row in case.tasks:
        if row.id in change.superseded_tasks:
            row.status = PlanTaskStatus.SUPERSEDED
        elif row.id in change.cancelled_tasks:
            row.status = PlanTaskStatus.CANCELLED
    for values, task_id in zip(change.new_tasks, ids, strict=True):
        values["id"] = task_id
        case.tasks.append(
            TaskRow(
                task_id, values["agency_kind"], values["action"], values["due_date"], "proposed"
            )
        )
    for clock in change.opened:
        if clock.task_index is not None:
            clock.task_id = ids[clock.task_index]


@contextmanager
def open_store(db: Database) -> Iterator[CaseStore]:
    """A store on one pooled connection: autocommit on PostgreSQL (each write is a single
    statement), one write transaction on SQLite (BEGIN IMMEDIATE), committed at the end
    unless an error escapes."""
    if db.is_sqlite:
        with db.engine.connect() as conn, conn.begin():
            store = CaseStore(db, conn=conn)
            try:
                yield store
            finally:
                store.close()
        return
    raw = db.store_engine.raw_connection()
    store = CaseStore(db, raw=raw)
    try:
        yield store
    finally:
        store.close()
        raw.close()  # back to the pool


# --- writing: PostgreSQL --------------------------------------------------------------------


def _dumps(value: Any) -> str:
    """JSON for the database (orjson: several times faster than json on the hot path, and
    it writes datetimes as RFC 3339 itself)."""
    return orjson.dumps(value).decode()


#: One statement for one event. Scalars travel as parameters, lists as JSON documents.
PG_WRITE = (
    "WITH upd_case AS (UPDATE cases SET "
    + ", ".join(f"{name} = %({name})s" + ("::json" if name == "facts" else "") for name in MUTABLE)
    + ", version = version + 1 WHERE id = %(id)s AND version = %(version)s RETURNING id),"
    " hist AS (INSERT INTO case_transitions (case_id, seq, event, from_state, to_state,"
    " actor_id, occurred_at, reason, data) SELECT id, %(h_seq)s, %(h_event)s, %(h_from)s,"
    " %(h_to)s, %(h_actor)s, %(h_at)s, %(h_reason)s, %(h_data)s::json FROM upd_case),"
    # Locks are taken in the order the rest of casework takes them — case row, task rows,
    # clock rows, chain head — so that an event never deadlocks with an agency's answer or
    # the sweep: each step below waits for the one before (data-modifying CTEs otherwise
    # run in no set order). First the unanswered tasks of an earlier plan, superseded:
    " sup_tasks AS (UPDATE plan_tasks t SET status = CASE WHEN t.id = ANY(%(superseded)s)"
    " THEN 'superseded' ELSE 'cancelled' END FROM upd_case WHERE t.case_id = upd_case.id"
    " AND (t.status = 'proposed' AND t.id = ANY(%(superseded)s)"
    " OR t.status IN ('proposed', 'accepted') AND t.id = ANY(%(cancelled_tasks)s))"
    " RETURNING t.id, t.status),"
    # The event's notices (no task) and those to the agencies of the tasks actually
    # cancelled (a task answered meanwhile is not).
    " notices AS (INSERT INTO notifications (user_id, case_id, kind, subject, body, created_at,"
    " mail_status, mail_attempts, next_attempt_at, last_error) SELECT n.user_id, upd_case.id,"
    " n.kind, n.subject, n.body, n.created_at, n.mail_status, 0, n.next_attempt_at, ''"
    " FROM upd_case, json_to_recordset(%(notices)s::json) AS n(task_id integer,"
    " user_id integer, kind text, subject text, body text, created_at timestamptz,"
    " mail_status text, next_attempt_at timestamptz)"
    " LEFT JOIN sup_tasks ON sup_tasks.id = n.task_id"
    " WHERE n.task_id IS NULL OR sup_tasks.status = 'cancelled'),"
    # Then the clocks that stop. A case has at most one open clock per rule and task: that is
    # how a clock to stop is found (it may have been opened by a write still in the same
    # batch), and one stopped meanwhile (an agency's answer) is left as it is.
    " closed AS (UPDATE deadlines d SET status = m.status, met_at = m.met_at, late = m.late,"
    " next_fire_at = NULL FROM upd_case, json_to_recordset(%(closed)s::json)"
    " AS m(rule text, task_id integer, status text, met_at timestamptz, late boolean)"
    " WHERE d.case_id = upd_case.id AND d.status = 'open' AND d.rule = m.rule"
    " AND d.task_id IS NOT DISTINCT FROM m.task_id"
    " AND (SELECT count(*) FROM sup_tasks) >= 0 RETURNING d.id),"
    # Plan approval: the new plan's tasks; their clocks name them by their place in the list
    # (ids follow insertion order).
    " new_tasks AS (INSERT INTO plan_tasks (case_id, agency_kind, agency_id, action, due_date,"
    " status, created_at, note) SELECT upd_case.id, t.agency_kind, t.agency_id, t.action,"
    " t.due_date, 'proposed', %(updated_at)s, '' FROM upd_case,"
    " json_to_recordset(%(tasks)s::json) AS t(agency_kind text, agency_id integer, action text,"
    " due_date date, ord integer) ORDER BY t.ord RETURNING id),"
    " task_ids AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS idx FROM new_tasks),"
    " opened AS (INSERT INTO deadlines (case_id, task_id, rule, step, cycle, anchor_at, due_at,"
    " duration, unit, legal_source, status, late, created_at, ladder, next_rung, next_fire_at)"
    " SELECT upd_case.id, coalesce(n.task_id, task_ids.id), n.rule, n.step, n.cycle,"
    " n.anchor_at, n.due_at, n.duration, n.unit, n.legal_source, 'open', false,"
    " %(updated_at)s, n.ladder, 0, n.next_fire_at FROM upd_case,"
    " json_to_recordset(%(opened)s::json)"
    " AS n(task_id integer, task_index integer, rule text, step text, cycle integer,"
    " anchor_at timestamptz, due_at timestamptz, duration integer, unit text,"
    " legal_source text, ladder json, next_fire_at timestamptz, ord bigint)"
    " LEFT JOIN task_ids ON task_ids.idx = n.task_index ORDER BY n.ord RETURNING id)"
    " SELECT (SELECT count(*) FROM upd_case), (SELECT array_agg(id ORDER BY id) FROM opened),"
    " (SELECT array_agg(id ORDER BY id) FROM new_tasks),"
    " (SELECT version FROM cases WHERE id = %(id)s)"  # on a conflict: the version that won
)

_FINAL = " SELECT (SELECT count(*) FROM upd_case),"
#: PG_WRITE for a change that is a transaction of its own: it also locks the head of the
#: audit event's chain — last, once the case, tasks, clocks and notices are written — and
#: answers it, so that the event can be placed without a statement of its own. (No row:
#: the chain's first event; the head is then made by `audit.pg_lock_heads`.)
PG_WRITE_HEAD = (
    PG_WRITE.replace(
        _FINAL,
        ", audit_head AS (SELECT c.seq, c.head_hash FROM audit_chains c"
        " WHERE c.chain = %(a_chain)s AND EXISTS (SELECT 1 FROM upd_case)"
        " AND (SELECT count(*) FROM closed) + (SELECT count(*) FROM opened) >= 0"
        " FOR NO KEY UPDATE)" + _FINAL,
    )
    + ", (SELECT seq FROM audit_head), (SELECT head_hash FROM audit_head)"
)


def _new_clock_columns(clock: Clock) -> dict[str, Any]:
    """The columns of a new clock that come from the Clock (both write paths)."""
    return {
        "task_id": clock.task_id,
        "rule": clock.rule,
        "step": clock.step,
        "cycle": clock.cycle,
        "anchor_at": clock.anchor_at,
        "due_at": clock.due_at,
        "duration": clock.duration,
        "unit": clock.unit,
        "legal_source": clock.legal_source,
        "ladder": clock.ladder,
        "next_fire_at": clock.next_fire_at,
    }


def _pg_write(target: Any, change: CaseChange, lock_head: bool = False) -> Any:
    """Send the change's statement (with `lock_head`, PG_WRITE_HEAD); `_pg_written` reads
    its answer."""
    case = change.case
    history = change.history
    params: dict[str, Any] = {name: getattr(case, name) for name in MUTABLE}
    params.update(
        facts=_dumps(case.facts),
        id=case.id,
        version=change.expected_version,
        h_seq=history["seq"],
        h_event=history["event"],
        h_from=history["from_state"],
        h_to=history["to_state"],
        h_actor=history["actor_id"],
        h_at=history["occurred_at"],
        h_reason=history["reason"],
        h_data=_dumps(history["data"]),
        closed=_dumps(
            [
                {
                    "rule": c.rule,
                    "task_id": c.task_id,
                    "status": c.status,
                    "met_at": c.met_at,
                    "late": c.late,
                }
                for c in change.closed
            ]
        ),
        opened=_dumps(
            [
                {**_new_clock_columns(c), "task_index": c.task_index, "ord": index}
                for index, c in enumerate(change.opened)
            ]
        ),
        superseded=change.superseded_tasks,
        cancelled_tasks=change.cancelled_tasks,
        notices=_dumps(change.notices),
        tasks=_dumps(
            [
                {
                    "agency_kind": t["agency_kind"],
                    "agency_id": t["agency_id"],
                    "action": t["action"],
                    "due_date": t["due_date"],
                    "ord": index,
                }
                for index, t in enumerate(change.new_tasks)
            ]
        ),
    )
    if lock_head:
        params["a_chain"] = change.audit["chain"]
        return target.execute(PG_WRITE_HEAD, params)
    return target.execute(PG_WRITE, params)


def _pg_written(change: CaseChange, cursor: Any) -> tuple[int, str] | None:
    """Read a write's answer: Conflict if the case moved on; the chain head it locked, if
    it was asked to and the chain has one."""
    row = cursor.fetchone()
    updated, ids, task_ids, current = row[:4]
    if not updated:
        raise _conflict(change.case.id, current)
    for clock, clock_id in zip(change.opened, ids or (), strict=True):
        clock.id = clock_id
    _tasks_written(change, task_ids or [])
    if len(row) > 4 and row[4] is not None:
        return int(row[4]), str(row[5])
    return None


def _conflict(case_id: int, current_version: int | None) -> Conflict:
    return Conflict(
        f"case {case_id} was changed by someone else (now version {current_version}): "
        "reload it and try again",
        current_version=current_version,
    )


# --- writing: SQLite ------------------------------------------------------------------------


def _sqlite_write(conn: sa.Connection, change: CaseChange) -> None:
    case = change.case
    updated = conn.execute(
        sa.update(Case)
        .where(Case.id == case.id, Case.version == change.expected_version)
        .values(**{name: getattr(case, name) for name in MUTABLE}, version=Case.version + 1)
    ).rowcount
    if not updated:
        raise _conflict(case.id, conn.scalar(sa.select(Case.version).where(Case.id == case.id)))
    conn.execute(sa.insert(CaseTransition).values(case_id=case.id, **change.history))
    for clock in change.closed:  # found as in PG_WRITE
        conn.execute(
            sa.update(Deadline)
            .where(
                Deadline.case_id == case.id,
                Deadline.status == "open",
                Deadline.rule == clock.rule,
                Deadline.task_id.is_(None)
                if clock.task_id is None
                else Deadline.task_id == clock.task_id,
            )
            .values(status=clock.status, met_at=clock.met_at, late=clock.late, next_fire_at=None)
        )
    for clock in change.opened:
        clock.id = conn.execute(
            sa.insert(Deadline)
            .values(
                **_new_clock_columns(clock),
                case_id=case.id,
                status="open",
                late=False,
                created_at=case.updated_at,
                next_rung=0,
            )
            .returning(Deadline.id)
        ).scalar_one()


# --- a new case ----------------------------------------------------------------------------

#: Columns of a new case row, in CaseRow's names (reference and id come from the insert).
NEW_CASE_COLUMNS = (
    "workflow",
    "unit_id",
    "province_code",
    "state",
    "risk_level",
    "assignee_id",
    "created_by_id",
    "received_at",
    "clock_started_at",
    "cycle",
    "last_seq",
    "state_entered_at",
    "facts",
    "closed_at",
    "version",
    "updated_at",
)
_CHILD_COLUMNS = (
    "full_name",
    "name_key",
    "sex",
    "birth_date",
    "age_years",
    "age_as_of",
    "residence_unit_id",
    "address",
    "national_id",
    "identifiers",
    "created_at",
)
_REPORT_COLUMNS = (
    "kind",
    "channel",
    "received_at",
    "reporter",
    "reporter_phone",
    "incident_unit_id",
    "abuse_types",
    "online",
    "environment",
    "description",
    "created_by_id",
    "created_at",
    "linked_to_existing",
)
_JSON = {"identifiers", "facts", "reporter", "abuse_types", "reasons"}


def _placeholders(prefix: str, names: tuple[str, ...]) -> str:
    return ", ".join(f"%({prefix}{name})s" for name in names)


PG_RESERVE = (
    "SELECT nextval(pg_get_serial_sequence('cases', 'id')),"
    " nextval(pg_get_serial_sequence('reports', 'id')),"
    " nextval(pg_get_serial_sequence('children', 'id'))"
)
#: PostgreSQL: child, case and report, with the ids reserved for them, in one statement.
PG_CREATE = (
    f"WITH ch AS (INSERT INTO children (id, {', '.join(_CHILD_COLUMNS)})"
    f" VALUES (%(child_id)s, {_placeholders('c_', _CHILD_COLUMNS)})),"
    f" cs AS (INSERT INTO cases (id, reference, child_id, created_at, {', '.join(NEW_CASE_COLUMNS)})"
    f" VALUES (%(id)s, %(reference)s, %(child_id)s, %(updated_at)s,"
    f" {_placeholders('', NEW_CASE_COLUMNS)}))"
    f" INSERT INTO reports (id, child_id, case_id, {', '.join(_REPORT_COLUMNS)})"
    f" VALUES (%(report_id)s, %(child_id)s, %(id)s, {_placeholders('r_', _REPORT_COLUMNS)})"
)


def _pg_value(name: str, value: Any) -> Any:
    if name in _JSON:
        from psycopg.types.json import Json

        return Json(value)
    return value


def create_case(
    store: CaseStore,
    child: dict[str, Any],
    case: CaseRow,
    report: dict[str, Any],
    reserved: Any = None,
) -> int:
    """Insert the child, the case (filling in `case.id`, `child_id` and `reference`) and the
    report that opened it; returns the report's id. On PostgreSQL the ids come from
    `reserve_ids()` and the statement is only sent (batched with what follows)."""
    prefix = f"{case.province_code}-{case.received_at.year}-"
    if store.postgres:
        case.id, report_id, case.child_id = reserved.fetchone()
        case.reference = f"{prefix}{case.id:06d}"
        params = {f"c_{name}": _pg_value(name, child[name]) for name in _CHILD_COLUMNS}
        params.update({name: _pg_value(name, getattr(case, name)) for name in NEW_CASE_COLUMNS})
        params.update({f"r_{name}": _pg_value(name, report[name]) for name in _REPORT_COLUMNS})
        params.update(id=case.id, reference=case.reference, child_id=case.child_id)
        params["report_id"] = report_id
        store.driver().execute(PG_CREATE, params)
        return int(report_id)
    conn = store.conn
    case.child_id = conn.execute(sa.insert(Child).values(child).returning(Child.id)).scalar_one()
    values = {name: getattr(case, name) for name in NEW_CASE_COLUMNS}
    values.update(child_id=case.child_id, created_at=case.updated_at, reference=f"tmp-{prefix}")
    case.id = conn.execute(sa.insert(Case).values(values).returning(Case.id)).scalar_one()
    case.reference = f"{prefix}{case.id:06d}"
    conn.execute(sa.update(Case).where(Case.id == case.id).values(reference=case.reference))
    return insert_report(store, {**report, "child_id": case.child_id, "case_id": case.id})


def _pg_send_insert(store: CaseStore, table: str, values: dict[str, Any], suffix: str = "") -> Any:
    """Send one INSERT of `values` on the store's bare connection (JSON columns adapted)."""
    names = tuple(values)
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({_placeholders('', names)}){suffix}"
    params = {name: _pg_value(name, value) for name, value in values.items()}
    return store.driver().execute(sql, params)


def _pg_insert(store: CaseStore, table: str, values: dict[str, Any]) -> int:
    return int(_pg_send_insert(store, table, values, " RETURNING id").fetchone()[0])


def insert_rows(store: CaseStore, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows whose ids nobody needs (on PostgreSQL sent without waiting: batched
    with what follows inside `batch()`)."""
    if not rows:
        return
    if not store.postgres:
        store.conn.execute(sa.insert(table), rows)
        return
    # The model's scalar defaults, as SQLAlchemy would fill them in.
    defaults = {
        column.name: column.default.arg  # type: ignore[attr-defined]
        for column in table.columns
        if column.default is not None and column.default.is_scalar
    }
    for values in rows:
        _pg_send_insert(store, table.name, {**defaults, **values})


def insert_report(store: CaseStore, values: dict[str, Any]) -> int:
    if store.postgres:
        return _pg_insert(store, "reports", values)
    return int(
        store.conn.execute(sa.insert(Report).values(values).returning(Report.id)).scalar_one()
    )


def insert_child(store: CaseStore, values: dict[str, Any]) -> int:
    if store.postgres:
        return _pg_insert(store, "children", values)
    return int(store.conn.execute(sa.insert(Child).values(values).returning(Child.id)).scalar_one())


def task_row(
    case_id: int, agency_kind: str, agency_id: int | None, action: str, due: date, now: datetime
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "agency_kind": agency_kind,
        "agency_id": agency_id,
        "action": action,
        "due_date": due,
        "created_at": now,
    }
