"""The one form builder: a web form for any list of fields defined as data (workflows/spec.py).

An event's form is drawn from its `FieldSpec`s — kind, limits, choices, required, nested
records and repeatable lists — with labels from the label catalogue. What the user typed
goes back through the same `clean()` the API uses; its errors are shown next to the fields
they name. Adding a field to an event in workflows/case.py adds it here with no other edit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields.choices import SelectChoice

from casework.services.forms import FieldSpec, FieldType, Kind
from web.labels import label

#: How many rows a repeatable list shows at first (more are added with "Add a row").
FIRST_ROWS = 1


class CheckboxList(SelectMultipleField):
    """Several choices as checkboxes (abuse types)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _choices(kind: FieldType, blank: bool) -> list[SelectChoice]:
    """The choices, named; with `blank`, "—" first (nothing is chosen for the user: a
    required choice left blank is refused as not given)."""
    named = [SelectChoice(value, label(kind.choice_labels or "", value)) for value in kind.choices]
    return [SelectChoice("", "—"), *named] if blank else named


#: Values offered for fields whose list depends on the case (FieldType.options).
Options = Mapping[str, Sequence[tuple[str, str]]]


def _field(spec: FieldSpec, rows: Mapping[str, int], options: Options) -> Field:
    kind = spec.type
    text = label("field", spec.label_key)
    extra: dict[str, Any] = {"render_kw": {}}
    if spec.required and kind.kind not in (Kind.BOOLEAN, Kind.RECORD, Kind.LIST):
        extra["render_kw"]["required"] = True
    if kind.options and kind.options in options:
        offered = [SelectChoice(value, name) for value, name in options[kind.options]]
        return SelectField(
            text, choices=[SelectChoice("", "—"), *offered], validate_choice=False, **extra
        )
    if kind.kind == Kind.TEXT:
        extra["render_kw"]["maxlength"] = kind.max_length
        return StringField(text, **extra)
    if kind.kind == Kind.LONG_TEXT:
        extra["render_kw"].update(maxlength=kind.max_length, rows=4)
        return TextAreaField(text, **extra)
    if kind.kind == Kind.CHOICE:
        return SelectField(text, choices=_choices(kind, True), validate_choice=False, **extra)
    if kind.kind == Kind.BOOLEAN:
        return BooleanField(text, **extra)
    if kind.kind == Kind.DATE:
        extra["render_kw"]["type"] = "date"
        return StringField(text, **extra)
    if kind.kind == Kind.DATETIME:
        extra["render_kw"]["type"] = "datetime-local"
        return StringField(text, **extra)
    if kind.kind == Kind.INTEGER:
        low, high = kind.bounds()
        extra["render_kw"].update(type="number", min=low, max=high, step=1)
        return StringField(text, **extra)
    if kind.kind == Kind.RECORD:
        return FormField(record_form(kind.fields, rows, options), label=text)
    assert kind.item is not None
    if kind.item.kind == Kind.CHOICE:
        return CheckboxList(
            text, choices=_choices(kind.item, False), validate_choice=False, **extra
        )
    assert kind.item.kind == Kind.RECORD
    count = max(rows.get(spec.name, FIRST_ROWS), kind.min_items, 1)
    return FieldList(
        FormField(record_form(kind.item.fields, {}, options)),
        label=text,
        min_entries=min(count, kind.max_items),
        max_entries=kind.max_items,
    )


def record_form(
    fields: Sequence[FieldSpec], rows: Mapping[str, int], options: Options
) -> type[Form]:
    """A (sub)form class for `fields` (records nest with FormField, without CSRF)."""
    attributes = {spec.name: _field(spec, rows, options) for spec in fields}
    return type("RecordForm", (Form,), attributes)


def event_form(
    fields: Sequence[FieldSpec],
    formdata: MultiDict[str, Any] | None,
    rows: Mapping[str, int],
    options: Options | None = None,
) -> FlaskForm:
    """The form of an event (CSRF, the case version it was drawn on, and the fields).
    `options`: the values offered for fields whose list depends on the case; without
    them such a field is a text box."""
    attributes: dict[str, Any] = {spec.name: _field(spec, rows, options or {}) for spec in fields}
    attributes["version"] = HiddenField()
    form_class = type("EventForm", (FlaskForm,), attributes)
    return form_class(formdata=formdata)  # type: ignore[no-any-return]


def _value(spec: FieldSpec, field: Field) -> Any:
    kind = spec.type
    if kind.kind == Kind.BOOLEAN:
        return bool(field.data)
    if kind.kind == Kind.RECORD:
        return payload(kind.fields, field.form)
    if kind.kind == Kind.LIST:
        assert kind.item is not None
        if kind.item.kind == Kind.CHOICE:
            return list(field.data or []) or None
        rows = [payload(kind.item.fields, entry.form) for entry in field.entries]
        rows = [row for row in rows if row]  # a row left blank is no row
        return rows or None
    raw = field.data
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if kind.kind == Kind.INTEGER and isinstance(raw, str) and re.fullmatch(r"-?[0-9]{1,12}", raw):
        return int(raw)
    return raw


def payload(fields: Sequence[FieldSpec], form: Form) -> dict[str, Any]:
    """What the user typed, shaped as the API's JSON (blank fields left out), for `clean()`."""
    data = {}
    for spec in fields:
        value = _value(spec, form[spec.name])
        if value is not None:
            data[spec.name] = value
    return data


#: The validators' messages (workflows/spec.py, the services) as the reader's language
#: says them: an English pattern and its translatable text, with the pattern's groups as
#: parameters. The API answers in English; the pages next to a field in the reader's
#: language. A message not listed shows as a plain "not accepted" in Vietnamese.
PROBLEMS: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(pattern), text)
    for pattern, text in (
        (r"is required.*", _l("is required")),
        (r"must not be empty", _l("must not be empty")),
        (r"must be text", _l("must be text")),
        (r"must be at most (?P<n>\d+) characters", _l("must be at most %(n)s characters")),
        (
            r"must be text of at most (?P<n>\d+) characters",
            _l("must be at most %(n)s characters"),
        ),
        (r"must be one of: .*", _l("is not one of the choices")),
        (r"must be a date YYYY-MM-DD", _l("must be a date")),
        (r"must be an ISO 8601 date-time.*", _l("must be a date and time")),
        (
            r"must be a date(-time)? between (?P<low>\d+) and (?P<high>\d+)",
            _l("must be between the years %(low)s and %(high)s"),
        ),
        (r"must be within (?P<n>\d+) years.*", _l("must be within %(n)s years from today")),
        (r"must be a whole number", _l("must be a whole number")),
        (r"must be at least (?P<n>-?\d+)", _l("must be at least %(n)s")),
        (r"must be at most (?P<n>-?\d+)", _l("must be at most %(n)s")),
        (r"must have at least (?P<n>\d+) item.*", _l("needs at least %(n)s")),
        (r"must have at most (?P<n>\d+) items", _l("takes at most %(n)s")),
        (r"is given twice", _l("is given twice")),
        (r"is in the future", _l("is in the future")),
        (r"is after the report was received", _l("is after the report was received")),
        (r"give birth_date or age_years, not both", _l("give the date of birth or the age")),
        (r"say why the task is declined", _l("say why the task is declined")),
        (r"say what was done", _l("say what was done")),
        (r"must be a PDF, JPEG or PNG file", _l("must be a PDF, JPEG or PNG file")),
        (r"is not your current password", _l("is not your current password")),
        (r"must differ from the current password", _l("must differ from the current one")),
        (r"is not the code the app shows now", _l("is not the code the app shows now")),
        (
            r"must be the 12 digits of a personal identification number",
            _l("must be the 12 digits of a personal identification number"),
        ),
        (
            r"the first three digits .* must be 001–096",
            _l("the first three digits (place of birth registration) must be 001 to 096"),
        ),
        (r"the person is 16 or older.*", _l("the person is 16 or older: not a child")),
        (r"its 4th digit says .*", _l("its 4th digit gives the other sex")),
        (r"its digits 4–6 do not match the birth date", _l("does not match the date of birth")),
        (
            r"is too long ago: the earliest receipt accepted is (?P<day>[0-9-]+)",
            _l("is too long ago: the earliest accepted is %(day)s"),
        ),
        (r"is too large \(at most (?P<n>\d+) MiB\)", _l("is too large (at most %(n)s MiB)")),
        (r"no case you may see has this number", _l("no case you may see has this number")),
        # The units and agencies services (the administrators' forms).
        (r"a \w+ code has (?P<n>\d) digits", _l("this level's code has %(n)s digits")),
        (r"a \w+ needs its parent's code", _l("give the code of the unit it belonged to")),
        (r"no unit has code .*", _l("no unit has this code")),
        (r"a province has no parent", _l("a province belongs to no other unit")),
        (
            r"a commune cannot belong to a commune|a district cannot belong to a (district|commune)",
            _l("a unit of this level cannot belong to that unit (wrong level)"),
        ),
        (r"is before valid_from", _l("is before the date it took effect")),
        (
            r"\w+ \d+ already exists for these dates \((?P<name>.*), (?P<start>[0-9-]+) to "
            r"(?P<end>[0-9a-z-]+)\)",
            _l("this code is already used for these dates (%(name)s, %(start)s to %(end)s)"),
        ),
        (
            r"an agency of this kind has this name at this unit",
            _l("this unit already has an agency of this kind with this name"),
        ),
        (r"must be a phone number.*", _l("must be a phone number (digits, spaces, + . - ( ))")),
        (r"must be an e-mail address", _l("must be an e-mail address")),
        (
            r"give a phone number or an e-mail address",
            _l("give a phone number or an e-mail address"),
        ),
        # Calendars and workflow settings (casework/services/settings.py).
        (
            r"is in the past: the earliest date is today, (?P<day>[0-9-]+)",
            _l("is in the past: the earliest date is today, %(day)s"),
        ),
        (
            r"must not be before the newest version's date, (?P<day>[0-9-]+)",
            _l("must not be before the date of the newest version, %(day)s"),
        ),
        (r"[0-9-]+ is a weekday: it is already worked", _l("is a weekday: it is worked already")),
        (r"[0-9-]+ is already in the calendar of province \d+", _l("is already in the calendar")),
        (
            r"give a share of the time or an offset, not both",
            _l("give either a share of the time or a time after the due time"),
        ),
        (r"give the offset and its unit", _l("give the time after the due time and its unit")),
        (
            r"the province has no setting of its own to withdraw",
            _l("the province has no setting of its own to withdraw"),
        ),
        (
            r"nothing to override: .*",
            _l("give at least one value that differs: a time limit, a role or a ladder"),
        ),
        # Accounts (the administrators' user pages, casework/services/users.py).
        (r"'.*' is already taken", _l("is already taken: choose another username")),
        (r"3–80 characters: .*", _l("3 to 80 characters: lower-case letters, digits, . _ or -")),
        (r"no administrative unit has code .*", _l("no unit has this code: choose one by name")),
        (r"'.*' was dissolved on .*", _l("this unit no longer exists: choose a current one")),
        (r"role (officer|chair) needs a commune unit code", _l("this role needs a commune")),
        (r"role province needs a province unit code", _l("this role needs a province")),
        (r"role agency needs a unit", _l("a partner agency needs its commune or province")),
        (r"role agency needs an agency", _l("choose the agency this user works for")),
        (
            r"you may not create a national administrator",
            _l("only a national administrator may create one"),
        ),
        (r"is outside the province you administer", _l("is outside the province you administer")),
        (r"is not an e-mail address", _l("is not an e-mail address")),
        (r"is in the past", _l("is in the past")),
        (r"must be within \d+ days from today", _l("must be within a year from today")),
        (r"must be at least 12 characters", _l("must be at least 12 characters")),
        (
            r"not picked from the list",
            _l("choose the unit from the list shown as you type its name"),
        ),
    )
]


def problem_text(message: str) -> str:
    """A validator's message in the reader's language (see PROBLEMS)."""
    for pattern, text in PROBLEMS:
        found = pattern.fullmatch(message)
        if found:
            return str(text % found.groupdict()) if found.groupdict() else str(text)
    if str(get_locale()) == "en":
        return message
    return str(_l("is not accepted as written"))


def show_errors(form: Form, errors: Mapping[str, str]) -> dict[str, str]:
    """Attach each error (by its path: `measures[0].due_date`) to the field it names, in
    the reader's language; returns those that name no field (shown above the form)."""
    left = {}
    for path, message in errors.items():
        field = _find(form, re.sub(r"^data\.", "", path))
        if field is None:
            left[path] = problem_text(message)
        else:
            field.errors = [*(field.errors or []), problem_text(message)]
    return left


def _find(form: Form, path: str) -> Field | None:
    current: Any = form
    for part in re.findall(r"[^.\[\]]+", path):
        try:
            if isinstance(current, FieldList):
                current = current.entries[int(part)]
            elif isinstance(current, FormField):
                current = current.form[part]
            else:
                current = current[part]
        except (KeyError, IndexError, ValueError, TypeError):
            return None
    return current if isinstance(current, Field) else None


ADD_ROW = _l("Add a row")


def option_names(fields: Sequence[FieldSpec]) -> set[str]:
    """The case-dependent lists (FieldType.options) that `fields` need, records included."""
    names: set[str] = set()
    for spec in fields:
        kind = spec.type
        if kind.options:
            names.add(kind.options)
        names |= option_names(kind.fields)
        if kind.item is not None:
            names |= option_names(kind.item.fields)
    return names
