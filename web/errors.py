"""Errors as users see them: JSON under /api, a page elsewhere. A 500 is a bug."""

from __future__ import annotations

import logging

import psycopg
import sqlalchemy as sa
from flask import Flask, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from casework.errors import (
    CaseworkError,
    Conflict,
    EventNotAllowed,
    NotFound,
    PermissionDenied,
    ValidationError,
)

STATUS = {
    ValidationError: 422,
    NotFound: 404,
    PermissionDenied: 403,
    Conflict: 409,
    EventNotAllowed: 422,
}


def status_for(error: CaseworkError) -> int:
    for kind, status in STATUS.items():
        if isinstance(error, kind):
            return status
    return 400


log = logging.getLogger("casework.web")

#: Longest message, field name and field problem an error answer carries: an error may
#: name what it refuses, but never echoes unbounded input back.
MESSAGE_MAX, FIELD_MAX = 500, 80


def bounded(text: object, limit: int = MESSAGE_MAX) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded_body(body: dict[str, object]) -> dict[str, object]:
    body = dict(body)
    if "message" in body:
        body["message"] = bounded(body["message"])
    fields = body.get("fields")
    if isinstance(fields, dict):
        body["fields"] = {
            bounded(name, FIELD_MAX): bounded(problem) for name, problem in fields.items()
        }
    return body


#: What a page says for each status, in the reader's language (Werkzeug's descriptions and
#: the services' messages are English and technical: the page says what the user can do).
PAGE_TEXTS = {
    400: (
        _l("Bad request"),
        _l("Part of what was sent cannot be accepted. Go back, check it and try again."),
    ),
    403: (
        _l("Not permitted"),
        _l("Your role does not allow this. Ask your chairperson or the administrator."),
    ),
    404: (
        _l("Not found"),
        _l("The page or record does not exist, or it is not within your area of work."),
    ),
    405: (
        _l("Not allowed this way"),
        _l("This address cannot be used that way. Use the buttons on the pages."),
    ),
    409: (
        _l("Changed by someone else"),
        _l(
            "Someone else changed this case while you were working on it. Nothing of yours "
            "was saved: reload the case and try again."
        ),
    ),
    413: (
        _l("Too large"),
        _l("What you sent is too large. Shorten it or send a smaller file."),
    ),
    422: (
        _l("Cannot be done"),
        _l(
            "This cannot be done now: the case's current step or a legal condition does not "
            "allow it, or something entered is not valid."
        ),
    ),
    500: (
        _l("Something went wrong"),
        _l(
            "An error on our side stopped this. It has been recorded; nothing was saved. "
            "Try again, and tell the administrator if it happens again."
        ),
    ),
    503: (
        _l("Temporarily unavailable"),
        _l(
            "The database cannot be reached at the moment. Nothing was saved: "
            "please try again in a minute."
        ),
    ),
}
CSRF_TEXT = _l(
    "The form was not accepted: it has expired or did not come from this site. Reload the "
    "page and try again."
)


def error_page(status: int, detail: str | None = None) -> str:
    """The error page for `status`; `detail`, a message already in the reader's language."""
    title, message = PAGE_TEXTS.get(status, PAGE_TEXTS[500 if status >= 500 else 400])
    return render_template("error.html", status=status, title=title, message=message, detail=detail)


def _english() -> bool:
    return str(get_locale()) == "en"


#: The database cannot be reached (down, restarting, failing over): nothing was written.
UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, psycopg.OperationalError)


def register(app: Flask) -> None:
    def database_unavailable(error: Exception):  # type: ignore[no-untyped-def]
        log.error("database unavailable: %s", type(error).__name__)  # no query, no data
        message = _(
            "The database cannot be reached at the moment. Nothing was saved: "
            "please try again in a minute."
        )
        headers = {"Retry-After": "30"}
        if request.path.startswith("/api/"):
            body = {"error": "service_unavailable", "message": message}
            return jsonify(body), 503, headers
        return error_page(503), 503, headers

    for kind in UNAVAILABLE:
        app.register_error_handler(kind, database_unavailable)

    @app.errorhandler(CaseworkError)
    def casework_error(error: CaseworkError):  # type: ignore[no-untyped-def]
        status = status_for(error)
        if request.path.startswith("/api/"):
            return jsonify(_bounded_body(error.to_dict())), status
        # The services speak English: their message is a detail for English readers only;
        # everyone is told which fields (parameters) were refused.
        detail = bounded(error.message) if _english() else None
        if isinstance(error, ValidationError) and not _english():
            names = ", ".join(bounded(name, FIELD_MAX) for name in error.errors)
            detail = _("Check: %(fields)s", fields=bounded(names))
        return error_page(status, detail), status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        if request.path.startswith("/api/"):
            body: dict[str, object] = {
                "error": (error.name or "error").lower().replace(" ", "_"),
                "message": error.description,
            }
            fields = getattr(error, "fields", None)  # web.inputs.InputRejected names them
            if fields:
                body["fields"] = fields
            return jsonify(_bounded_body(body)), error.code or 500
        status = error.code or 500
        if isinstance(error, CSRFError):
            return error_page(status, str(CSRF_TEXT)), status
        detail = None
        if getattr(error, "fields", None):  # the input gate names the field, in our words
            detail = bounded(error.description or "")
        # Werkzeug's own headers (a 405's Allow), not its English page.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return error_page(status, detail), status, headers
