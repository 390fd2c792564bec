"""What the administrators' audit page reads: each chain's head, last seal and last
verification, and a case's access log — every audit event on it, who and when. Reading a
case's log is itself audited: it is a read of the record's trail."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from casework import audit, scope
from casework.clock import utcnow
from casework.db import Database
from casework.errors import NotFound
from casework.models import (
    AdministrativeUnit,
    AuditChain,
    AuditEvent,
    AuditSeal,
    Case,
    UnitLevel,
    User,
)
from casework.services.audit_trail import province_of_chain

#: How many events of one case the log shows (a case read daily for years stays below it).
TRAIL_LIMIT = 2000
_REFERENCE = re.compile(r"[0-9A-Za-z-]{1,32}")


def chains_status(db: Database, actor: User) -> list[dict[str, Any]]:
    """The chains `actor` keeps (every chain for a national administrator, its province's for
    a province administrator): head (seq, hash, time), the last seal's record of it, and the
    last verification made from the page."""
    with db.uow(readonly=True) as uow:
        session = uow.session
        last_seal = session.scalars(
            sa.select(AuditSeal).order_by(AuditSeal.id.desc()).limit(1)
        ).first()
        names = dict(
            session.execute(
                sa.select(AdministrativeUnit.code, AdministrativeUnit.name).where(
                    AdministrativeUnit.level == UnitLevel.PROVINCE,
                    AdministrativeUnit.valid_to.is_(None),
                )
            ).all()
        )
        rows = []
        for chain in session.scalars(sa.select(AuditChain).order_by(AuditChain.chain)):
            if not scope.reads_access_log(actor, province_of_chain(chain.chain)):
                continue
            verified = session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.chain == chain.chain, AuditEvent.action == "audit.verified")
                .order_by(AuditEvent.seq.desc())
                .limit(1)
            ).first()
            sealed_seq = int(last_seal.heads.get(chain.chain, {}).get("seq", 0)) if last_seal else 0
            rows.append(
                {
                    "chain": chain.chain,
                    "province": province_of_chain(chain.chain),
                    "province_name": names.get(province_of_chain(chain.chain) or ""),
                    "seq": chain.seq,
                    "hash": chain.head_hash[:12],
                    "updated_at": chain.updated_at.isoformat(),
                    "sealed_at": last_seal.sealed_at.isoformat() if last_seal else None,
                    "sealed_seq": sealed_seq,
                    "verified": None
                    if verified is None
                    else {
                        "at": verified.occurred_at.isoformat(),
                        "by": verified.actor,
                        "ok": bool(verified.summary.get("ok")),
                        "events": verified.summary.get("events", 0),
                        "problem": verified.summary.get("problem", ""),
                    },
                }
            )
        return rows


def _find_case(session: Any, text: str) -> Case | None:
    """A case by its reference, or by the number in its page's address (/cases/123)."""
    wanted = text.strip()
    if not _REFERENCE.fullmatch(wanted):
        return None
    if wanted.isdigit() and len(wanted) <= 12:
        found = session.get(Case, int(wanted))
        if found is not None:
            return found  # type: ignore[no-any-return]
    return session.scalars(sa.select(Case).where(Case.reference == wanted.upper())).first()  # type: ignore[no-any-return]


def case_access_log(
    db: Database, actor: User, text: str, now: datetime | None = None
) -> dict[str, Any]:
    """Every audit event on a case (who — name and role —, when, what), from its province's
    chain, for those `scope.reads_access_log` allows; any other case is not found. The
    lookup is recorded (`case.access_log_read`)."""
    now = now or utcnow()
    with db.uow() as uow:
        session = uow.session
        case = _find_case(session, text)
        if case is None or not scope.reads_access_log(actor, case.province_code):
            raise NotFound("no case with this reference among those whose trail you keep")
        rows = session.execute(
            sa.select(AuditEvent, User.full_name, User.role)
            .outerjoin(User, User.id == AuditEvent.actor_id)
            .where(
                AuditEvent.case_id == case.id,
                AuditEvent.chain == audit.chain_for(case.province_code),
            )
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
            .limit(TRAIL_LIMIT + 1)
        ).all()
        events = [
            {
                "at": event.occurred_at.isoformat(),
                "username": event.actor,
                "full_name": full_name or "",
                "role": role,
                "action": event.action,
                "summary": _shown_summary(event.summary),
            }
            for event, full_name, role in rows[:TRAIL_LIMIT]
        ]
        answer = {
            "id": case.id,
            "reference": case.reference,
            "state": case.state,
            "events": events,
            "truncated": len(rows) > TRAIL_LIMIT,
        }
        audit.record(
            session,
            uow.settings.audit_key,
            actor=actor,
            action="case.access_log_read",
            now=now,
            province_code=case.province_code,
            case_id=case.id,
            summary={"events": len(events)},
        )
        uow.commit()
    return answer


def _shown_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """What of an event's summary the log shows in words: the state reached, the purpose
    of a read, the rung and rule of a clock. Nothing a person typed."""
    shown: dict[str, Any] = {}
    after = summary.get("after")
    before = summary.get("before")
    if (
        isinstance(after, dict)
        and isinstance(before, dict)
        and after.get("state")
        and after.get("state") != before.get("state")
    ):
        shown["state"] = after["state"]
    for name in ("purpose", "view", "rule"):
        if isinstance(summary.get(name), str):
            shown[name] = summary[name]
    return shown
