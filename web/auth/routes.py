"""Sign in (password, then a second factor where one is on) and out, change one's password,
two-factor enrolment (Flask-Login over server-side sessions, Flask-WTF forms with CSRF).

A signed-in user who must change their password (after an administrator's reset) or must
enrol a second factor (administrators and province staff) is sent to that page from every
other page until it is done."""

from __future__ import annotations

import time
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
from wtforms import IntegerField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange

from casework.errors import NotFound, ValidationError
from casework.services import sessions, twofactor
from casework.services.users import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    TOKEN_DAYS,
    TOKEN_MAX_DAYS,
    SignInResult,
    User,
    authenticate,
    change_password,
    complete_sign_in,
    create_token,
    list_tokens,
    revoke_token,
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


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code"), validators=[DataRequired(REQUIRED), Length(max=32, message=TOO_LONG)]
    )
    submit = SubmitField(_l("Continue"))


class EnrolForm(FlaskForm):
    code = StringField(
        _l("Code from the app"),
        validators=[DataRequired(REQUIRED), Length(max=32, message=TOO_LONG)],
    )
    submit = SubmitField(_l("Turn on two-step sign-in"))


class RenewCodesForm(FlaskForm):
    submit = SubmitField(_l("Make new recovery codes"))


class DisableForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(REQUIRED), Length(max=MAX_PASSWORD_LENGTH, message=TOO_LONG)],
    )
    submit = SubmitField(_l("Turn off two-step sign-in"))


class TokenForm(FlaskForm):
    days = IntegerField(
        _l("Valid for (days)"),
        default=TOKEN_DAYS,
        validators=[
            InputRequired(REQUIRED),
            NumberRange(
                min=1,
                max=TOKEN_MAX_DAYS,
                message=_l("A whole number from %(min)d to %(max)d.", min=1, max=TOKEN_MAX_DAYS),
            ),
        ],
    )
    submit = SubmitField(_l("Create a token"))


class RevokeForm(FlaskForm):
    submit = SubmitField(_l("Revoke"))


#: One message for an unknown name, a wrong password and a locked account: the page tells
#: nobody which names exist.
SIGN_IN_FAILED = _l(
    "Wrong username or password. After repeated failures an account is locked for a while."
)
#: How long the second step waits after a right password.
PENDING_SECONDS = 300
#: Pages a signed-in user may open while a password change or an enrolment is owed.
ALWAYS_OPEN = {
    "auth.logout",
    "auth.set_language",
    "auth.login",
    "static",
    "bootstrap.static",
    "healthz",
}


def _require_two_factor(user: User) -> bool:
    return bool(current_app.config.get("TWO_FACTOR_REQUIRED", True)) and twofactor.must_use(user)


@bp.before_app_request
def owed_steps() -> Any:
    """Send a user who owes a password change or a two-factor enrolment to that page."""
    endpoint = request.endpoint or ""
    if endpoint in ALWAYS_OPEN or endpoint.startswith("api.") or not current_user.is_authenticated:
        return None
    user = current_user.user
    if user.must_change_password:
        return None if endpoint == "auth.password" else redirect(url_for("auth.password"))
    if _require_two_factor(user) and not twofactor.is_enrolled(user):
        return None if endpoint == "auth.two_factor" else redirect(url_for("auth.two_factor"))
    return None


def _sign_in(user: User, factor: str) -> Any:
    token = complete_sign_in(get_db(), user, factor)
    _fresh_session()  # a new session id, nothing kept from before sign-in
    login_user(SessionUser(user, token))
    return redirect(url_for("cases.index"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("cases.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        answer = authenticate(get_db(), form.username.data or "", form.password.data or "")
        if answer.result == SignInResult.OK and answer.user is not None:
            if not twofactor.is_enrolled(answer.user):
                return _sign_in(answer.user, "password")
            _fresh_session()
            session["pending_sign_in"] = {"user": answer.user.id, "at": int(time.time())}
            return redirect(url_for("auth.second_factor"))
        flash(SIGN_IN_FAILED, "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


def _pending_user_id() -> int | None:
    pending = session.get("pending_sign_in")
    if not isinstance(pending, dict):
        return None
    started, user_id = pending.get("at"), pending.get("user")
    if not isinstance(started, int) or not isinstance(user_id, int):
        return None
    if not 0 <= time.time() - started < PENDING_SECONDS:
        session.pop("pending_sign_in", None)
        return None
    return user_id


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor() -> Any:
    """The second step: a code from the authenticator app, or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("cases.index"))
    user_id = _pending_user_id()
    if user_id is None:
        return redirect(url_for("auth.login"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        answer = twofactor.verify_second_factor(get_db(), user_id, form.code.data or "")
        if answer.result == SignInResult.OK and answer.user is not None:
            return _sign_in(answer.user, answer.factor)
        if answer.result == SignInResult.LOCKED:
            session.pop("pending_sign_in", None)
            flash(SIGN_IN_FAILED, "error")
            return redirect(url_for("auth.login"))
        form.code.errors = [_l("This code is wrong or was used already.")]
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/second_factor.html", form=form), status


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def two_factor() -> Any:
    """Two-step sign-in: enrol (scan the QR code, confirm a code), or see it is on."""
    db = get_db()
    user = current_user.user
    if twofactor.is_enrolled(user):
        return render_template(
            "auth/two_factor.html",
            enrolled=True,
            unused=twofactor.unused_recovery_codes(db, user.id),
            may_disable=not twofactor.must_use(user),
            renew_form=RenewCodesForm(),
            disable_form=DisableForm(),
        )
    form = EnrolForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = twofactor.confirm_enrolment(db, user.id, form.code.data or "")
        except ValidationError:
            form.code.errors = [_l("This is not the code the app shows now.")]
            status = 400
        else:
            return render_template("auth/recovery_codes.html", codes=codes)
    elif request.method == "POST":
        status = 400
    secret = twofactor.begin_enrolment(db, user.id)
    return render_template(
        "auth/two_factor.html",
        enrolled=False,
        form=form,
        secret=secret,
        qr=twofactor.qr_svg_data_uri(twofactor.provisioning_uri(secret, user.username)),
        required=_require_two_factor(user),
    ), status


@bp.post("/account/two-factor/recovery-codes")
@login_required
def renew_recovery_codes() -> Any:
    if not RenewCodesForm().validate_on_submit():
        return redirect(url_for("auth.two_factor"))
    if not twofactor.is_enrolled(current_user.user):
        return redirect(url_for("auth.two_factor"))
    codes = twofactor.new_recovery_codes(get_db(), current_user.user.id)
    return render_template("auth/recovery_codes.html", codes=codes)


@bp.post("/account/two-factor/disable")
@login_required
def disable_two_factor() -> Any:
    form = DisableForm()
    user = current_user.user
    if not twofactor.is_enrolled(user):
        return redirect(url_for("auth.two_factor"))
    if form.validate_on_submit():
        try:
            twofactor.disable_own(get_db(), user.id, form.current_password.data or "")
        except ValidationError:
            form.current_password.errors = [_l("This is not your current password.")]
        else:
            flash(_l("Two-step sign-in is off."), "info")
            return redirect(url_for("auth.two_factor"))
    return render_template(
        "auth/two_factor.html",
        enrolled=True,
        unused=twofactor.unused_recovery_codes(get_db(), user.id),
        may_disable=not twofactor.must_use(user),
        renew_form=RenewCodesForm(),
        disable_form=form,
    ), 400


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
            if "current_password" in error.errors:
                form.current_password.errors = [_l("This is not your current password.")]
            elif "new_password" in error.errors:
                form.new_password.errors = [_l("Choose a password other than the current one.")]
            else:
                raise
            status = 400
        else:
            flash(_l("Your password was changed; you were signed out everywhere else."), "info")
            return redirect(url_for("cases.index"))
    elif request.method == "POST":
        status = 400
    return render_template(
        "auth/password.html", form=form, forced=current_user.user.must_change_password
    ), status


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens() -> Any:
    """One's own API tokens: create one (shown once), see them, revoke one."""
    db = get_db()
    user = current_user.user
    form = TokenForm()
    status, created = 200, None
    if form.validate_on_submit():
        created = create_token(db, user.username, days=int(form.days.data or TOKEN_DAYS))
    elif request.method == "POST":
        status = 400
        if form.days.raw_data and (form.days.raw_data[0] or "").strip():
            # WTForms' "Not a valid integer value." has no Vietnamese: one message of ours.
            form.days.errors = [
                _l("A whole number from %(min)d to %(max)d.", min=1, max=TOKEN_MAX_DAYS)
            ]
    return render_template(
        "auth/tokens.html",
        form=form,
        created=created,
        rows=list_tokens(db, user.username),
        revoke_form=RevokeForm(),
    ), status


@bp.post("/account/tokens/<id:token_id>/revoke")
@login_required
def revoke(token_id: int) -> Any:
    if RevokeForm().validate_on_submit():
        try:
            revoke_token(get_db(), token_id, actor=current_user.user)
        except NotFound:
            return render_template("error.html", status=404, message=_l("No such token.")), 404
        flash(_l("The token was revoked."), "info")
    return redirect(url_for("auth.tokens"))


@bp.get("/lang/<code>")
def set_language(code: str) -> Any:
    if code in ("vi", "en"):
        session["lang"] = code
    # Back to the page the link was on, if it is one of ours; never to another site.
    return redirect(local_path(request.referrer) or url_for("cases.index"))
