"""The tick: APScheduler runs the sweep, mail delivery and audit sealing on an interval.

Deadlines live in the database; the scheduler holds no state of its own, so any number of
workers may tick at once (the sweep fires each rung once regardless) and a restarted worker
simply carries on.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from casework import audit
from casework.clock import utcnow
from casework.db import Database
from casework.deadlines import sweep
from casework.notify import SmtpSettings, deliver

log = logging.getLogger("casework.scheduler")


def tick(db: Database, smtp: SmtpSettings) -> dict[str, Any]:
    """One round: sweep what is due, then send what is pending."""
    now = utcnow()
    fired = sweep(db, now)
    sent = deliver(db, smtp, now)
    return {"fired": fired, "mail": sent}


def seal(db: Database) -> None:
    with db.uow() as uow:
        audit.seal(uow.session, uow.settings.audit_key, utcnow(), only_if_changed=True)
        uow.commit()


def _add_jobs(
    scheduler: Any, db: Database, smtp: SmtpSettings, interval: int, echo: Callable[[str], None]
) -> None:
    def job() -> None:
        try:
            result = tick(db, smtp)
        except Exception:  # keep ticking; the next round retries everything
            log.exception("tick failed")
            return
        if result["fired"] or any(result["mail"].values()):
            echo(f"tick: {result}")

    common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": interval}
    scheduler.add_job(
        job, "interval", seconds=interval, id="tick", next_run_time=utcnow(), **common
    )
    # Every minute: a removal re-linked by hand is caught by the next seal (see audit.py).
    scheduler.add_job(seal, "interval", minutes=1, args=[db], id="seal", **common)


def run_blocking(
    db: Database, smtp: SmtpSettings, interval: int, echo: Callable[[str], None] = print
) -> None:
    """`casework worker`: runs until stopped."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone="UTC")
    _add_jobs(scheduler, db, smtp, interval, echo)
    echo(f"casework worker: sweeping every {interval} s (Ctrl-C to stop)")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()


_lock_handle: Any = None


def start_in_process(db: Database, smtp: SmtpSettings, interval: int, lock_path: Path) -> bool:
    """Start a background scheduler in this process unless another process of this server
    already runs one (an exclusive file lock, held for the life of the process: gunicorn's
    workers race for it and one wins; if that worker dies, the next one started takes over).
    Returns whether this process runs it."""
    global _lock_handle
    if _lock_handle is not None:
        return True
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return False
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    _lock_handle = handle
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    _add_jobs(scheduler, db, smtp, interval, log.info)
    scheduler.start()
    return True
