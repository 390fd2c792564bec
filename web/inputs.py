"""The one gate every input passes before a view runs (issue 9 §4).

Whatever the route, the request is refused with a 400 naming the field when any text it
carries — the URL path, query parameters, form fields, JSON strings and keys at any depth —
holds NUL, another control character (tab, line feed and carriage return excepted) or an
unpaired surrogate; when its JSON nests deeper than MAX_JSON_DEPTH, repeats a key, or holds
a number outside what JSON peers exchange exactly (I-JSON, RFC 7493); and, through
MAX_CONTENT_LENGTH, with a 413 when its body is too large. Ids in URLs go through the `id`
converter, bounded to the id columns' type, so an id out of range is a 404 like any unknown
one. Field cleaners (workflows/spec.py) apply the same character rule to what the services
are given by other doors (the CLI, the demo).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.routing import BaseConverter, ValidationError

from casework.errors import ValidationError as FieldProblem
from workflows.spec import bad_character, shown

#: Every id column is a PostgreSQL `integer` (and SQLite's integers are 64-bit).
ID_MAX = 2**31 - 1
#: Deeper JSON is never what a client of this API means (reports nest three levels).
MAX_JSON_DEPTH = 32
#: I-JSON (RFC 7493 §2.2): integers beyond ±(2**53 - 1) are not exchanged exactly.
JSON_INT_MAX = 2**53 - 1
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: ASCII digits only (int() also reads other scripts' digits), few enough to be bounded.
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,12}")


class InputRejected(BadRequest):
    """A 400 that names the field (`fields` in the JSON answer, as validation errors do)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(description=f"{field}: {problem}")
        self.fields = {field: problem}


def _check_text(field: str, value: str) -> None:
    if bad_character(value) is not None:
        raise InputRejected(
            field, _("must not contain control characters (such as NUL) or unpaired surrogates")
        )


def _check_pairs(pairs: Iterable[tuple[str, list[str]]]) -> None:
    for key, values in pairs:
        _check_text(shown(key), key)
        for value in values:
            _check_text(shown(key), value)


# --- JSON ----------------------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise InputRejected("body", _("NaN and Infinity are not JSON numbers"))


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _item in pairs:
            if key in seen:
                raise InputRejected(shown(key), _("is given twice"))
            seen.add(key)
    return value


def check_json(value: Any) -> None:
    """Walk a parsed body (without recursion): depth, keys, strings and numbers."""
    stack: list[tuple[str, Any, int]] = [("body", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise InputRejected("body", _("is nested too deeply"))
            if isinstance(item, dict):
                for key, child in item.items():
                    child_path = key if path == "body" else f"{path}.{key}"
                    _check_text(shown(child_path), key)
                    stack.append((child_path, child, depth + 1))
            else:
                for index, child in enumerate(item):
                    stack.append((f"{path}[{index}]", child, depth + 1))
        elif isinstance(item, str):
            _check_text(shown(path), item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > JSON_INT_MAX:
                raise InputRejected(shown(path), _("is too large a number"))
        elif isinstance(item, float) and abs(item) == float("inf"):
            raise InputRejected(shown(path), _("is too large a number"))


class StrictJSONProvider(DefaultJSONProvider):
    """Flask reads request bodies with `app.json.loads(data)`: strictly, here, bounded and
    checked (see check_json). Calls with options (the signed session cookie's serializer)
    are the application's own data and go to the default reader."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:
            return super().loads(s, **kwargs)
        try:
            value = json.loads(s, parse_constant=_no_constants, object_pairs_hook=_object)
        except RecursionError:
            raise InputRejected("body", _("is nested too deeply")) from None
        check_json(value)
        return value


# --- the gate and the id converter -----------------------------------------------------------


def check_request() -> None:
    """Before every view: the path, the query, and the body (form or JSON) are clean."""
    _check_text("path", request.path)
    _check_pairs(request.args.lists())
    if request.mimetype in FORM_TYPES:
        _check_pairs(request.form.lists())
        for key, upload in request.files.items(multi=True):
            _check_text(shown(key), key)
            _check_text(shown(key), upload.filename or "")
    elif request.is_json and _not_json():
        raise InputRejected("body", _("is not valid JSON"))


def _not_json() -> bool:
    """Parse the JSON body once, here (views read the cached value): a body that declares
    itself JSON and is not is refused on every route, not only where a view reads it."""
    raw = request.get_data(cache=True).strip()
    return bool(raw) and raw != b"null" and request.get_json(silent=True) is None


class IdConverter(BaseConverter):
    """`<id:case_id>`: a positive id that fits the id columns; anything else is a 404."""

    regex = r"[1-9][0-9]{0,9}"
    weight = 50

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > ID_MAX:
            raise ValidationError()
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


def int_arg(name: str, default: int, minimum: int, maximum: int) -> int:
    """A whole-number query parameter in [minimum, maximum], or a 422 naming it."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not _WHOLE_NUMBER.fullmatch(raw.strip()):
        raise FieldProblem({name: "must be a whole number"})
    value = int(raw)
    if not minimum <= value <= maximum:
        raise FieldProblem({name: f"must be between {minimum} and {maximum}"})
    return value


def choice_arg(name: str, allowed: Iterable[str]) -> str | None:
    """A query parameter that filters by one of known values, or a 422 naming it."""
    raw = request.args.get(name)
    allowed = tuple(allowed)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise FieldProblem({name: f"must be one of: {', '.join(allowed)}"})
    return raw


def only_args(*allowed: str) -> None:
    """Refuse a query parameter the route does not know (a typo would filter nothing)."""
    for key in request.args:
        if key not in allowed and key != "lang":
            known = ", ".join(allowed) or "none"
            raise FieldProblem({shown(key): f"unknown parameter (allowed: {known})"})


def init_app(app: Flask) -> None:
    """Call before the blueprints are registered (their rules use the `id` converter)."""
    app.json = StrictJSONProvider(app)
    app.url_map.converters["id"] = IdConverter
    app.before_request(check_request)
