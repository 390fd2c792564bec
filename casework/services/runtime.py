"""What a server process starts with: its Database, and the in-process scheduler. The web
app wires itself through here (web/ imports nothing of casework but services and errors).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from casework.db import Database, Settings
from casework.notify import SmtpSettings
from casework.scheduler import start_in_process

__all__ = ["Database", "open_database", "smtp_settings", "start_scheduler"]


def open_database(url: str, config: Any) -> Database:
    """The database at `url`, with the domain's settings read from `config` (an object with
    AUDIT_KEY, TIMEZONE, OFFICE_CLOSE and BASE_URL attributes)."""
    return Database(url, Settings.from_config(config))


def smtp_settings(config: Any) -> SmtpSettings:
    """The mail server, from `config` (an object with SMTP_* and MAIL_FROM attributes)."""
    return SmtpSettings(
        host=config.SMTP_HOST,
        port=config.SMTP_PORT,
        username=config.SMTP_USERNAME,
        password=config.SMTP_PASSWORD,
        starttls=config.SMTP_STARTTLS,
        sender=config.MAIL_FROM,
    )


def start_scheduler(db: Database, config: Any, interval: int, lock_path: Path) -> bool:
    """Start the tick in this process unless another process of the server holds
    `lock_path` (casework/scheduler.py). Returns whether this process runs it."""
    return start_in_process(db, smtp_settings(config), interval, lock_path)
