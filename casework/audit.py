"""The tamper-evident audit trail.

Every change to a case and every read of a child's identifying data appends an event in the
same transaction as the thing it records. Events are chained per province (each stores the
previous event's hash) so that writers in different provinces never wait on one lock; the
chain heads are sealed together from time to time into a chained global head.

Hashes are HMAC-SHA256 under a key kept outside the database (``CASEWORK_AUDIT_KEY``): whoever
can write to the database but lacks the key cannot re-forge the chain after tampering.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    """What a JSON column gives back: hash the stored form, not the Python one."""
    return json.loads(_canonical(value))


def _timestamp(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def event_hash(key: bytes, event: AuditEvent) -> str:
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


def _advance_head(session: Session, chain: str, now: datetime) -> tuple[int, str]:
    """Take the next sequence number of this chain and the previous head's hash.

    One UPDATE … RETURNING both locks the chain's head row for the rest of the transaction
    and numbers the event; the head row is created on the chain's first event.
    """
    advance = (
        sa.update(AuditChain)
        .where(AuditChain.chain == chain)
        .values(seq=AuditChain.seq + 1, updated_at=now)
        .returning(AuditChain.seq, AuditChain.head_hash)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(advance).first()
    if row is None:
        values = {"chain": chain, "seq": 0, "head_hash": GENESIS, "updated_at": now}
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            session.execute(pg_insert(AuditChain).values(values).on_conflict_do_nothing())
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            session.execute(sqlite_insert(AuditChain).values(values).on_conflict_do_nothing())
        row = session.execute(advance).one()
    return int(row[0]), str(row[1])


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
) -> AuditEvent:
    """Append one event to the province's chain. Call it last in the transaction: the chain
    head stays locked until commit. Returns the event as written (not attached to the
    session)."""
    chain = chain_for(province_code)
    seq, prev_hash = _advance_head(session, chain, now)
    event = AuditEvent(
        chain=chain,
        seq=seq,
        occurred_at=now,
        actor_id=actor.id if actor else None,
        actor=actor.username if actor else "system",
        action=action,
        case_id=case_id,
        summary=json_safe(summary or {}),
        prev_hash=prev_hash,
    )
    event.hash = event_hash(key, event)
    session.execute(
        sa.insert(AuditEvent).values(
            chain=chain,
            seq=seq,
            occurred_at=now,
            actor_id=event.actor_id,
            actor=event.actor,
            action=action,
            case_id=case_id,
            summary=event.summary,
            prev_hash=prev_hash,
            hash=event.hash,
        )
    )
    session.execute(
        sa.update(AuditChain)
        .where(AuditChain.chain == chain)
        .values(head_hash=event.hash)
        .execution_options(synchronize_session=False)
    )
    return event


@dataclass
class Entry:
    """An audit event prepared during a change and written last, just before commit, so
    that the chain head is locked for as short a time as possible."""

    action: str
    actor: User | None
    province_code: str | None
    case_id: int | None = None
    summary: dict[str, Any] | None = None

    def write(self, session: Session, key: bytes, now: datetime) -> AuditEvent:
        return record(
            session,
            key,
            actor=self.actor,
            action=self.action,
            now=now,
            province_code=self.province_code,
            case_id=self.case_id,
            summary=self.summary,
        )


def _seal_hash(key: bytes, sealed_at: datetime, heads: dict[str, Any], prev_hash: str) -> str:
    payload = _canonical([_timestamp(sealed_at), heads, prev_hash])
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def seal(session: Session, key: bytes, now: datetime) -> AuditSeal:
    """Record every chain's head in one chained seal (the global head)."""
    heads = {
        row.chain: {"seq": row.seq, "hash": row.head_hash}
        for row in session.scalars(sa.select(AuditChain).order_by(AuditChain.chain))
    }
    last = session.scalars(
        sa.select(AuditSeal).order_by(AuditSeal.id.desc()).limit(1).with_for_update()
    ).first()
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
        if event_hash(key, event) != event.hash:
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
