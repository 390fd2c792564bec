"""What the administrators' user pages read: the accounts an administrator manages (all of
them nationally, a province's for a province administrator — `scope.administered_users`),
one account with its API tokens, and the units an account may be placed at. Changes are
commands in casework/services/users.py and twofactor.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from casework import scope
from casework.clock import LOCAL_TZ, utcnow
from casework.db import Database
from casework.errors import NotFound
from casework.models import AdministrativeUnit, UnitLevel, User
from casework.names import name_key
from casework.scope import administered_province as administered_province
from casework.services.users import MAX_USERNAME_LENGTH, is_locked, list_tokens

#: Accounts per page of the list.
PER_PAGE = 50
#: Units offered by the typeahead at most.
UNITS_SHOWN = 12
STATUSES = ("active", "disabled", "locked", "must_change_password")


@dataclass(frozen=True)
class UserFilter:
    """The list's filters as typed (all optional): words of the username or full name, a
    role, a unit's code, a status (STATUSES), and the page (from 1)."""

    text: str = ""
    of_role: str = ""
    unit: str = ""
    status: str = ""
    page: int = 1


def _row(user: User, now: datetime) -> dict[str, Any]:
    return {
        "username": user.username,
        "full_name": user.full_name,
        "email": user.email,
        "role": user.role,
        "unit_code": user.unit.code if user.unit else None,
        "unit_name": user.unit.name if user.unit else None,
        "province_code": user.province_code,
        "agency": user.agency.kind if user.agency else None,
        "active": user.active,
        "locked": is_locked(user, now),
        "locked_until": user.locked_until if is_locked(user, now) else None,
        "failed_logins": user.failed_logins,
        "must_change_password": user.must_change_password,
        "two_factor": user.totp_confirmed_at is not None,
        "two_factor_required": scope.must_use_two_factors(user),
        "created_at": user.created_at,
        "version": user.version,
    }


def user_page(
    db: Database, actor: User, wanted: UserFilter, now: datetime | None = None
) -> dict[str, Any]:
    """One page of the accounts `actor` manages, by username, under the filters."""
    now = now or utcnow()
    conditions: list[Any] = [scope.administered_users(actor)]
    words = wanted.text.strip().lower()[:100].split()
    for word in words:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            sa.or_(
                User.username.like(pattern, escape="\\"),
                sa.func.lower(User.full_name).like(pattern, escape="\\"),
            )
        )
    if wanted.of_role:
        conditions.append(User.role == wanted.of_role)
    if wanted.unit:
        units = sa.select(AdministrativeUnit.id).where(AdministrativeUnit.code == wanted.unit)
        conditions.append(User.unit_id.in_(units))
    if wanted.status == "active":
        conditions.append(User.active.is_(True))
    elif wanted.status == "disabled":
        conditions.append(User.active.is_(False))
    elif wanted.status == "locked":
        conditions.append(User.locked_until > now)
    elif wanted.status == "must_change_password":
        conditions.append(User.must_change_password.is_(True))
    page = max(1, wanted.page)
    with db.uow(readonly=True) as uow:
        total = uow.session.scalar(sa.select(sa.func.count()).select_from(User).where(*conditions))
        users = uow.session.scalars(
            sa.select(User)
            .where(*conditions)
            .order_by(User.username)
            .offset((page - 1) * PER_PAGE)
            .limit(PER_PAGE)
        ).all()
        rows = [_row(user, now) for user in users]
    total = int(total or 0)
    return {
        "rows": rows,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
    }


def user_detail(db: Database, actor: User, username: str, now: datetime | None = None) -> dict:
    """One account the actor manages, with its API tokens; NotFound for any other."""
    now = now or utcnow()
    name = username.strip().lower()
    if len(name) > MAX_USERNAME_LENGTH:
        raise NotFound("no such user")
    with db.uow(readonly=True) as uow:
        user = uow.session.scalars(
            sa.select(User).where(User.username == name, scope.administered_users(actor))
        ).first()
        if user is None:
            raise NotFound(f"no user named {name!r}")
        row = _row(user, now)
    row["tokens"] = list_tokens(db, name, now=now, actor=actor)
    return row


def filter_units(db: Database, actor: User) -> list[dict[str, str]]:
    """The units that hold accounts the actor manages (the list's unit filter), by name."""
    with db.uow(readonly=True) as uow:
        found = uow.session.execute(
            sa.select(AdministrativeUnit.code, AdministrativeUnit.name)
            .where(
                AdministrativeUnit.id.in_(
                    sa.select(User.unit_id).where(scope.administered_users(actor))
                )
            )
            .order_by(AdministrativeUnit.name)
        ).all()
    return [{"code": code, "name": name} for code, name in found]


def find_units(db: Database, actor: User, text: str) -> list[dict[str, str]]:
    """Provinces and communes valid today in what the actor administers, whose name holds
    each word typed (with or without diacritics) or whose code starts with what was typed:
    where an account may be placed. Provinces first, then by name."""
    words = name_key(text[:100]).split()
    if not words:
        return []
    today = utcnow().astimezone(LOCAL_TZ).date()
    statement = sa.select(
        AdministrativeUnit.code, AdministrativeUnit.name, AdministrativeUnit.level
    ).where(
        AdministrativeUnit.level.in_((UnitLevel.PROVINCE, UnitLevel.COMMUNE)),
        AdministrativeUnit.valid_from <= today,
        sa.or_(AdministrativeUnit.valid_to.is_(None), AdministrativeUnit.valid_to >= today),
    )
    own = administered_province(actor)
    if own is not None:
        statement = statement.where(AdministrativeUnit.province_code == own)
    with db.uow(readonly=True) as uow:
        rows = uow.session.execute(statement).all()
    wanted = " ".join(words)
    found = []
    for code, name, level in rows:
        folded = name_key(name)
        if code.startswith(wanted) or all(word in folded for word in words):
            rank = 0 if level == UnitLevel.PROVINCE else 1
            found.append((rank, folded, {"code": code, "name": name, "level": level}))
    found.sort(key=lambda item: (item[0], item[1]))
    return [entry for _rank, _folded, entry in found[:UNITS_SHOWN]]


def unit_name(db: Database, code: str) -> str:
    """The name of the unit with this code (what the typeahead shows), or ''."""
    if not code or len(code) > 20:
        return ""
    with db.uow(readonly=True) as uow:
        name = uow.session.scalar(
            sa.select(AdministrativeUnit.name)
            .where(AdministrativeUnit.code == code)
            .order_by(AdministrativeUnit.valid_to.is_(None).desc())
            .limit(1)
        )
    return name or ""
