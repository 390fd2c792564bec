"""Errors as users see them: JSON under /api, a page elsewhere. A 500 is a bug."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
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


def register(app: Flask) -> None:
    @app.errorhandler(CaseworkError)
    def casework_error(error: CaseworkError):  # type: ignore[no-untyped-def]
        status = status_for(error)
        if request.path.startswith("/api/"):
            return jsonify(error.to_dict()), status
        return render_template("error.html", status=status, message=error.message), status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        if request.path.startswith("/api/"):
            body = {
                "error": (error.name or "error").lower().replace(" ", "_"),
                "message": error.description,
            }
            return jsonify(body), error.code or 500
        return render_template(
            "error.html", status=error.code, message=error.description
        ), error.code or 500
