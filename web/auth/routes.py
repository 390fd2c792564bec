"""Sign in and out, change one's password (Flask-Login over server-side sessions, Flask-WTF
forms with CSRF)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from casework.errors import ValidationError
from casework.services import sessions
from casework.services.users import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    User,
    authenticate,
    change_password,
)
from web import get_db, login_manager
from web.security import local_path

bp = Blueprint("auth", __name__)


class SessionUser(UserMixin):
    """The signed-in user as Flask-Login sees it; the casework User rides along.

    Its id, the one Flask-Login keeps in the session cookie, is the server-side session's
    token, not the user's id: the cookie opens nothing once that session has ended."""

    def __init__(self, user: User, token: str) -> None:
        self.user = user
        self.token = token
        self.locale = user.locale

    def get_id(self) -> str:
        return self.token

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def role(self) -> str:
        return self.user.role


@login_manager.user_loader
def load_user(token: str) -> SessionUser | None:
    config = current_app.config
    user = sessions.resolve(
        get_db(),
        token,
        idle=timedelta(minutes=int(config["SESSION_IDLE_MINUTES"])),
        absolute=timedelta(hours=int(config["SESSION_MAX_HOURS"])),
    )
    return SessionUser(user, token) if user is not None else None


def _fresh_session() -> None:
    """Drop everything the cookie held (a sign-in starts clean) but the chosen language."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


# WTForms ships no Vietnamese: our validators carry their own translated messages.
REQUIRED = _l("This field is required.")
TOO_LONG = _l("Too long.")


class LoginForm(FlaskForm):
    username = StringField(
        _l("Username"), validators=[DataRequired(REQUIRED), Length(max=80, message=TOO_LONG)]
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(REQUIRED), Length(max=MAX_PASSWORD_LENGTH, message=TOO_LONG)],
    )
    submit = SubmitField(_l("Sign in"))


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(REQUIRED), Length(max=MAX_PASSWORD_LENGTH, message=TOO_LONG)],
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(REQUIRED),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=_l(
                    "Between %(min)d and %(max)d characters.",
                    min=MIN_PASSWORD_LENGTH,
                    max=MAX_PASSWORD_LENGTH,
                ),
            ),
        ],
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(REQUIRED),
            EqualTo("new_password", message=_l("The two new passwords differ.")),
        ],
    )
    submit = SubmitField(_l("Change password"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("cases.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(get_db(), form.username.data or "", form.password.data or "")
        if user is not None:
            token = sessions.start(get_db(), user)
            _fresh_session()
            login_user(SessionUser(user, token))
            return redirect(url_for("cases.index"))
        flash(_l("Wrong username or password."), "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout() -> Any:
    token = current_user.token if current_user.is_authenticated else None
    logout_user()
    if token:
        sessions.end(get_db(), token)
    _fresh_session()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            change_password(
                get_db(),
                current_user.user.id,
                form.current_password.data or "",
                form.new_password.data or "",
                keep_session=current_user.token,
            )
        except ValidationError as error:
            if "current_password" not in error.errors:
                raise
            form.current_password.errors = [_l("This is not your current password.")]
            status = 400
        else:
            flash(_l("Your password was changed; you were signed out everywhere else."), "info")
            return redirect(url_for("cases.index"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/password.html", form=form), status


@bp.get("/lang/<code>")
def set_language(code: str) -> Any:
    if code in ("vi", "en"):
        session["lang"] = code
    # Back to the page the link was on, if it is one of ours; never to another site.
    return redirect(local_path(request.referrer) or url_for("cases.index"))
