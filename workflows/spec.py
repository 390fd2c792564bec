"""The vocabulary workflow definitions are written in.

Pure data and pure functions: no database, no Flask. A definition reads like the tables of
domain.md — states, events with the roles that may fire them and the data they need,
transitions with their guards, and the deadlines next to their step.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any


class DurationUnit(enum.StrEnum):
    HOURS = "hours"  # wall clock: child safety does not wait for office hours
    CALENDAR_DAYS = "calendar_days"
    WORKING_DAYS = "working_days"  # due at office close of the N-th working day


class Anchor(enum.StrEnum):
    RECEIPT = "receipt"  # receipt of the report that started the current cycle
    STEP_ENTRY = "step_entry"  # the moment the case entered the step
    #: A date given in the data of the event that opens the clock (`anchor_field`): due at
    #: office close of that day (e.g. the end of a temporary separation).
    EVENT_DATE = "event_date"


@dataclass(frozen=True)
class Rung:
    """One rung of an escalation ladder: fires at a share of the time, or after the due time."""

    name: str
    #: Fraction of the time from anchor to due (0.75 = at 75 %), or None for offset rungs.
    at_fraction: float | None = None
    #: Offset after due_at, in `offset_unit` (used when at_fraction is None).
    offset: int = 0
    offset_unit: DurationUnit | None = None
    notify: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.at_fraction is None) == (self.offset_unit is None):
            raise ValueError(f"rung {self.name}: give either at_fraction or offset_unit")
        if self.at_fraction is not None and not 0 < self.at_fraction <= 10:
            raise ValueError(f"rung {self.name}: at_fraction must be in (0, 10]")
        unknown = set(self.notify) - set(RECIPIENTS)
        if unknown:
            raise ValueError(f"rung {self.name}: unknown recipients {sorted(unknown)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "at_fraction": self.at_fraction,
            "offset": self.offset,
            "offset_unit": str(self.offset_unit) if self.offset_unit else None,
            "notify": list(self.notify),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rung:
        unit = data.get("offset_unit")
        return cls(
            name=str(data["name"]),
            at_fraction=data.get("at_fraction"),
            offset=int(data.get("offset") or 0),
            offset_unit=DurationUnit(unit) if unit else None,
            notify=tuple(data.get("notify") or ()),
        )


#: Who a rung can notify: the responsible person, the commune leaders, the province office,
#: and for agency tasks the agency's focal points and its supervisors (same kind, province).
RECIPIENTS = ("assignee", "chair", "province", "agency", "agency_supervisor")


@dataclass(frozen=True)
class DeadlineRule:
    """A statutory clock declared next to its step."""

    name: str
    step: str
    duration: int
    unit: DurationUnit
    anchor: Anchor
    legal_source: str
    #: Entering any of these states starts the clock (once per cycle for receipt clocks,
    #: once per entry for step-entry clocks).
    opens_on: tuple[str, ...]
    #: Entering any of these states meets the deadline (the step is done).
    met_on: tuple[str, ...]
    #: Shorter duration when the case's risk is high or serious (NĐ 56 Art. 26(1)).
    high_risk_duration: int | None = None
    #: The role that is responsible for meeting it (and is reminded).
    assignee_role: str = "officer"
    ladder: tuple[Rung, ...] = ()
    #: States besides `step` and `opens_on` in which an open clock keeps running; entering
    #: any other state stops it (cancelled), and the sweep never fires it there.
    runs_in: tuple[str, ...] = ()
    #: Event clocks: the events that open them (due on the date in `anchor_field` of the
    #: event's data) and the events that meet them, whatever the state.
    opened_by: tuple[str, ...] = ()
    met_by: tuple[str, ...] = ()
    anchor_field: str = ""

    @property
    def live_states(self) -> frozenset[str]:
        """The states in which the clock may be open (and its rungs fire)."""
        return frozenset((self.step, *self.opens_on, *self.runs_in))

    def duration_for(self, risk_level: str | None) -> int:
        if self.high_risk_duration is not None and risk_level in ("high", "serious"):
            return self.high_risk_duration
        return self.duration

    def overridden(self, **changes: Any) -> DeadlineRule:
        clean = {key: value for key, value in changes.items() if value is not None}
        if "unit" in clean:
            clean["unit"] = DurationUnit(clean["unit"])
        if "ladder" in clean:
            clean["ladder"] = tuple(Rung.from_dict(rung) for rung in clean["ladder"])
        return replace(self, **clean)


# --- event data fields --------------------------------------------------------------------
#
# A field is data: its kind (text, long text, choice, boolean, date, date-time, whole number,
# record, list), its limits and choices, whether it is required, nested fields, and the keys
# of its label and help in the label catalogue. One `clean()` validates it; the web form
# builder draws it; `json_schema()` describes it for the API's documentation.


class FieldError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class Kind(enum.StrEnum):
    TEXT = "text"  # one line
    LONG_TEXT = "long_text"  # may span lines
    CHOICE = "choice"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    INTEGER = "integer"
    RECORD = "record"  # named fields
    LIST = "list"  # of items of one type (choices, records)


#: Characters no text may hold: NUL and the other C0 controls, and unpaired surrogates
#: (which cannot be encoded: PostgreSQL refuses NUL in text, SQLite's driver refuses
#: surrogates). Tab, line feed and carriage return are allowed in long text only.
_NEVER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_NOT_IN_ONE_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
#: Text longer than this may span lines (a description, a reason); shorter text is one line
#: (a name, a code, a phone number).
ONE_LINE_MAX = 500
#: Whole numbers are stored in 32-bit columns unless a field says otherwise.
INT32 = (-(2**31), 2**31 - 1)


def bad_character(value: str, multiline: bool = True) -> str | None:
    """What is wrong with `value`'s characters, or None. Never repeats the text itself."""
    found = (_NEVER if multiline else _NOT_IN_ONE_LINE).search(value)
    if found is None:
        return None
    code = ord(found.group())
    kind = "an unpaired surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
    return f"must not contain {kind} (U+{code:04X} at position {found.start()})"


#: Dates and times outside these years are typing errors, whatever the field (and beyond
#: them a time-zone conversion can overflow).
PLAUSIBLE_YEARS = (1900, 2199)
#: Plain calendar dates and times only: no ISO week dates (2026-W01), ordinal dates
#: (2026-001) or the basic format (20260101) that datetime.fromisoformat also reads.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
#: The moment relative dates are checked against (see `reference_time`).
_REFERENCE: ContextVar[datetime | None] = ContextVar("reference_time", default=None)


@contextmanager
def reference_time(now: datetime | None) -> Iterator[None]:
    """Check relative date limits (`iso_date(max_years_ahead=...)`) against `now` — the
    injected clock — instead of the wall clock, for the cleaning done inside the block."""
    token = _REFERENCE.set(now)
    try:
        yield
    finally:
        _REFERENCE.reset(token)


def _today() -> date:
    return (_REFERENCE.get() or datetime.now(UTC)).date()


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class FieldType:
    """What a field holds and its limits: data the validator, the form builder and the
    API's schema read alike. Called as `type(value, path)` it cleans a value."""

    kind: Kind
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    #: The label catalogue's kind that names the choices (e.g. "risk").
    choice_labels: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_years_ahead: int | None = None
    #: RECORD: its fields. LIST: `item` is the type of each item.
    fields: tuple[FieldSpec, ...] = ()
    item: FieldType | None = None
    min_items: int = 1
    max_items: int = 100
    unique: bool = False
    #: TEXT: applied to the text before it is checked (e.g. invisible characters removed
    #: from a name); then a domain check of the cleaned value (e.g. a personal number's
    #: digits), raising FieldError.
    normalise: Callable[[str], str] | None = None
    check: Callable[[Any, str], Any] | None = None
    #: TEXT: the values are those of a list that depends on the case (e.g. the officers of
    #: its commune): the page offers that list, named here, as a choice; the API takes the
    #: text and the service checks it against the same list.
    options: str | None = None

    def __call__(self, value: Any, path: str) -> Any:
        return self.clean(value, path)

    def clean(self, value: Any, path: str) -> Any:
        cleaned = _CLEANERS[self.kind](self, value, path)
        return self.check(cleaned, path) if self.check is not None else cleaned

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of a value of this type (for the API's documentation)."""
        kind = self.kind
        if kind in (Kind.TEXT, Kind.LONG_TEXT):
            return {"type": "string", "minLength": 1, "maxLength": self.max_length}
        if kind == Kind.CHOICE:
            return {"type": "string", "enum": list(self.choices)}
        if kind == Kind.BOOLEAN:
            return {"type": "boolean"}
        if kind == Kind.DATE:
            return {"type": "string", "format": "date"}
        if kind == Kind.DATETIME:
            return {"type": "string", "format": "date-time"}
        if kind == Kind.INTEGER:
            low, high = self.bounds()
            return {"type": "integer", "minimum": low, "maximum": high}
        if kind == Kind.RECORD:
            return fields_schema(self.fields)
        assert self.item is not None
        schema = {
            "type": "array",
            "items": self.item.json_schema(),
            "minItems": self.min_items,
            "maxItems": self.max_items,
        }
        return schema | ({"uniqueItems": True} if self.unique else {})

    def bounds(self) -> tuple[int, int]:
        return (
            INT32[0] if self.minimum is None else self.minimum,
            INT32[1] if self.maximum is None else self.maximum,
        )


@dataclass(frozen=True)
class FieldSpec:
    """A named field of an event or a report. Its label and help are keys of the label
    catalogue's "field" and "help" kinds (the name, unless given)."""

    name: str
    type: FieldType
    required: bool = True
    help: str = ""
    label: str = ""

    def clean(self, value: Any, path: str) -> Any:
        return self.type.clean(value, path)

    @property
    def label_key(self) -> str:
        return self.label or self.name


def _clean_text(spec: FieldType, value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise FieldError(path, "must be text")
    if spec.normalise is not None:
        value = spec.normalise(value)
    value = value.strip()
    if not value:
        raise FieldError(path, "must not be empty")
    if spec.max_length is not None and len(value) > spec.max_length:
        raise FieldError(path, f"must be at most {spec.max_length} characters")
    problem = bad_character(value, multiline=spec.kind == Kind.LONG_TEXT)
    if problem:
        raise FieldError(path, problem)
    return value


def _clean_boolean(spec: FieldType, value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise FieldError(path, "must be true or false")
    return value


def _clean_choice(spec: FieldType, value: Any, path: str) -> str:
    # Only text can be one of the names (a list or an object is not hashable).
    if not isinstance(value, str) or value not in spec.choices:
        raise FieldError(path, f"must be one of: {', '.join(spec.choices)}")
    return value


def _clean_date(spec: FieldType, value: Any, path: str) -> str:
    message = "must be a date YYYY-MM-DD"
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise FieldError(path, message)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise FieldError(path, message) from None
    low, high = PLAUSIBLE_YEARS
    if not low <= day.year <= high:
        raise FieldError(path, f"must be a date between {low} and {high}")
    if spec.max_years_ahead is not None:
        latest = _years_after(_today(), spec.max_years_ahead)
        if day > latest:
            raise FieldError(
                path, f"must be within {spec.max_years_ahead} years (at the latest {latest})"
            )
    return day.isoformat()


def _clean_datetime(spec: FieldType, value: Any, path: str) -> datetime:
    from zoneinfo import ZoneInfo

    message = "must be an ISO 8601 date-time, e.g. 2027-02-03T09:30:00+07:00"
    if not isinstance(value, str):
        raise FieldError(path, message)
    raw = value.strip()
    if not _DATETIME.fullmatch(raw):
        raise FieldError(path, message)
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise FieldError(path, message) from None
    low, high = PLAUSIBLE_YEARS
    if not low <= parsed.year <= high:
        raise FieldError(path, f"must be a date-time between {low} and {high}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    return parsed


def _clean_integer(spec: FieldType, value: Any, path: str) -> int:
    low, high = spec.bounds()
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(path, "must be a whole number")
    if value < low:
        raise FieldError(path, f"must be at least {low}")
    if value > high:
        raise FieldError(path, f"must be at most {high}")
    return value


def _clean_record(spec: FieldType, value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise FieldError(path, "must be an object")
    return clean_fields(spec.fields, value, prefix=f"{path}.")


def _clean_list(spec: FieldType, value: Any, path: str) -> list[Any]:
    assert spec.item is not None
    if not isinstance(value, list):
        raise FieldError(path, "must be a list")
    if len(value) < spec.min_items:
        raise FieldError(path, f"must have at least {spec.min_items} item(s)")
    if len(value) > spec.max_items:
        raise FieldError(path, f"must have at most {spec.max_items} items")
    cleaned = [spec.item.clean(entry, f"{path}[{index}]") for index, entry in enumerate(value)]
    if spec.unique:
        for index, entry in enumerate(cleaned):
            if entry in cleaned[:index]:
                raise FieldError(f"{path}[{index}]", "is given twice")
    return cleaned


_CLEANERS: dict[Kind, Callable[[FieldType, Any, str], Any]] = {
    Kind.TEXT: _clean_text,
    Kind.LONG_TEXT: _clean_text,
    Kind.CHOICE: _clean_choice,
    Kind.BOOLEAN: _clean_boolean,
    Kind.DATE: _clean_date,
    Kind.DATETIME: _clean_datetime,
    Kind.INTEGER: _clean_integer,
    Kind.RECORD: _clean_record,
    Kind.LIST: _clean_list,
}


def text(
    max_length: int = 5000, multiline: bool | None = None, options: str | None = None
) -> FieldType:
    """Text, stripped, not empty. One line unless longer than ONE_LINE_MAX is allowed.
    `options` names the list of values the page offers for it (FieldType.options)."""
    lines = max_length > ONE_LINE_MAX if multiline is None else multiline
    return FieldType(Kind.LONG_TEXT if lines else Kind.TEXT, max_length=max_length, options=options)


def boolean() -> FieldType:
    return FieldType(Kind.BOOLEAN)


def choice(*allowed: str, labels: str | None = None) -> FieldType:
    """One of `allowed`; `labels` names the catalogue kind that names them."""
    return FieldType(Kind.CHOICE, choices=tuple(allowed), choice_labels=labels)


def iso_date(max_years_ahead: int | None = None) -> FieldType:
    """A calendar date YYYY-MM-DD in a plausible year; with `max_years_ahead`, no later than
    that many years after today."""
    return FieldType(Kind.DATE, max_years_ahead=max_years_ahead)


def iso_datetime() -> FieldType:
    """An ISO 8601 calendar date and time in a plausible year; one without a zone is read as
    Vietnam local time."""
    return FieldType(Kind.DATETIME)


def integer(minimum: int | None = None, maximum: int | None = None) -> FieldType:
    return FieldType(Kind.INTEGER, minimum=minimum, maximum=maximum)


def record(*fields: FieldSpec) -> FieldType:
    return FieldType(Kind.RECORD, fields=tuple(fields))


def list_of(
    item: FieldType, min_items: int = 1, max_items: int = 100, unique: bool = False
) -> FieldType:
    """A list of `item`s; with `unique`, an item given twice is refused (not dropped)."""
    return FieldType(Kind.LIST, item=item, min_items=min_items, max_items=max_items, unique=unique)


def shown(key: Any, limit: int = 40) -> str:
    """A key as an error may name it: printable and short (input is never echoed whole)."""
    shown = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in str(key)[:limit])
    return shown + "…" if len(str(key)) > limit else shown


def clean_fields(
    fields: Sequence[FieldSpec], data: Mapping[str, Any], prefix: str = ""
) -> dict[str, Any]:
    """Validate `data` against `fields`; unknown fields are refused, not ignored."""
    known = {spec.name for spec in fields}
    for key in data:
        if key not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise FieldError(f"{prefix}{shown(key)}", f"unknown field (allowed: {allowed})")
    cleaned: dict[str, Any] = {}
    for spec in fields:
        path = f"{prefix}{spec.name}"
        if spec.name not in data or data[spec.name] is None:
            if spec.required:
                raise FieldError(path, "is required")
            continue
        cleaned[spec.name] = spec.clean(data[spec.name], path)
    return cleaned


def fields_schema(fields: Sequence[FieldSpec]) -> dict[str, Any]:
    """The JSON Schema of an object with `fields` (unknown fields refused)."""
    return {
        "type": "object",
        "properties": {spec.name: spec.type.json_schema() for spec in fields},
        "required": [spec.name for spec in fields if spec.required],
        "additionalProperties": False,
    }


# --- events, guards, transitions -----------------------------------------------------------


@dataclass
class CaseSnapshot:
    """What guards may look at: the case's state and recorded form data, nothing else.

    `state` is the attribute the shared transitions Machine reads and writes.
    """

    state: str
    risk_level: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    now: datetime | None = None
    refusals: list[str] = field(default_factory=list)


#: A guard returns None when the law is satisfied, or the reason it refuses.
Guard = Callable[[CaseSnapshot, dict[str, Any]], str | None]


@dataclass(frozen=True)
class EventSpec:
    name: str
    by: tuple[str, ...]
    fields: tuple[FieldSpec, ...] = ()
    help: str = ""
    #: Offered to users only when this holds for the case (the guards still decide).
    offered_when: Callable[[CaseSnapshot], bool] | None = None

    def clean(self, data: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
        with reference_time(now):
            return clean_fields(self.fields, data)


@dataclass(frozen=True)
class TransitionSpec:
    event: str
    source: str | tuple[str, ...]
    #: None: the event keeps the case in its step (an internal transition).
    dest: str | None
    guards: tuple[Guard, ...] = ()
    #: Routing conditions (not refusals): which of several transitions of an event applies.
    when: Callable[[CaseSnapshot, dict[str, Any]], bool] | None = None
    unless: Callable[[CaseSnapshot, dict[str, Any]], bool] | None = None
    legal_source: str = ""


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str
    states: tuple[str, ...]
    initial: str
    final: tuple[str, ...]
    events: Mapping[str, EventSpec]
    transitions: tuple[TransitionSpec, ...]
    deadlines: tuple[DeadlineRule, ...]
    legal_basis: str = ""

    def rule(self, name: str) -> DeadlineRule:
        for rule in self.deadlines:
            if rule.name == name:
                return rule
        raise KeyError(name)
