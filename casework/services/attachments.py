"""Attachments on a case: signed minutes, decisions and other papers.

A file is accepted by what it is, not by what it is called: its first bytes must be those of
a PDF, a JPEG or a PNG. It is kept outside the web root under a random name (the caller gives
the folder: the instance folder's `attachments/`), its description in `case_attachments`.
Every upload and every download is audited; a download reads the case through scope first.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from casework import audit, scope
from casework.clock import utcnow
from casework.db import Database
from casework.errors import NotFound, ValidationError
from casework.models import CaseAttachment, User
from casework.services.forms import clean
from casework.services.queries import load_case
from workflows.spec import FieldSpec, choice, text

#: The largest file accepted (the upload route alone allows a body this large).
MAX_BYTES = 10 * 1024 * 1024
KINDS = ("minutes", "decision", "other")
#: The attachment form's fields besides the file itself.
ATTACHMENT_FIELDS = (
    FieldSpec("kind", choice(*KINDS, labels="attachment_kind"), label="attachment_kind"),
    FieldSpec("title", text(200), label="attachment_title"),
)
#: What a file must begin with, and what it is then served as.
_MAGIC = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
)


def sniff(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a PDF, JPEG or PNG by its first bytes; None otherwise."""
    for magic, content_type, extension in _MAGIC:
        if head.startswith(magic):
            return content_type, extension
    return None


@dataclass(frozen=True)
class StoredFile:
    path: Path
    filename: str
    content_type: str
    size: int


def _safe_filename(name: str, extension: str) -> str:
    """The name shown and offered on download: no folders, no control characters, bounded,
    and ending as what the file is."""
    base = os.path.basename(name.replace("\\", "/")).strip()
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|:*?')[:150]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return (stem or "tep") + extension


def add_attachment(
    db: Database,
    actor: User,
    case_id: int,
    payload: Any,
    filename: str,
    content: bytes,
    folder: Path,
    now: datetime | None = None,
) -> int:
    """Keep a file on a case in the actor's scope. ValidationError naming `file` for an
    empty, too large or unknown kind of file, or naming a bad field."""
    now = now or utcnow()
    data = clean(ATTACHMENT_FIELDS, payload)
    if not content:
        raise ValidationError({"file": "is required (a PDF, JPEG or PNG file)"})
    if len(content) > MAX_BYTES:
        raise ValidationError({"file": f"is too large (at most {MAX_BYTES // (1024 * 1024)} MiB)"})
    kind = sniff(content[:16])
    if kind is None:
        raise ValidationError({"file": "must be a PDF, JPEG or PNG file"})
    content_type, extension = kind
    with db.uow() as uow:
        case = load_case(uow.session, actor, case_id)
        if not scope.sees_case_files(actor):
            raise NotFound(f"case {case_id} not found")
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stored_name = secrets.token_hex(16)
        path = folder / stored_name
        with open(path, "xb") as out:  # a new name, never an existing file
            out.write(content)
        try:
            row = CaseAttachment(
                case_id=case.id,
                kind=data["kind"],
                title=data["title"],
                filename=_safe_filename(filename, extension),
                stored_name=stored_name,
                content_type=content_type,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                uploaded_by_id=actor.id,
                created_at=now,
            )
            uow.session.add(row)
            uow.session.flush()
            audit.record(
                uow.session,
                uow.settings.audit_key,
                actor=actor,
                action="case.attachment_added",
                now=now,
                province_code=case.province_code,
                case_id=case.id,
                summary={
                    "attachment_id": row.id,
                    "kind": row.kind,
                    "size": row.size,
                    "sha256": row.sha256,
                },
            )
            uow.commit()
        except BaseException:
            path.unlink(missing_ok=True)  # nothing written stays behind
            raise
        return row.id


def open_attachment(
    db: Database, actor: User, attachment_id: int, folder: Path, now: datetime | None = None
) -> StoredFile:
    """A file to send, read through the case's scope (out of scope: NotFound); audited."""
    now = now or utcnow()
    with db.uow() as uow:
        row = uow.session.scalar(
            sa.select(CaseAttachment).where(CaseAttachment.id == attachment_id)
        )
        if row is None:
            raise NotFound(f"attachment {attachment_id} not found")
        case = load_case(uow.session, actor, row.case_id)  # out of scope: NotFound
        if not scope.sees_case_files(actor):
            raise NotFound(f"attachment {attachment_id} not found")
        path = folder / row.stored_name
        if not path.is_file():
            raise NotFound(f"attachment {attachment_id} is missing from the store")
        audit.record(
            uow.session,
            uow.settings.audit_key,
            actor=actor,
            action="case.attachment_read",
            now=now,
            province_code=case.province_code,
            case_id=case.id,
            summary={"attachment_id": row.id},
        )
        uow.commit()
        return StoredFile(path, row.filename, row.content_type, row.size)
