"""Administrative units, partner agencies, and the calendar each province keeps."""

from __future__ import annotations

import enum
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.models.base import Base


class UnitLevel(enum.StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"  # before 1/7/2025 only; historic cases keep it
    COMMUNE = "commune"


class AdministrativeUnit(Base):
    """A province, district or commune.

    Both hierarchies live in one tree: old province → district → commune units carry a
    ``valid_to`` date (30/6/2025), the 2025 province → commune units a ``valid_from``.
    Codes are the official ones (provinces 2 digits, districts 3, communes 5); the same
    code may be reused by the reform, so a code is unique only together with its validity.
    """

    __tablename__ = "administrative_units"
    __table_args__ = (sa.UniqueConstraint("code", "level", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(8), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    level: Mapped[str] = mapped_column(sa.String(16))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("administrative_units.id"))
    #: Code of the province the unit belongs to (itself for a province): scope and audit
    #: chains key on it without walking the tree.
    province_code: Mapped[str] = mapped_column(sa.String(8), index=True)
    valid_from: Mapped[date] = mapped_column(sa.Date, default=date(1900, 1, 1))
    valid_to: Mapped[date | None] = mapped_column(sa.Date)

    parent: Mapped[AdministrativeUnit | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<Unit {self.code} {self.name}>"


class AgencyKind(enum.StrEnum):
    POLICE = "police"
    HEALTH = "health"
    EDUCATION = "education"
    JUSTICE = "justice"
    SOCIAL_SERVICES = "social_services"
    OTHER = "other"


class Agency(Base):
    """A partner agency at a unit (commune police, district hospital, a school...)."""

    __tablename__ = "agencies"
    __table_args__ = (sa.UniqueConstraint("unit_id", "kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("administrative_units.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(200))

    unit: Mapped[AdministrativeUnit] = relationship()


class FocalPoint(Base):
    """A person to contact at a partner agency (several per agency): who they are, their
    position, how to reach them. Contact data only, not an account."""

    __tablename__ = "agency_focal_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(
        sa.ForeignKey("agencies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    position: Mapped[str] = mapped_column(sa.String(200), default="")
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    email: Mapped[str] = mapped_column(sa.String(200), default="")


class CalendarDayKind(enum.StrEnum):
    OFF = "off"  # an extra day off (e.g. a province's bridge day)
    WORK = "work"  # a weekend day swapped into a working day


class CalendarDay(Base):
    """A day an administrator adds to a province's working-day calendar."""

    __tablename__ = "calendar_days"
    __table_args__ = (sa.UniqueConstraint("province_code", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    province_code: Mapped[str] = mapped_column(sa.String(8))
    day: Mapped[date] = mapped_column(sa.Date)
    kind: Mapped[str] = mapped_column(sa.String(8))
    note: Mapped[str] = mapped_column(sa.String(200), default="")
