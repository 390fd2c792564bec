"""Verifying the audit trail: the one check that `casework audit verify` and the
administrators' page both run. A verification from the page is itself recorded on the
chain it verified (`audit.verified`): the page shows the last one, when and by whom."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from casework import audit, scope
from casework.clock import utcnow
from casework.db import Database
from casework.errors import NotFound
from casework.models import AuditChain, User


@dataclass(frozen=True)
class TrailCheck:
    """The outcome of a verification: `problem` is None when the trail is sound."""

    result: audit.VerifyResult
    problem: str | None


def verify_trail(
    db: Database,
    anchor: Any = None,
    seal_within: timedelta | None = None,
    chains: set[str] | None = None,
    now: datetime | None = None,
) -> TrailCheck:
    """Walk the chains (all, or `chains`) and the seals; with `anchor` (a saved
    `audit.anchor()`), also check that the trail still extends it; with `seal_within`, that
    no event stayed unsealed longer than that."""
    with db.uow(readonly=True) as uow:
        key = uow.settings.audit_key
        result = audit.verify(uow.session, key, chains=chains)
        problem = result.problem if not result.ok else None
        if problem is None and anchor is not None:
            problem = audit.check_anchor(uow.session, key, anchor)
        if problem is None and seal_within is not None:
            problem = audit.verify_sealed(uow.session, now or utcnow(), seal_within, chains)
    return TrailCheck(result, problem)


def province_of_chain(chain: str) -> str | None:
    """The province a chain belongs to (None: the national chain)."""
    return None if chain == audit.NATIONAL_CHAIN else chain


def verify_chain(db: Database, actor: User, chain: str, now: datetime | None = None) -> TrailCheck:
    """An administrator verifies one chain they keep (NotFound for another's, or none);
    the result is recorded on that chain."""
    now = now or utcnow()
    if not scope.reads_access_log(actor, province_of_chain(chain)):
        raise NotFound(f"no audit chain {chain[:16]!r} among those you keep")
    with db.uow(readonly=True) as uow:
        if uow.session.get(AuditChain, chain) is None:
            raise NotFound(f"no audit chain {chain[:16]!r}")
    check = verify_trail(db, chains={chain}, now=now)
    with db.uow() as uow:
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="audit.verified",
            now=now,
            province_code=province_of_chain(chain),
            summary={
                "chain": chain,
                "ok": check.problem is None,
                "events": check.result.count,
                "problem": (check.problem or "")[:300],
            },
        )
        uow.commit()
    return check
