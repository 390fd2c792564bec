"""Declarative workflow definitions (transitions) and the engine that runs them.

Definitions and pure guard functions only: nothing here opens a database session.
"""

from workflows.engine import (
    EventNotAvailable,
    GuardRefused,
    InvalidEventData,
    UnknownEvent,
    available_events,
    fire,
    get_workflow,
)

__all__ = [
    "EventNotAvailable",
    "GuardRefused",
    "InvalidEventData",
    "UnknownEvent",
    "available_events",
    "fire",
    "get_workflow",
]
