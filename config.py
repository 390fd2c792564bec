"""Settings read from the environment.

`Config` is what the application and the CLI use; `TestConfig` is for the test suite.
Every setting has a sensible default so that `casework` runs with nothing configured.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("CASEWORK_INSTANCE_DIR", BASE_DIR / "instance"))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _default_secret() -> str:
    """A per-installation secret kept in instance/ so that sessions survive restarts.

    Production sets CASEWORK_SECRET_KEY; this fallback keeps the embedded default usable.
    """
    path = INSTANCE_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    import secrets

    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


class Config:
    #: SQLAlchemy URL. SQLite (WAL) by default; PostgreSQL in production:
    #: postgresql+psycopg://user:password@host/dbname
    DATABASE_URL: str = os.environ.get(
        "CASEWORK_DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'casework.sqlite3'}"
    )
    SECRET_KEY: str = os.environ.get("CASEWORK_SECRET_KEY") or _default_secret()
    #: Key of the audit chain's HMAC. Defaults to SECRET_KEY; set it separately in production
    #: and keep it outside the database so that a database writer cannot forge the chain.
    AUDIT_KEY: str = os.environ.get("CASEWORK_AUDIT_KEY", "") or SECRET_KEY
    TIMEZONE: str = os.environ.get("CASEWORK_TIMEZONE", "Asia/Ho_Chi_Minh")
    #: End of office hours: an N-working-day deadline falls due then on its last day.
    OFFICE_CLOSE: str = os.environ.get("CASEWORK_OFFICE_CLOSE", "17:00")
    BABEL_DEFAULT_LOCALE: str = os.environ.get("CASEWORK_DEFAULT_LOCALE", "vi")
    LANGUAGES: tuple[str, ...] = ("vi", "en")
    #: Start one in-process scheduler (sweep + mail) in the web server. Leave off when
    #: `casework worker` runs; either way only one process per server runs it.
    SCHEDULER: bool = _env_bool("CASEWORK_SCHEDULER", False)
    SWEEP_INTERVAL_SECONDS: int = int(os.environ.get("CASEWORK_SWEEP_INTERVAL", "60"))
    #: Links in notifications point here.
    BASE_URL: str = os.environ.get("CASEWORK_BASE_URL", "http://127.0.0.1:5000")
    SMTP_HOST: str = os.environ.get("CASEWORK_SMTP_HOST", "")
    SMTP_PORT: int = int(os.environ.get("CASEWORK_SMTP_PORT", "25"))
    SMTP_USERNAME: str = os.environ.get("CASEWORK_SMTP_USERNAME", "")
    SMTP_PASSWORD: str = os.environ.get("CASEWORK_SMTP_PASSWORD", "")
    SMTP_STARTTLS: bool = _env_bool("CASEWORK_SMTP_STARTTLS", False)
    MAIL_FROM: str = os.environ.get("CASEWORK_MAIL_FROM", "casework@localhost")
    WTF_CSRF_ENABLED: bool = True
    #: Cookies only over TLS. On by default when BASE_URL is https (the production setup:
    #: gunicorn behind a TLS proxy); the session and remember-me cookies follow it.
    SECURE_COOKIES: bool = _env_bool("CASEWORK_SECURE_COOKIES", BASE_URL.startswith("https://"))
    SESSION_COOKIE_HTTPONLY: bool = True
    SESSION_COOKIE_SAMESITE: str = "Lax"
    REMEMBER_COOKIE_HTTPONLY: bool = True
    REMEMBER_COOKIE_SAMESITE: str = "Lax"
    #: A web session ends after this long without a request, and this long after sign-in.
    SESSION_IDLE_MINUTES: int = int(os.environ.get("CASEWORK_SESSION_IDLE_MINUTES", "30"))
    SESSION_MAX_HOURS: int = int(os.environ.get("CASEWORK_SESSION_MAX_HOURS", "8"))
    #: Administrators and province staff must sign in with a second factor (TOTP); who
    #: must is casework/scope.py's `must_use_two_factors`. Not an environment setting.
    TWO_FACTOR_REQUIRED: bool = True
    TESTING: bool = False
    #: The earliest receipt time a report may give: a number of days before now, or a date
    #: (YYYY-MM-DD). A receipt starts the statutory clocks, so one from years ago opens a
    #: case that is overdue and escalates at once; a window relative to today keeps catching
    #: a mistyped year (2016 for 2026) as the years pass, which a fixed date would not.
    #: 90 days covers a paper report forwarded late; set a date to enter older records.
    EARLIEST_RECEIPT: str = os.environ.get("CASEWORK_EARLIEST_RECEIPT", "90")
    #: The largest request body accepted (413 beyond): a plan of 100 measures of 2,000
    #: characters fits in about 600 kB.
    MAX_CONTENT_LENGTH: int = int(os.environ.get("CASEWORK_MAX_BODY_BYTES", str(1024 * 1024)))


class TestConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = False
    SECRET_KEY = "test-secret"
    SECURE_COOKIES = False  # the test client speaks plain HTTP
    AUDIT_KEY = "test-audit-key"
    #: The page tests sign in province and admin users with a password alone; the
    #: two-factor tests (tests/e2e/test_accounts.py) switch this back on.
    TWO_FACTOR_REQUIRED = False
