"""The tamper-evident audit trail.

Every change to a case and every read of a child's identifying data appends an event in the
same transaction as the thing it records. Events are chained per province (each stores the
previous event's hash) so that writers in different provinces never wait on one lock; the
chain heads are sealed together from time to time into a chained, keyed global head.

Each event carries a MAC: HMAC-SHA256, under a key kept outside the database
(``CASEWORK_AUDIT_KEY``), of its content **and its place**: its chain, its sequence number
and the hash of the event before it. The application computes it once it holds the chain
head (the head is the last lock a transaction takes, see casestore.py), so the key never
reaches the database. The link is ``sha256(prev_hash : seq : mac)``. Whoever can write to
the database but lacks the key can neither forge nor alter an event, nor remove, re-number,
re-link or replay one: each of those changes what some MAC covers. What a key-less writer
can still do is cut the tail of a chain and roll its head back; the seals (keyed, chained,
written every minute by whatever process runs the schedule) and an anchor kept outside the
database (``casework audit anchor``) catch that.

Older events verify as they were written: before revision 0003 one HMAC over the event and
its predecessor (no `mac`); from 0003 until this format, a MAC over the content alone. Once
a chain holds an event of the current format, every later event must be of it too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from casework.models import AuditChain, AuditEvent, AuditSeal, User

GENESIS = "0" * 64
NATIONAL_CHAIN = "national"


def chain_for(province_code: str | None) -> str:
    return province_code or NATIONAL_CHAIN


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def json_safe(value: Any) -> Any:
    """What a JSON column gives back: hash the stored form, not the Python one (orjson: this
    runs for every event; anything it does not know becomes its str())."""
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


def _timestamp(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def _hmac(key: bytes, payload: Any) -> str:
    return hmac.new(key, _canonical(payload).encode(), hashlib.sha256).hexdigest()


#: The columns of an event its MACs cover (what a stored event is read back as).
_MAC_COLUMNS = (
    "chain", "seq", "prev_hash", "occurred_at", "actor_id", "actor", "action", "case_id",
    "summary",
)  # fmt: skip


def _columns(event: AuditEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _MAC_COLUMNS}


def _content(values: Mapping[str, Any]) -> list[Any]:
    """What happened, by whom, to which case: every format's MAC covers it, in this order."""
    return [
        _timestamp(values["occurred_at"]),
        values["actor_id"],
        values["actor"],
        values["action"],
        values["case_id"],
        values["summary"],
    ]


def legacy_event_hash(key: bytes, event: AuditEvent) -> str:
    """Revision 0001/0002 events: one HMAC over the event and its predecessor's hash."""
    values = _columns(event)
    return _hmac(key, [event.chain, event.seq, event.prev_hash, *_content(values)])


def content_mac(key: bytes, event: AuditEvent) -> str:
    """Revision 0003 events: a MAC over the content alone (not the event's place)."""
    return _hmac(key, [event.chain, *_content(_columns(event))])


def event_mac(key: bytes, values: Mapping[str, Any]) -> str:
    """The keyed fingerprint of an event: its content and its place (chain, seq, the hash
    of the event before it). `values` has the columns of `audit_events`."""
    place = [values["chain"], values["seq"], values["prev_hash"]]
    return _hmac(key, ["v2", *place, *_content(values)])


def stored_event_mac(key: bytes, event: AuditEvent) -> str:
    """The MAC a stored event calls for (current format)."""
    return event_mac(key, _columns(event))


def link_hash(prev_hash: str, seq: int, mac: str) -> str:
    """The chain link."""
    return hashlib.sha256(f"{prev_hash}:{seq}:{mac}".encode()).hexdigest()


@dataclass
class Entry:
    """One audit event, prepared during a change and written last, just before commit, so
    that the chain head is locked for as short a time as possible."""

    action: str
    actor: User | None
    province_code: str | None
    case_id: int | None = None
    summary: dict[str, Any] | None = None

    def values(self, now: datetime) -> dict[str, Any]:
        """The event's content; its place (`seq`, `prev_hash`), MAC and hash are given
        when it is appended (`link`)."""
        return {
            "chain": chain_for(self.province_code),
            "occurred_at": now,
            "actor_id": self.actor.id if self.actor else None,
            "actor": self.actor.username if self.actor else "system",
            "action": self.action,
            "case_id": self.case_id,
            "summary": json_safe(self.summary or {}),
        }

    def write(self, session: Session, key: bytes, now: datetime) -> None:
        # The session's pending changes first (what autoflush would do): the chain head is
        # the last lock a transaction takes.
        session.flush()
        append(session.connection(), key, [self.values(now)])


def link(
    key: bytes, entries: Sequence[Mapping[str, Any]], heads: Mapping[str, tuple[int, str]]
) -> tuple[list[dict[str, Any]], dict[str, tuple[int, str, str]]]:
    """Place `entries` (in order) after the locked chain heads `heads` ({chain: (seq, hash)}):
    the rows to insert, and each chain's new head (seq, prev_hash, hash)."""
    current = dict(heads)
    rows: list[dict[str, Any]] = []
    moved: dict[str, tuple[int, str, str]] = {}
    for entry in entries:
        chain = entry["chain"]
        seq, prev_hash = current[chain]
        row = {**entry, "seq": seq + 1, "prev_hash": prev_hash}
        row["mac"] = event_mac(key, row)
        row["hash"] = link_hash(prev_hash, row["seq"], row["mac"])
        rows.append(row)
        current[chain] = (row["seq"], row["hash"])
        moved[chain] = (row["seq"], prev_hash, row["hash"])
    return rows, moved


#: PostgreSQL: lock the heads of the given chains in chain order (every writer takes them in
#: that order, and last), creating a chain's head on its first event.
PG_LOCK_HEADS = (
    "INSERT INTO audit_chains AS c (chain, seq, head_hash, prev_hash, updated_at)"
    f" SELECT name, 0, '{GENESIS}', '{GENESIS}', %(now)s"
    " FROM unnest(%(chains)s::text[]) AS name ORDER BY name"
    " ON CONFLICT (chain) DO UPDATE SET updated_at = c.updated_at"
    " RETURNING c.chain, c.seq, c.head_hash"
)
#: PostgreSQL: one event and its chain's new head.
PG_INSERT = (
    "WITH head AS (UPDATE audit_chains SET seq = %(seq)s, prev_hash = %(prev_hash)s,"
    " head_hash = %(hash)s, updated_at = %(occurred_at)s WHERE chain = %(chain)s)"
    " INSERT INTO audit_events (chain, seq, occurred_at, actor_id, actor, action, case_id,"
    " summary, mac, prev_hash, hash) VALUES (%(chain)s, %(seq)s, %(occurred_at)s,"
    " %(actor_id)s, %(actor)s, %(action)s, %(case_id)s, %(summary)s, %(mac)s, %(prev_hash)s,"
    " %(hash)s)"
)


def pg_lock_heads(driver: Any, chains: Iterable[str], now: datetime) -> Any:
    """Send the head lock (its cursor's answer is read by `pg_heads`)."""
    return driver.execute(PG_LOCK_HEADS, {"chains": sorted(set(chains)), "now": now})


def pg_heads(cursor: Any) -> dict[str, tuple[int, str]]:
    return {chain: (int(seq), str(head)) for chain, seq, head in cursor.fetchall()}


def pg_insert(driver: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Send the events' inserts (in a pipeline where the caller has one: one round trip)."""
    from psycopg.types.json import Json

    for row in rows:
        driver.execute(PG_INSERT, {**row, "summary": Json(row["summary"])})


def append(conn: sa.Connection, key: bytes, entries: Sequence[Mapping[str, Any]]) -> None:
    """Append events (`Entry.values()`) to their chains, inside the caller's transaction: the
    chain heads are locked (in chain order) until commit, so call it last."""
    if not entries:
        return
    now = entries[-1]["occurred_at"]
    chains = [entry["chain"] for entry in entries]
    if conn.dialect.name == "postgresql":
        driver: Any = conn.connection.driver_connection
        heads = pg_heads(pg_lock_heads(driver, chains, now))
        rows, _ = link(key, entries, heads)
        with driver.pipeline():
            pg_insert(driver, rows)
        return
    heads = sqlite_lock_heads(conn, chains, now)
    rows, moved = link(key, entries, heads)
    sqlite_insert(conn, rows, moved)


def sqlite_lock_heads(
    conn: sa.Connection, chains: Iterable[str], now: datetime
) -> dict[str, tuple[int, str]]:
    """SQLite: the heads (the write lock is the database's; a missing head is created)."""
    heads: dict[str, tuple[int, str]] = {}
    for chain in sorted(set(chains)):
        row = conn.execute(
            sa.select(AuditChain.seq, AuditChain.head_hash).where(AuditChain.chain == chain)
        ).first()
        if row is None:
            conn.execute(
                sa.insert(AuditChain).values(
                    chain=chain, seq=0, head_hash=GENESIS, prev_hash=GENESIS, updated_at=now
                )
            )
            heads[chain] = (0, GENESIS)
        else:
            heads[chain] = (int(row[0]), str(row[1]))
    return heads


def sqlite_insert(
    conn: sa.Connection,
    rows: Sequence[Mapping[str, Any]],
    moved: Mapping[str, tuple[int, str, str]],
) -> None:
    conn.execute(sa.insert(AuditEvent), [dict(row) for row in rows])
    for chain, (seq, prev_hash, head_hash) in moved.items():
        conn.execute(
            sa.update(AuditChain)
            .where(AuditChain.chain == chain)
            .values(
                seq=seq,
                prev_hash=prev_hash,
                head_hash=head_hash,
                updated_at=rows[-1]["occurred_at"],
            )
        )


def record(
    session: Session,
    key: bytes,
    *,
    actor: User | None,
    action: str,
    now: datetime,
    province_code: str | None,
    case_id: int | None = None,
    summary: dict[str, Any] | None = None,
) -> None:
    """Append one event to the province's chain. Call it last in the transaction: the chain
    head stays locked until commit."""
    Entry(action, actor, province_code, case_id, summary).write(session, key, now)


#: The advisory lock sealers take on PostgreSQL (SQLite's writers are serialised already).
SEAL_LOCK = 0x5EA1_A0D17


def consistent(session: Session) -> None:
    """Read the trail as of one moment (PostgreSQL: REPEATABLE READ), so that events
    committed while `verify` walks the chains are not taken for insertions. Call it before
    the session's first statement."""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _seal_hash(key: bytes, sealed_at: datetime, heads: dict[str, Any], prev_hash: str) -> str:
    return _hmac(key, [_timestamp(sealed_at), heads, prev_hash])


def _heads(session: Session) -> dict[str, Any]:
    return {
        row.chain: {"seq": row.seq, "hash": row.head_hash}
        for row in session.scalars(sa.select(AuditChain).order_by(AuditChain.chain))
        if row.seq > 0
    }


def seal(
    session: Session, key: bytes, now: datetime, only_if_changed: bool = False
) -> AuditSeal | None:
    """Record every chain's head in one keyed seal chained to the one before (the global
    head). With `only_if_changed` (the scheduler's minutely seal), nothing is written while no
    chain moved. Sealers queue on one lock: two at once would both extend the same seal."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEAL_LOCK})
    last = session.scalars(
        sa.select(AuditSeal).order_by(AuditSeal.id.desc()).limit(1).with_for_update()
    ).first()
    heads = _heads(session)
    if only_if_changed and last is not None and last.heads == heads:
        return None
    if only_if_changed and last is None and not heads:
        return None
    prev_hash = last.hash if last else GENESIS
    row = AuditSeal(sealed_at=now, heads=heads, prev_hash=prev_hash)
    row.hash = _seal_hash(key, now, heads, prev_hash)
    session.add(row)
    session.flush()
    return row


def anchor(session: Session, key: bytes, now: datetime) -> dict[str, Any]:
    """The global head as of now, for safekeeping outside the database: a seal (a new one if a
    chain moved since the last), self-verifying under the key."""
    row = seal(session, key, now, only_if_changed=True)
    if row is None:
        row = session.scalars(sa.select(AuditSeal).order_by(AuditSeal.id.desc()).limit(1)).first()
    if row is None:  # nothing recorded yet: seal the empty state
        row = seal(session, key, now)
        assert row is not None
    return {
        "seal": row.id,
        "sealed_at": _timestamp(row.sealed_at),
        "heads": row.heads,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def check_anchor(session: Session, key: bytes, saved: Any) -> str | None:
    """None when the trail still extends `saved` (an `anchor()` kept outside), else why not."""
    try:
        seal_id = int(saved["seal"])
        sealed_at = datetime.fromisoformat(saved["sealed_at"])
        heads, prev_hash, digest = saved["heads"], str(saved["prev_hash"]), str(saved["hash"])
        genuine = hmac.compare_digest(_seal_hash(key, sealed_at, heads, prev_hash), digest)
    except (KeyError, TypeError, ValueError, AttributeError):
        return "the anchor is not an anchor printed by 'casework audit anchor'"
    if not genuine:
        return "the anchor was not made with this audit key, or was altered"
    stored = session.get(AuditSeal, seal_id)
    if stored is None or stored.hash != digest:
        return f"the anchored seal {seal_id} was removed or changed"
    current = _heads(session)
    for chain, head in heads.items():
        event_hash = session.scalar(
            sa.select(AuditEvent.hash).where(
                AuditEvent.chain == chain, AuditEvent.seq == head["seq"]
            )
        )
        if event_hash != head["hash"] or current.get(chain, {}).get("seq", 0) < head["seq"]:
            return (
                f"chain {chain} no longer extends the anchor (seq {head['seq']}): "
                "events were removed from its end"
            )
    return None


@dataclass
class VerifyResult:
    ok: bool
    count: int
    head_hash: str
    chains: int
    problem: str = ""
    event_id: int | None = None


def _stream(session: Session, chains: Collection[str] | None = None) -> Iterator[AuditEvent]:
    statement = (
        sa.select(AuditEvent)
        .order_by(AuditEvent.chain, AuditEvent.seq)
        .execution_options(yield_per=2000)
    )
    if chains is not None:
        statement = statement.where(AuditEvent.chain.in_(sorted(chains)))
    for event in session.scalars(statement):
        yield event
        session.expunge(event)  # constant memory: nothing piles up in the identity map


#: The formats an event may have, oldest first; a chain never goes back to an older one.
LEGACY, CONTENT_MAC, PLACED_MAC = 0, 1, 2


def _format(key: bytes, event: AuditEvent, newest_seen: int) -> int | None:
    """The format under which the event's MAC and link hold, or None (changed, inserted,
    replayed, re-linked or re-numbered)."""
    if event.mac is None:
        sound = newest_seen <= LEGACY and legacy_event_hash(key, event) == event.hash
        return LEGACY if sound else None
    if event.hash != link_hash(event.prev_hash, event.seq, event.mac):
        return None
    if hmac.compare_digest(stored_event_mac(key, event), event.mac):
        return PLACED_MAC
    if newest_seen <= CONTENT_MAC and hmac.compare_digest(content_mac(key, event), event.mac):
        return CONTENT_MAC
    return None


def _describe(event: AuditEvent) -> str:
    return f"event {event.id} (chain {event.chain}, seq {event.seq}, {event.action})"


def verify(
    session: Session,
    key: bytes,
    now: datetime | None = None,
    seal_within: timedelta | None = None,
    chains: Collection[str] | None = None,
) -> VerifyResult:
    """Walk every chain in order, in constant memory; name the first event that was changed,
    removed, inserted or replayed; check the seals. With `seal_within`, also fail when a chain
    moved more than that long before `now` and no seal covers it (a seal was removed, or
    nothing seals). With `chains`, only those chains (and the seals' record of them)."""
    consistent(session)
    heads = {
        row.chain: row
        for row in session.scalars(sa.select(AuditChain))
        if chains is None or row.chain in chains
    }
    count = 0
    chains_seen: set[str] = set()
    digest = hashlib.sha256()

    def fail(problem: str, event: AuditEvent | None = None) -> VerifyResult:
        return VerifyResult(
            False, count, "", len(chains_seen), problem, event.id if event else None
        )

    chain: str | None = None
    expected_seq, prev_hash, last, newest = 1, GENESIS, None, LEGACY
    suspect: AuditEvent | None = None  # fails its own MAC; the next event tells us why

    def close_chain() -> str | None:
        if chain is None:
            return None
        head = heads.get(chain)
        last_seq = expected_seq - 1
        if head is None:
            return f"chain {chain} has events but no recorded head: events were inserted"
        if head.seq > last_seq:
            return (
                f"chain {chain}: event(s) seq {last_seq + 1}..{head.seq} were removed "
                f"(the chain head records seq {head.seq})"
            )
        if head.seq < last_seq or head.head_hash != prev_hash:
            return (
                f"chain {chain}: events after seq {head.seq} were inserted (not in the chain head)"
            )
        return None

    def judge_last(event: AuditEvent) -> VerifyResult:
        """The chain's last event fails its MAC: the head tells changed from appended."""
        head = heads.get(event.chain)
        if head is None or event.seq > head.seq:
            return fail(f"{_describe(event)} was inserted after the chain head", event)
        if head.head_hash == event.hash:
            return fail(f"{_describe(event)} was changed: its MAC does not match", event)
        return fail(f"{_describe(event)} was changed or inserted: its MAC does not match", event)

    for event in _stream(session, chains):
        if event.chain != chain:
            if suspect is not None:
                return judge_last(suspect)
            problem = close_chain()
            if problem:
                return fail(problem, last)
            chain, expected_seq, prev_hash, last, newest = event.chain, 1, GENESIS, None, LEGACY
            chains_seen.add(chain)
        if suspect is not None:
            if event.prev_hash == suspect.hash:
                return fail(f"{_describe(suspect)} was changed: its MAC does not match", suspect)
            return fail(
                f"{_describe(suspect)} was inserted or replayed: it is not part of the chain",
                suspect,
            )
        if event.seq != expected_seq:
            if event.seq < expected_seq:
                return fail(f"{_describe(event)} repeats a sequence number", event)
            missing = (
                f"seq {expected_seq}"
                if event.seq == expected_seq + 1
                else f"seq {expected_seq}..{event.seq - 1}"
            )
            return fail(
                f"chain {event.chain}: event(s) {missing} were removed before {_describe(event)}",
                event,
            )
        found = _format(key, event, newest)
        if found is None:
            suspect = event
            continue
        if event.prev_hash != prev_hash:
            return fail(
                f"{_describe(event)} does not follow the previous event: "
                "an event before it was changed, removed or inserted",
                event,
            )
        newest = found
        count += 1
        digest.update(event.hash.encode())
        expected_seq, prev_hash, last = event.seq + 1, event.hash, event
    if suspect is not None:
        return judge_last(suspect)
    problem = close_chain()
    if problem:
        return fail(problem, last)
    for name, head in heads.items():
        if name not in chains_seen and head.seq > 0:
            return fail(f"chain {name}: all {head.seq} event(s) were removed")
    problem = _verify_seals(session, key, chains)
    if problem is None and seal_within is not None:
        problem = verify_sealed(session, now, seal_within, chains)
    if problem:
        return fail(problem)
    return VerifyResult(True, count, digest.hexdigest(), len(chains_seen))


def _verify_seals(
    session: Session, key: bytes, chains: Collection[str] | None = None
) -> str | None:
    """Every seal is genuine and follows the one before; the chains extend the last one.
    (Each event's MAC covers its place, so a chain that extends the last seal extends every
    earlier one: only a cut tail can undo a seal.)"""
    prev_hash, last = GENESIS, None
    for sealed in session.scalars(sa.select(AuditSeal).order_by(AuditSeal.id)):
        if (
            sealed.prev_hash != prev_hash
            or _seal_hash(key, sealed.sealed_at, sealed.heads, sealed.prev_hash) != sealed.hash
        ):
            return f"seal {sealed.id} was changed, removed or inserted"
        prev_hash, last = sealed.hash, sealed
    if last is None:
        return None
    for chain, head in last.heads.items():
        if head["seq"] == 0:  # seals before revision 0004 recorded empty chains too
            continue
        if chains is not None and chain not in chains:
            continue
        stored = session.scalar(
            sa.select(AuditEvent.hash).where(
                AuditEvent.chain == chain, AuditEvent.seq == head["seq"]
            )
        )
        if stored != head["hash"]:
            return (
                f"seal {last.id}: chain {chain} seq {head['seq']} no longer matches "
                "the sealed head (the chain was rewritten or cut)"
            )
    return None


def verify_sealed(
    session: Session,
    now: datetime | None,
    within: timedelta,
    chains: Collection[str] | None = None,
) -> str | None:
    """A chain that moved longer than `within` ago must be covered by the last seal."""
    from casework.clock import utcnow

    cutoff = (now or utcnow()) - within
    last = session.scalars(sa.select(AuditSeal).order_by(AuditSeal.id.desc()).limit(1)).first()
    sealed = last.heads if last is not None else {}
    for chain, head in _heads(session).items():
        if chains is not None and chain not in chains:
            continue
        covered = int(sealed.get(chain, {}).get("seq", 0))
        if head["seq"] <= covered:
            continue
        first = session.scalar(
            sa.select(AuditEvent.occurred_at).where(
                AuditEvent.chain == chain, AuditEvent.seq == covered + 1
            )
        )
        if first is not None and first < cutoff:
            since = "the last seal" if last is not None else "the start (there is no seal)"
            return (
                f"chain {chain}: events from seq {covered + 1} ({_timestamp(first)}) were not "
                f"sealed within {int(within.total_seconds())} s of {since}: a seal was removed, "
                "or nothing seals (run 'casework worker' or the server's scheduler)"
            )
    return None
