"""Flask application factory. web/ calls casework services; never the other way round."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request, session
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l
from flask_bootstrap import Bootstrap5
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from casework.services import queries, runtime
from casework.services.runtime import Database
from web import inputs

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
bootstrap = Bootstrap5()


def get_db() -> Database:
    from flask import current_app

    return current_app.extensions["casework_db"]  # type: ignore[no-any-return]


def select_locale() -> str:
    from flask import current_app
    from flask_login import current_user

    languages = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in languages:
        return str(chosen)
    actor = getattr(g, "actor", None) or (current_user if current_user.is_authenticated else None)
    if actor is not None and getattr(actor, "locale", None) in languages:
        return str(actor.locale)
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def create_app(test_config: Any = None, db: Database | None = None) -> Flask:
    from config import Config

    app = Flask(__name__)
    app.config.from_object(Config)
    if test_config is not None:
        if isinstance(test_config, dict):
            app.config.from_mapping(test_config)
        else:
            app.config.from_object(test_config)
    if db is None:
        db = runtime.open_database(app.config["DATABASE_URL"], _AttrConfig(app.config))
    app.extensions["casework_db"] = db

    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # Flask-Login's "Please log in to access this page." in the reader's language.
    login_manager.login_message = _l("Please sign in to open this page.")
    login_manager.localize_callback = str  # the lazy text, in the request's language
    login_manager.login_message_category = "info"
    babel.init_app(app, locale_selector=select_locale)
    app.config.setdefault("BOOTSTRAP_SERVE_LOCAL", True)  # no CDN: every file from here
    bootstrap.init_app(app)
    inputs.init_app(app)  # the input gate and the `id` converter, before the blueprints

    from web import security

    security.register(app)

    from web.actions.routes import bp as actions_bp
    from web.admin import audit as _admin_audit  # noqa: F401 (registers its views on bp)
    from web.admin import settings as _admin_settings  # noqa: F401  (its views, on admin_bp)
    from web.admin import units as _admin_units  # noqa: F401 (registers its views on bp)
    from web.admin import users as _admin_users  # noqa: F401  (registers its views on admin_bp)
    from web.admin.routes import bp as admin_bp
    from web.api.routes import bp as api_bp
    from web.auth.routes import bp as auth_bp
    from web.cases.routes import bp as cases_bp
    from web.dashboard.routes import bp as dashboard_bp
    from web.inbox.routes import bp as inbox_bp
    from web.intake.routes import bp as intake_bp
    from web.tasks.routes import bp as tasks_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(actions_bp)
    app.register_blueprint(tasks_bp)
    app.register_blueprint(inbox_bp)
    app.register_blueprint(intake_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    csrf.exempt(api_bp)

    from web import errors
    from web.labels import (
        cite,
        countdown,
        days_left,
        label,
        localdate,
        localtime,
        rung_label,
        state_label,
    )

    errors.register(app)
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(localdate, "localdate")
    app.add_template_global(days_left, "days_left")
    app.add_template_global(state_label, "state_label")
    app.add_template_global(rung_label, "rung_label")
    app.add_template_global(label, "label")
    app.add_template_global(cite, "cite")
    app.add_template_global(countdown, "countdown")
    app.add_template_global(get_locale, "get_locale")

    @app.context_processor
    def unread() -> dict[str, Any]:
        from flask_login import current_user

        def count() -> int:
            if not current_user.is_authenticated:
                return 0
            if "unread" not in g:
                g.unread = queries.unread_count(db, current_user.user, items=True)
            return int(g.unread)

        return {"unread_count": count}

    if app.config.get("SCHEDULER"):
        start_scheduler(app, db)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def start_scheduler(app: Flask, db: Database) -> bool:
    """CASEWORK_SCHEDULER=1: one in-process scheduler per server (a file lock picks the one
    gunicorn worker that runs it). Returns whether this process runs it."""
    from pathlib import Path

    from config import INSTANCE_DIR

    config = app.config
    lock = Path(config.get("SCHEDULER_LOCK") or INSTANCE_DIR / "scheduler.lock")
    interval = int(config["SWEEP_INTERVAL_SECONDS"])
    started = runtime.start_scheduler(db, _AttrConfig(config), interval, lock)
    app.extensions["casework_scheduler"] = started
    return started


class _AttrConfig:
    """Flask's config (a dict) seen as the attribute object Settings.from_config expects."""

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        return self._mapping[name]
