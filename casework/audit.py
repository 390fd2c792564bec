"""The tamper-evident audit trail.

Every change to a case and every read of a child's identifying data appends an event in the
same transaction as the thing it records. Events are chained per province (each stores the
previous event's hash) so that writers in different provinces never wait on one lock; the
chain heads are sealed together from time to time into a chained global head.

Each event carries a MAC: HMAC-SHA256 of its content under a key kept outside the database
(``CASEWORK_AUDIT_KEY``), computed by the application before the write. The chain link is
``sha256(prev_hash : seq : mac)``, computed where the chain head is advanced — on PostgreSQL
inside the one statement that appends the event, so an append costs one round trip and the
key never reaches the database. Whoever can write to the database but lacks the key cannot
forge or alter an event; removing or reordering events breaks the links, and re-computing
the links after a removal is caught by the next seal (the keyed global head), as in
Certificate Transparency's signed tree heads. Events written before revision 0003 carry no
MAC: their hash is an HMAC over the event and its predecessor, and they verify as before.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
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


def legacy_event_hash(key: bytes, event: AuditEvent) -> str:
    """Revision 0001/0002 events: one HMAC over the event and its predecessor's hash."""
    payload = _canonical(
        [
            event.chain,
            event.seq,
            event.prev_hash,
            _timestamp(event.occurred_at),
            event.actor_id,
            event.actor,
            event.action,
            event.case_id,
            event.summary,
        ]
    )
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def event_mac(
    key: bytes,
    chain: str,
    occurred_at: datetime,
    actor_id: int | None,
    actor: str,
    action: str,
    case_id: int | None,
    summary: Any,
) -> str:
    """The keyed fingerprint of an event's content (everything but its place in the chain)."""
    payload = _canonical(
        [chain, _timestamp(occurred_at), actor_id, actor, action, case_id, summary]
    )
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def stored_event_mac(key: bytes, event: AuditEvent) -> str:
    """The MAC a stored event's content calls for."""
    return event_mac(
        key,
        event.chain,
        event.occurred_at,
        event.actor_id,
        event.actor,
        event.action,
        event.case_id,
        event.summary,
    )


def link_hash(prev_hash: str, seq: int, mac: str) -> str:
    """The chain link; PG_LINK computes the same inside the database."""
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

    def values(self, key: bytes, now: datetime) -> dict[str, Any]:
        """The columns of the event, MAC included; `seq`, `prev_hash` and `hash` are the
        chain's to give."""
        chain = chain_for(self.province_code)
        actor_id = self.actor.id if self.actor else None
        actor = self.actor.username if self.actor else "system"
        summary = json_safe(self.summary or {})
        return {
            "chain": chain,
            "occurred_at": now,
            "actor_id": actor_id,
            "actor": actor,
            "action": self.action,
            "case_id": self.case_id,
            "summary": summary,
            "mac": event_mac(key, chain, now, actor_id, actor, self.action, self.case_id, summary),
        }

    def write(self, session: Session, key: bytes, now: datetime) -> None:
        # The session's pending changes first (what autoflush would do): the chain head is
        # the last lock a transaction takes.
        session.flush()
        append(session.connection(), self.values(key, now))


#: PostgreSQL: advance the chain head (creating it on the chain's first event) and insert
#: the event, in one statement. Parameters a_* are `Entry.values()`. Other statements embed
#: the two CTEs (with a `guard` condition) to write a change and its audit event in one round
#: trip. (The FROM-less SELECT ends in WHERE so that ON CONFLICT cannot be read as a join.)
PG_LINK = "encode(sha256(convert_to({prev} || ':' || {seq} || ':' || %(a_mac)s, 'UTF8')), 'hex')"
PG_APPEND_CTES = (
    "audit_head AS ("
    " INSERT INTO audit_chains AS c (chain, seq, head_hash, prev_hash, updated_at)"
    f" SELECT %(a_chain)s, 1, {PG_LINK.format(prev=repr(GENESIS), seq='1')}, '{GENESIS}',"
    " %(a_occurred_at)s WHERE {guard}"
    " ON CONFLICT (chain) DO UPDATE SET seq = c.seq + 1, prev_hash = c.head_hash,"
    f" head_hash = {PG_LINK.format(prev='c.head_hash', seq='(c.seq + 1)')},"
    " updated_at = EXCLUDED.updated_at"
    " RETURNING seq, prev_hash, head_hash),"
    " audit_row AS ("
    "INSERT INTO audit_events (chain, seq, occurred_at, actor_id, actor, action, case_id,"
    " summary, mac, prev_hash, hash)"
    " SELECT %(a_chain)s, seq, %(a_occurred_at)s, %(a_actor_id)s, %(a_actor)s, %(a_action)s,"
    " %(a_case_id)s, %(a_summary)s, %(a_mac)s, prev_hash, head_hash FROM audit_head)"
)
PG_APPEND = "WITH " + PG_APPEND_CTES.replace("{guard}", "true") + " SELECT 1"


def pg_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """`Entry.values()` as PG_APPEND's parameters (psycopg)."""
    from psycopg.types.json import Json

    params = {f"a_{name}": value for name, value in values.items()}
    params["a_summary"] = Json(values["summary"])
    return params


def pg_append(driver: Any, values: Mapping[str, Any]) -> None:
    """`append` on a bare psycopg connection."""
    driver.execute(PG_APPEND, pg_params(values))


def append(conn: sa.Connection, values: Mapping[str, Any]) -> None:
    """Append one event to its chain, inside the caller's transaction (the chain head stays
    locked until commit: call it last)."""
    if conn.dialect.name == "postgresql":
        pg_append(conn.connection.driver_connection, values)
        return
    chain, now = values["chain"], values["occurred_at"]
    advance = (
        sa.update(AuditChain)
        .where(AuditChain.chain == chain)
        .values(seq=AuditChain.seq + 1, prev_hash=AuditChain.head_hash, updated_at=now)
        .returning(AuditChain.seq, AuditChain.prev_hash)
    )
    row = conn.execute(advance).first()
    seq, prev_hash = (int(row[0]), str(row[1])) if row is not None else (1, GENESIS)
    if row is None:  # the chain's first event
        conn.execute(
            sa.insert(AuditChain).values(
                chain=chain, seq=1, head_hash=GENESIS, prev_hash=GENESIS, updated_at=now
            )
        )
    digest = link_hash(prev_hash, seq, values["mac"])
    conn.execute(sa.update(AuditChain).where(AuditChain.chain == chain).values(head_hash=digest))
    conn.execute(sa.insert(AuditEvent).values(**values, seq=seq, prev_hash=prev_hash, hash=digest))


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


def _seal_hash(key: bytes, sealed_at: datetime, heads: dict[str, Any], prev_hash: str) -> str:
    payload = _canonical([_timestamp(sealed_at), heads, prev_hash])
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def seal(
    session: Session, key: bytes, now: datetime, only_if_changed: bool = False
) -> AuditSeal | None:
    """Record every chain's head in one chained seal (the global head). With
    `only_if_changed` (the worker's minutely seal), nothing is written while no chain moved."""
    heads = {
        row.chain: {"seq": row.seq, "hash": row.head_hash}
        for row in session.scalars(sa.select(AuditChain).order_by(AuditChain.chain))
    }
    last = session.scalars(
        sa.select(AuditSeal).order_by(AuditSeal.id.desc()).limit(1).with_for_update()
    ).first()
    if only_if_changed and last is not None and last.heads == heads:
        return None
    prev_hash = last.hash if last else GENESIS
    row = AuditSeal(sealed_at=now, heads=heads, prev_hash=prev_hash)
    row.hash = _seal_hash(key, now, heads, prev_hash)
    session.add(row)
    return row


@dataclass
class VerifyResult:
    ok: bool
    count: int
    head_hash: str
    chains: int
    problem: str = ""
    event_id: int | None = None


def _stream(session: Session) -> Iterator[AuditEvent]:
    statement = (
        sa.select(AuditEvent)
        .order_by(AuditEvent.chain, AuditEvent.seq)
        .execution_options(yield_per=2000)
    )
    for event in session.scalars(statement):
        yield event
        session.expunge(event)  # constant memory: nothing piles up in the identity map


def _sound(key: bytes, event: AuditEvent) -> bool:
    """The event's own content and its link are what the key and its predecessor say."""
    if event.mac is None:
        return legacy_event_hash(key, event) == event.hash
    mac = stored_event_mac(key, event)
    return hmac.compare_digest(mac, event.mac) and event.hash == link_hash(
        event.prev_hash, event.seq, event.mac
    )


def _describe(event: AuditEvent) -> str:
    return f"event {event.id} (chain {event.chain}, seq {event.seq}, {event.action})"


def verify(session: Session, key: bytes) -> VerifyResult:
    """Walk every chain in order, in constant memory; name the first event that was changed,
    removed or inserted."""
    heads = {row.chain: row for row in session.scalars(sa.select(AuditChain))}
    count = 0
    chains_seen: set[str] = set()
    digest = hashlib.sha256()

    def fail(problem: str, event: AuditEvent | None = None) -> VerifyResult:
        return VerifyResult(
            False, count, "", len(chains_seen), problem, event.id if event else None
        )

    chain: str | None = None
    expected_seq, prev_hash, last = 1, GENESIS, None
    suspect: AuditEvent | None = None  # fails its own hash; the next event tells us why

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
        """The chain's last event fails its hash: the head tells changed from appended."""
        head = heads.get(event.chain)
        if head is None or event.seq > head.seq:
            return fail(f"{_describe(event)} was inserted after the chain head", event)
        if head.head_hash == event.hash:
            return fail(f"{_describe(event)} was changed: its hash does not match", event)
        return fail(f"{_describe(event)} was changed or inserted: its hash does not match", event)

    for event in _stream(session):
        if event.chain != chain:
            if suspect is not None:
                return judge_last(suspect)
            problem = close_chain()
            if problem:
                return fail(problem, last)
            chain, expected_seq, prev_hash, last = event.chain, 1, GENESIS, None
            chains_seen.add(chain)
        if suspect is not None:
            if event.prev_hash == suspect.hash:
                return fail(f"{_describe(suspect)} was changed: its hash does not match", suspect)
            return fail(f"{_describe(suspect)} was inserted: it is not part of the chain", suspect)
        if event.seq > expected_seq:
            missing = (
                f"seq {expected_seq}"
                if event.seq == expected_seq + 1
                else f"seq {expected_seq}..{event.seq - 1}"
            )
            return fail(
                f"chain {event.chain}: event(s) {missing} were removed before {_describe(event)}",
                event,
            )
        if not _sound(key, event):
            suspect = event
            continue
        if event.prev_hash != prev_hash:
            return fail(
                f"{_describe(event)} does not follow the previous event: "
                "an event before it was changed, removed or inserted",
                event,
            )
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
    problem = _verify_seals(session, key)
    if problem:
        return fail(problem)
    return VerifyResult(True, count, digest.hexdigest(), len(chains_seen))


def _verify_seals(session: Session, key: bytes) -> str | None:
    prev_hash = GENESIS
    for sealed in session.scalars(sa.select(AuditSeal).order_by(AuditSeal.id)):
        if (
            sealed.prev_hash != prev_hash
            or _seal_hash(key, sealed.sealed_at, sealed.heads, sealed.prev_hash) != sealed.hash
        ):
            return f"seal {sealed.id} was changed, removed or inserted"
        for chain, head in sealed.heads.items():
            if head["seq"] == 0:
                continue
            stored = session.scalar(
                sa.select(AuditEvent.hash).where(
                    AuditEvent.chain == chain, AuditEvent.seq == head["seq"]
                )
            )
            if stored != head["hash"]:
                return (
                    f"seal {sealed.id}: chain {chain} seq {head['seq']} no longer matches "
                    "the sealed head (the chain was rewritten)"
                )
        prev_hash = sealed.hash
    return None
