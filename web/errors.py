"""Errors as users see them: JSON under /api, a page elsewhere. A 500 is a bug."""

from __future__ import annotations

import logging

import psycopg
import sqlalchemy as sa
from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
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
        return render_template("error.html", status=503, message=message), 503, headers

    for kind in UNAVAILABLE:
        app.register_error_handler(kind, database_unavailable)

    @app.errorhandler(CaseworkError)
    def casework_error(error: CaseworkError):  # type: ignore[no-untyped-def]
        status = status_for(error)
        if request.path.startswith("/api/"):
            return jsonify(_bounded_body(error.to_dict())), status
        message = bounded(error.message)
        return render_template("error.html", status=status, message=message), status

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
        return render_template(
            "error.html", status=error.code, message=bounded(error.description or "")
        ), error.code or 500
