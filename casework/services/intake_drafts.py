"""Drafts of reports being typed on the intake page: kept on the server as the user goes.

One draft per user, seen by its author alone (every read and write is keyed by the actor),
so that a closed tab, a lost connection or a session timeout never loses a report. Saving
the report deletes it. What a draft holds is the form as typed — it is checked only when
the report is saved — bounded in size.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from casework import scope
from casework.clock import utcnow
from casework.db import Database
from casework.errors import PermissionDenied
from casework.models import IntakeDraft, User

#: Bounds of what a draft keeps: pairs, a field's name, a value (a description).
MAX_PAIRS, MAX_NAME, MAX_VALUE = 200, 64, 10000


def _bounded(pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    kept: list[list[str]] = []
    for name, value in pairs:
        if len(kept) >= MAX_PAIRS:
            break
        if isinstance(name, str) and isinstance(value, str) and len(name) <= MAX_NAME:
            kept.append([name, value[:MAX_VALUE]])
    return kept


def save_draft(
    db: Database, actor: User, pairs: Iterable[tuple[str, str]], now: datetime | None = None
) -> datetime:
    """Keep what `actor` has typed (replacing the previous draft); returns when."""
    now = now or utcnow()
    if not scope.may_record_reports(actor):
        raise PermissionDenied(f"role {actor.role!r} may not record reports")
    fields = _bounded(pairs)
    with db.uow() as uow:
        draft = uow.session.scalars(
            sa.select(IntakeDraft).where(IntakeDraft.user_id == actor.id).with_for_update()
        ).first()
        if draft is None:
            uow.session.add(IntakeDraft(user_id=actor.id, fields=fields, updated_at=now))
        else:
            draft.fields, draft.updated_at = fields, now
        uow.commit()
    return now


def delete_draft(db: Database, actor: User) -> None:
    """The report was saved (or the user started anew): the draft goes."""
    with db.uow() as uow:
        uow.session.execute(sa.delete(IntakeDraft).where(IntakeDraft.user_id == actor.id))
        uow.commit()
