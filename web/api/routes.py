"""JSON API v1 (bearer-token auth). Thin: parse, call a service, shape the answer."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, g, jsonify, request

from casework.errors import ValidationError
from casework.services import cases, forms, intake, queries
from casework.services.notifications import mark_read
from casework.services.tasks import respond
from casework.services.users import user_for_token
from web import get_db
from web.inputs import ID_MAX, choice_arg, int_arg, only_args
from workflows import get_workflow

#: Event names are short words; a longer one is refused without being repeated.
EVENT_NAME_MAX = 64

bp = Blueprint("api", __name__)


def token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _unauthorized("send Authorization: Bearer <token>")
        actor = user_for_token(get_db(), token.strip())
        if actor is None:
            return _unauthorized("the token is unknown, expired or revoked")
        g.actor = actor
        return view(*args, **kwargs)

    return wrapped


def _unauthorized(message: str) -> Any:
    response = jsonify({"error": "unauthorized", "message": message})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="casework"'
    return response


def json_body() -> dict[str, Any]:
    if not request.is_json:
        abort(400, description="the body must be JSON (Content-Type: application/json)")
    body = request.get_json(silent=True)
    if body is None:
        abort(400, description="the body is not valid JSON")
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object")
    return body


@bp.post("/reports")
@token_required
def create_report() -> Any:
    result = intake.record_report(get_db(), g.actor, json_body())
    return jsonify(result.to_dict()), 201


@bp.get("/cases")
@token_required
def list_cases() -> Any:
    only_args("state", "limit", "offset")
    limit = int_arg("limit", 50, 1, 500)
    offset = int_arg("offset", 0, 0, ID_MAX)  # no table holds more rows than ids
    state = choice_arg("state", get_workflow("case").states)
    rows = queries.list_cases(get_db(), g.actor, state=state, limit=limit, offset=offset)
    return jsonify({"cases": rows, "limit": limit, "offset": offset})


@bp.get("/cases/<id:case_id>")
@token_required
def get_case(case_id: int) -> Any:
    return jsonify(queries.get_case(get_db(), g.actor, case_id))


@bp.post("/cases/<id:case_id>/events")
@token_required
def fire_event(case_id: int) -> Any:
    body = json_body()
    unknown = sorted(set(body) - {"event", "version", "data"})
    if unknown:
        raise ValidationError({unknown[0]: "unknown field (allowed: event, version, data)"})
    if "version" not in body:
        raise ValidationError({"version": "is required: the version you last read"})
    if "data" in body and body["data"] is not None and not isinstance(body["data"], dict):
        raise ValidationError({"data": "must be an object"})
    event = body.get("event")
    if isinstance(event, str) and len(event) > EVENT_NAME_MAX:
        raise ValidationError({"event": "unknown event (see the case's available_events)"})
    view = cases.fire_event(
        get_db(), g.actor, case_id, event, body["version"], body.get("data") or {}
    )
    return jsonify(view)


@bp.post("/cases/<id:case_id>/assign")
@token_required
def assign(case_id: int) -> Any:
    body = forms.clean(forms.ASSIGN, json_body())
    return jsonify(cases.assign(get_db(), g.actor, case_id, body["assignee"], body["version"]))


@bp.get("/notifications")
@token_required
def notifications() -> Any:
    only_args("unread")
    unread_only = choice_arg("unread", ("1", "0", "true", "false")) in ("1", "true")
    return jsonify(
        {
            "notifications": queries.inbox(get_db(), g.actor, unread_only=unread_only),
            "unread": queries.unread_count(get_db(), g.actor),
        }
    )


@bp.post("/notifications/<id:notification_id>/read")
@token_required
def notification_read(notification_id: int) -> Any:
    mark_read(get_db(), g.actor, notification_id)
    return jsonify({"id": notification_id, "read": True})


@bp.get("/tasks")
@token_required
def tasks() -> Any:
    only_args("status")
    status = choice_arg("status", queries.TASK_STATUSES)
    return jsonify({"tasks": queries.list_tasks(get_db(), g.actor, status)})


@bp.post("/tasks/<id:task_id>")
@token_required
def task_answer(task_id: int) -> Any:
    body = forms.clean(forms.TASK_ANSWER, json_body())
    return jsonify(respond(get_db(), g.actor, task_id, body["action"], body.get("note", "")))


@bp.post("/matches/<id:match_id>")
@token_required
def match_decision(match_id: int) -> Any:
    """A possible match on a report: the same child (true) or a different child (false)."""
    body = forms.clean(forms.MATCH_DECISION, json_body())
    return jsonify(intake.decide_match(get_db(), g.actor, match_id, body["same_child"]))
