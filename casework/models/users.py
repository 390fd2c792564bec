"""Users, their roles, API tokens and two-factor recovery codes."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.models.base import Base
from casework.models.units import AdministrativeUnit, Agency


class Role(enum.StrEnum):
    INTAKE = "intake"  # hotline 111 / provincial hotline staff
    OFFICER = "officer"  # commune child-protection officer
    CHAIR = "chair"  # commune chairperson / leader
    PROVINCE = "province"  # province child-protection office (Sở Y tế)
    AGENCY = "agency"  # partner agency user (police, health, education, justice)
    ADMIN = "admin"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200), default="")
    full_name: Mapped[str] = mapped_column(sa.String(200), default="")
    email: Mapped[str] = mapped_column(sa.String(200), default="")
    role: Mapped[str] = mapped_column(sa.String(16))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("administrative_units.id"))
    agency_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agencies.id"))
    locale: Mapped[str] = mapped_column(sa.String(8), default="vi")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    #: Set when mail to `email` was refused for good; shown to administrators.
    email_failed_at: Mapped[datetime | None]
    email_error: Mapped[str] = mapped_column(sa.String(300), default="")
    #: Failed sign-ins (password or second factor) since the last success; a lockout with
    #: backoff starts at `LOCKOUT_AFTER` of them (casework/services/users.py).
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    #: Set by an administrator's password reset: nothing but a password change until done.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: Base32 TOTP secret, set at enrolment; two factors are on once `totp_confirmed_at` is.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_confirmed_at: Mapped[datetime | None]
    #: The last TOTP time step accepted: a code is taken once.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: Bumped by every change made through the ORM: an administrator's form carries it and
    #: a save over a newer version is refused (casework/services/users.py, update_user).
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    unit: Mapped[AdministrativeUnit | None] = relationship(lazy="joined")
    agency: Mapped[Agency | None] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}

    @property
    def province_code(self) -> str | None:
        return self.unit.province_code if self.unit else None

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: What the token is for, as its creator named it.
    name: Mapped[str] = mapped_column(sa.String(80), default="", server_default="")
    created_at: Mapped[datetime]
    #: Refused from this moment on.
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: When the API last accepted it (kept to the minute: not a write per request).
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class RecoveryCode(Base):
    """A one-time code that stands in for the authenticator app. Stored as `salt$sha256`
    (the codes are random, 50 bits: a fast salted hash suffices); `used_at` set once used."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(120))
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
