"""Users, their roles, and API tokens."""

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

    unit: Mapped[AdministrativeUnit | None] = relationship(lazy="joined")
    agency: Mapped[Agency | None] = relationship(lazy="joined")

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
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
