"""Notes on a case: written by those who work on it, never edited, each one audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from casework import audit, scope
from casework.clock import utcnow
from casework.db import Database
from casework.errors import NotFound
from casework.models import CaseNote, User
from casework.services.forms import clean
from casework.services.queries import load_case
from workflows.spec import FieldSpec, text

#: The note form (its one field; the page draws it, `clean()` checks it).
NOTE_FIELDS = (FieldSpec("note", text(4000)),)


def add_note(
    db: Database, actor: User, case_id: int, payload: Any, now: datetime | None = None
) -> int:
    """Add a note to a case in the actor's scope. NotFound out of scope (or for those who do
    not see the casework), ValidationError for an empty or too long note."""
    now = now or utcnow()
    data = clean(NOTE_FIELDS, payload)
    with db.uow() as uow:
        case = load_case(uow.session, actor, case_id)
        if not scope.sees_case_files(actor):
            raise NotFound(f"case {case_id} not found")
        note = CaseNote(case_id=case.id, author_id=actor.id, body=data["note"], created_at=now)
        uow.session.add(note)
        uow.session.flush()
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="case.note_added",
            now=now,
            province_code=case.province_code,
            case_id=case.id,
            summary={"note_id": note.id, "length": len(data["note"])},  # never the text
        )
        uow.commit()
        return note.id
