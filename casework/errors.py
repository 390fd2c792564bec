"""Errors that services raise: each is something a user can act on."""

from __future__ import annotations


class CaseworkError(Exception):
    """Base of every error a service raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        return {"error": self.code, "message": self.message}


class ValidationError(CaseworkError):
    """Bad input. `errors` maps each offending field (dotted path) to what is wrong."""

    code = "validation_error"

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        field, problem = next(iter(self.errors.items()))
        super().__init__(f"{field}: {problem}")

    def to_dict(self) -> dict[str, object]:
        return {"error": self.code, "message": self.message, "fields": self.errors}


class NotFound(CaseworkError):
    """The thing does not exist, or the actor may not know that it does (out of scope)."""

    code = "not_found"


class PermissionDenied(CaseworkError):
    """In scope, but the actor's role may not do this."""

    code = "forbidden"


class Conflict(CaseworkError):
    """Somebody else changed the case since the actor read it (stale version)."""

    code = "conflict"

    def __init__(self, message: str, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version

    def to_dict(self) -> dict[str, object]:
        data = super().to_dict()
        if self.current_version is not None:
            data["current_version"] = self.current_version
        return data


class EventNotAllowed(CaseworkError):
    """The workflow does not allow this event now: wrong state or a legal guard refuses."""

    code = "event_not_allowed"
