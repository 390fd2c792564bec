"""Sign in and out (Flask-Login sessions, Flask-WTF forms with CSRF)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from casework.models import User
from casework.services.users import authenticate, get_user
from web import get_db, login_manager

bp = Blueprint("auth", __name__)


class SessionUser(UserMixin):
    """The signed-in user as Flask-Login sees it; the casework User rides along."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.id = str(user.id)
        self.locale = user.locale

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def role(self) -> str:
        return self.user.role


@login_manager.user_loader
def load_user(user_id: str) -> SessionUser | None:
    if not user_id.isdigit():
        return None
    user = get_user(get_db(), int(user_id))
    return SessionUser(user) if user is not None and user.active else None


# WTForms ships no Vietnamese: our validators carry their own translated messages.
REQUIRED = _l("This field is required.")
TOO_LONG = _l("Too long.")


class LoginForm(FlaskForm):
    username = StringField(
        _l("Username"), validators=[DataRequired(REQUIRED), Length(max=80, message=TOO_LONG)]
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(REQUIRED), Length(max=200, message=TOO_LONG)]
    )
    submit = SubmitField(_l("Sign in"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("cases.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(get_db(), form.username.data or "", form.password.data or "")
        if user is not None:
            login_user(SessionUser(user))
            return redirect(url_for("cases.index"))
        flash(_l("Wrong username or password."), "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout() -> Any:
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def set_language(code: str) -> Any:
    if code in ("vi", "en"):
        session["lang"] = code
    return redirect(request.referrer or url_for("cases.index"))
