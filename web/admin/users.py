"""Administrators' pages for accounts and their API tokens (/admin/users).

A national administrator manages every account, a province administrator those of its
province's units (`user_queries`, `users`: the services decide and refuse; an account out
of reach is a 404 like a missing one). The forms are drawn from the field definitions in
casework/services/users.py and checked by the same clean(); every change is a command of
casework/services/users.py or twofactor.py, audited there. A temporary password or a new
token is shown once, on the answer to the POST that made it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from casework.errors import Conflict, NotFound, PermissionDenied, ValidationError
from casework.services import twofactor, user_queries, users
from casework.services.forms import clean
from web import get_db
from web.admin.routes import admin_only, bp
from web.forms import event_form, payload, problem_text

REFUSALS: list[tuple[str, Any]] = [
    (
        "last active national administrator",
        _l("This is the last active national administrator: create another one first."),
    ),
    ("your own account", _l("You cannot disable your own account.")),
    (
        "your own role or unit",
        _l("You cannot change your own role or unit: ask another administrator."),
    ),
]
STALE = _l(
    "Somebody else changed this user while you had the form open. Nothing was saved: "
    "the page now shows their changes; make yours again."
)


def _refusal(error: PermissionDenied) -> str:
    for part, text in REFUSALS:
        if part in error.message:
            return str(text)
    return error.message if str(get_locale()) == "en" else str(_l("Not allowed."))


def _attach(form: FlaskForm, errors: dict[str, str]) -> dict[str, str]:
    """Put each error next to its field (in the reader's language); the rest is returned."""
    left = {}
    for name, message in errors.items():
        field = form._fields.get(name.split(".")[0])
        if field is None or name == "version":
            left[name] = problem_text(message)
        else:
            field.errors = [*(field.errors or []), problem_text(message)]
    return left


_CODE = re.compile(r"[0-9]{2,10}")


def _unit_code(form: MultiDict[str, str]) -> tuple[MultiDict[str, str], bool]:
    """The unit's code: the typeahead's hidden input, or a code typed by hand in its place.
    Also whether a name was typed but no unit picked (refused: which unit is meant?)."""
    data = MultiDict(form)
    shown = (data.get("unit-q") or "").strip()
    if not (data.get("unit") or "").strip() and shown:
        if _CODE.fullmatch(shown):
            data["unit"] = shown
        else:
            return data, True
    return data, False


def _actor() -> users.User:
    return current_user.user  # type: ignore[no-any-return]


class ActionForm(FlaskForm):
    """The buttons' forms: their CSRF token only."""


# --- the list -------------------------------------------------------------------------------


@bp.get("/users")
@admin_only
def users_index() -> Any:
    db, actor = get_db(), _actor()
    args = request.args
    page = args.get("page", "1")
    wanted = user_queries.UserFilter(
        text=(args.get("q") or "")[:100],
        of_role=role if (role := args.get("role", "")) in users.ROLES else "",
        unit=(args.get("unit") or "")[:20],
        status=status if (status := args.get("status", "")) in user_queries.STATUSES else "",
        page=int(page) if page.isdigit() and len(page) < 7 else 1,
    )
    found = user_queries.user_page(db, actor, wanted)
    return render_template(
        "admin/users/index.html",
        found=found,
        wanted=wanted,
        roles=users.ROLES,
        statuses=user_queries.STATUSES,
        units=user_queries.filter_units(db, actor),
        province=user_queries.administered_province(actor),
    )


# --- a new account --------------------------------------------------------------------------


def _new_page(form: FlaskForm, problems: dict[str, str], status: int, **extra: Any) -> Any:
    return render_template(
        "admin/users/new.html",
        form=form,
        fields=users.NEW_USER_FIELDS,
        unit_shown=request.form.get("unit-q", ""),
        problems=problems,
        refused=status == 422,
        **extra,
    ), status


@bp.route("/users/new", methods=["GET", "POST"])
@admin_only
def users_new() -> Any:
    db, actor = get_db(), _actor()
    if request.method == "GET":
        return _new_page(event_form(users.NEW_USER_FIELDS, None, {}), {}, 200)
    data, unpicked = _unit_code(request.form)
    form = event_form(users.NEW_USER_FIELDS, data, {})
    if not form.validate():
        abort(400)  # the CSRF token (the fields are checked by clean() below)
    if unpicked:
        return _new_page(form, _attach(form, {"unit": "not picked from the list"}), 422)
    typed = payload(users.NEW_USER_FIELDS, form)
    try:
        values = clean(users.NEW_USER_FIELDS, typed)
        password = values.get("password") or users.temporary_password()
        user = users.create_user(
            db,
            values["username"],
            values["role"],
            password,
            unit_code=values.get("unit"),
            agency_kind=values.get("agency"),
            full_name=values.get("full_name", ""),
            email=values.get("email", ""),
            actor=actor,
            must_change_password=True,
        )
    except ValidationError as error:
        return _new_page(form, _attach(form, error.errors), 422)
    return render_template(
        "admin/users/created.html",
        username=user.username,
        password=None if values.get("password") else password,
    )


@bp.get("/users/units")
@admin_only
def users_units() -> Any:
    """The unit typeahead's options: provinces and communes the actor may place users at."""
    text = (request.args.get("unit-q") or "")[:100]
    found = user_queries.find_units(get_db(), _actor(), text)
    return render_template("admin/users/_units.html", units=found, text=text)


# --- one account ----------------------------------------------------------------------------


def _edit_form(detail: dict[str, Any], formdata: MultiDict[str, str] | None) -> FlaskForm:
    form = event_form(users.EDIT_USER_FIELDS, formdata, {})
    if formdata is None:
        form.full_name.data = detail["full_name"]
        form.email.data = detail["email"]
        form.role.data = detail["role"]
        form.unit.data = detail["unit_code"] or ""
        form.agency.data = detail["agency"] or ""
        form.version.data = str(detail["version"])
    return form


def _detail_page(
    username: str,
    form: FlaskForm | None = None,
    status: int = 200,
    problems: dict[str, str] | None = None,
    **extra: Any,
) -> Any:
    db, actor = get_db(), _actor()
    try:
        detail = user_queries.user_detail(db, actor, username)
    except NotFound:
        abort(404)
    form = form or _edit_form(detail, None)
    shown = (
        request.form.get("unit-q")
        if request.method == "POST" and "unit-q" in request.form
        else None
    )
    return render_template(
        "admin/users/detail.html",
        user=detail,
        form=form,
        fields=[spec for spec in users.EDIT_USER_FIELDS if spec.name != "version"],
        unit_shown=shown if shown is not None else (detail["unit_name"] or ""),
        problems=problems or {},
        token_form=extra.pop("token_form", None) or event_form(users.NEW_TOKEN_FIELDS, None, {}),
        token_fields=users.NEW_TOKEN_FIELDS,
        action_form=ActionForm(),
        is_self=detail["username"] == actor.username,
        **extra,
    ), status


@bp.route("/users/<username>", methods=["GET", "POST"])
@admin_only
def users_detail(username: str) -> Any:
    if request.method == "GET":
        return _detail_page(username)
    db, actor = get_db(), _actor()
    data, unpicked = _unit_code(request.form)
    form = event_form(users.EDIT_USER_FIELDS, data, {})
    if not form.validate():
        abort(400)
    if unpicked:
        return _detail_page(
            username, form, 422, _attach(form, {"unit": "not picked from the list"})
        )
    try:
        values = clean(users.EDIT_USER_FIELDS, payload(users.EDIT_USER_FIELDS, form))
        users.update_user(
            db,
            username,
            values["version"],
            values["role"],
            unit_code=values.get("unit"),
            agency_kind=values.get("agency"),
            full_name=values.get("full_name", ""),
            email=values.get("email", ""),
            actor=actor,
        )
    except NotFound:
        abort(404)
    except ValidationError as error:
        return _detail_page(username, form, 422, _attach(form, error.errors))
    except Conflict:
        return _detail_page(username, None, 409, {"": str(STALE)})
    except PermissionDenied as error:
        return _detail_page(username, form, 403, {"": _refusal(error)})
    flash(_l("The changes were saved."), "success")
    return redirect(url_for("admin.users_detail", username=username))


def _action(username: str, command: Any, done: Any) -> Any:
    """A button's POST: CSRF, the command, then back to the account with what happened."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        command()
    except (NotFound, ValidationError):  # no such user (a name too long is none)
        abort(404)
    except PermissionDenied as error:
        return _detail_page(username, None, 403, {"": _refusal(error)})
    flash(done, "success")
    return redirect(url_for("admin.users_detail", username=username))


@bp.post("/users/<username>/disable")
@admin_only
def users_disable(username: str) -> Any:
    return _action(
        username,
        lambda: users.set_active(get_db(), username, False, actor=_actor()),
        _l("The account is disabled: its sessions ended and its tokens are refused."),
    )


@bp.post("/users/<username>/enable")
@admin_only
def users_enable(username: str) -> Any:
    return _action(
        username,
        lambda: users.set_active(get_db(), username, True, actor=_actor()),
        _l("The account is enabled."),
    )


@bp.post("/users/<username>/unlock")
@admin_only
def users_unlock(username: str) -> Any:
    return _action(
        username,
        lambda: users.unlock(get_db(), username, actor=_actor()),
        _l("The account is unlocked."),
    )


@bp.post("/users/<username>/reset-two-factor")
@admin_only
def users_reset_two_factor(username: str) -> Any:
    return _action(
        username,
        lambda: twofactor.reset(get_db(), username, actor=_actor()),
        _l("Two-step sign-in is off; the user enrols again if the role requires it."),
    )


@bp.post("/users/<username>/reset-password")
@admin_only
def users_reset_password(username: str) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        temporary = users.reset_password(get_db(), username, actor=_actor())
    except (NotFound, ValidationError):
        abort(404)
    except PermissionDenied as error:
        return _detail_page(username, None, 403, {"": _refusal(error)})
    return _detail_page(username, temporary_password=temporary)


# --- an account's API tokens ----------------------------------------------------------------


@bp.post("/users/<username>/tokens")
@admin_only
def users_token_new(username: str) -> Any:
    db, actor = get_db(), _actor()
    form = event_form(users.NEW_TOKEN_FIELDS, request.form, {})
    if not form.validate():
        abort(400)
    try:
        values = clean(users.NEW_TOKEN_FIELDS, payload(users.NEW_TOKEN_FIELDS, form))
        token = users.create_token(
            db,
            username,
            actor=actor,
            name=values["name"],
            expires_on=date.fromisoformat(values["expires_on"]),
        )
    except NotFound:
        abort(404)
    except ValidationError as error:
        return _detail_page(username, None, 422, _attach(form, error.errors), token_form=form)
    return _detail_page(username, created_token=token)


@bp.post("/users/<username>/tokens/<id:token_id>/revoke")
@admin_only
def users_token_revoke(username: str, token_id: int) -> Any:
    return _action(
        username,
        lambda: users.revoke_token(get_db(), token_id, actor=_actor(), username=username),
        _l("The token was revoked."),
    )
