"""The forms people fill in, as data: each event's fields and the report's (Mẫu 01).

Pages draw their forms from these definitions and the API validates with the same
`clean()`: one definition per form (workflows/case.py for events, services/intake.py for
the report). Re-exported here so that web/ depends on services only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from casework.errors import NotFound, ValidationError
from workflows.engine import get_workflow
from workflows.spec import (
    EventSpec,
    FieldError,
    FieldSpec,
    FieldType,
    Kind,
    boolean,
    choice,
    clean_fields,
    fields_schema,
    integer,
    text,
)

__all__ = [
    "ASSIGN",
    "MATCH_DECISION",
    "TASK_ANSWER",
    "FieldError",
    "FieldSpec",
    "FieldType",
    "Kind",
    "clean",
    "event_spec",
    "fields_schema",
]


def event_spec(event: str, workflow: str = "case") -> EventSpec:
    """The definition of an event (its fields, who may fire it); NotFound for no such event."""
    events = get_workflow(workflow).events
    if event not in events:
        raise NotFound(f"no event {event[:64]!r}")
    return events[event]


#: The API's other forms (the report's are intake.REPORT_FIELDS, an event's its own).
ASSIGN = (
    FieldSpec("assignee", text(80, options="commune_officers")),
    FieldSpec("version", integer(1)),
)
TASK_ANSWER = (
    FieldSpec(
        "action",
        choice("accept", "decline", "progress", "complete", labels="task_action"),
        label="answer",
    ),
    FieldSpec("note", text(2000), required=False),
)
MATCH_DECISION = (FieldSpec("same_child", boolean()),)


def clean(fields: tuple[FieldSpec, ...], body: Mapping[str, Any]) -> dict[str, Any]:
    """`body` checked against `fields`; ValidationError naming the first bad field."""
    try:
        return clean_fields(fields, body)
    except FieldError as error:
        raise ValidationError({error.path: error.message}) from None
