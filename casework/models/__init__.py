"""The typed ORM. Import models from here."""

from casework.models.audit import AuditChain, AuditEvent, AuditSeal
from casework.models.base import Base
from casework.models.casefiles import CaseAttachment, CaseNote
from casework.models.cases import (
    Case,
    CaseTransition,
    Child,
    Deadline,
    DeadlineStatus,
    FiredRung,
    MatchStatus,
    PlanTask,
    PlanTaskStatus,
    Report,
    ReportKind,
    ReportMatch,
    TaskUpdate,
)
from casework.models.intake import IntakeDraft, NuisanceContact, NuisanceKind
from casework.models.notifications import MailStatus, Notification
from casework.models.sessions import SessionEnd, UserSession
from casework.models.settings import RuleVersion
from casework.models.units import (
    AdministrativeUnit,
    Agency,
    AgencyKind,
    CalendarDay,
    CalendarDayKind,
    FocalPoint,
    UnitLevel,
)
from casework.models.users import ApiToken, RecoveryCode, Role, User

__all__ = [
    "AdministrativeUnit",
    "Agency",
    "AgencyKind",
    "ApiToken",
    "AuditChain",
    "AuditEvent",
    "AuditSeal",
    "Base",
    "CalendarDay",
    "CalendarDayKind",
    "Case",
    "CaseAttachment",
    "CaseNote",
    "CaseTransition",
    "Child",
    "Deadline",
    "RuleVersion",
    "DeadlineStatus",
    "FiredRung",
    "FocalPoint",
    "IntakeDraft",
    "MailStatus",
    "Notification",
    "NuisanceContact",
    "NuisanceKind",
    "PlanTask",
    "PlanTaskStatus",
    "TaskUpdate",
    "Report",
    "ReportKind",
    "ReportMatch",
    "MatchStatus",
    "RecoveryCode",
    "Role",
    "SessionEnd",
    "UnitLevel",
    "User",
    "UserSession",
]
