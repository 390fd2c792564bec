"""The tick: APScheduler runs the sweep, mail delivery and audit sealing on an interval.

Deadlines live in the database; the scheduler holds no state of its own, so any number of
workers may tick at once (the sweep fires each rung once regardless) and a restarted worker
simply carries on.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from casework import audit
from casework.clock import utcnow
from casework.db import Database
from casework.deadlines import sweep
from casework.notify import SmtpSettings, deliver

log = logging.getLogger("casework.scheduler")


#: The signals that stop `casework worker`: systemd's stop, and Ctrl-C.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def tick(db: Database, smtp: SmtpSettings, stop: threading.Event | None = None) -> dict[str, Any]:
    """One round: sweep what is due, then send what is pending.

    Works in batches, each its own transaction; when `stop` is set it returns after the
    batch in progress (committed), leaving the rest to the next tick of whichever process
    runs one. A process killed mid-batch loses nothing either: the batch's transaction rolls
    back and its rungs stay due."""
    stop = stop or threading.Event()
    now = utcnow()
    fired: Counter[str] = Counter()
    while not stop.is_set():
        batch = sweep(db, now, max_batches=1)
        fired.update(batch)
        if not any(count for name, count in batch.items() if name != "notified"):
            break
    sent: Counter[str] = Counter({"sent": 0, "retry": 0, "failed": 0})
    for _ in range(MAIL_CHUNKS):
        if stop.is_set():
            break
        chunk = deliver(db, smtp, now, limit=MAIL_CHUNK)
        sent.update(chunk)
        if sum(chunk.values()) < MAIL_CHUNK:
            break
    return {"fired": dict(fired), "mail": dict(sent)}


#: Mail per tick: at most MAIL_CHUNKS × MAIL_CHUNK messages, a stop is honoured between chunks.
MAIL_CHUNK = 10
MAIL_CHUNKS = 10


def seal(db: Database) -> None:
    with db.uow() as uow:
        audit.seal(uow.session, uow.settings.audit_key, utcnow(), only_if_changed=True)
        uow.commit()


def _add_jobs(
    scheduler: Any,
    db: Database,
    smtp: SmtpSettings,
    interval: int,
    echo: Callable[[str], None],
    stop: threading.Event,
) -> None:
    def job() -> None:
        try:
            result = tick(db, smtp, stop)
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
    """`casework worker`: runs until SIGTERM or SIGINT, then stops cleanly and returns.

    The handlers are installed here whatever the dispositions this process inherited (a
    process started in the background by a non-interactive shell inherits SIGINT ignored, so
    Python's KeyboardInterrupt is never raised). The jobs run on the scheduler's threads; this
    (main) thread only waits for a stop, so a signal never lands inside a job."""
    from apscheduler.schedulers.background import BackgroundScheduler

    stop = threading.Event()
    received: list[int] = []

    def request_stop(signum: int, frame: object) -> None:
        received.append(signum)
        stop.set()

    previous = {signum: signal.signal(signum, request_stop) for signum in STOP_SIGNALS}
    scheduler = BackgroundScheduler(timezone="UTC", daemon=False)
    try:
        _add_jobs(scheduler, db, smtp, interval, echo, stop)
        scheduler.start()
        echo(f"casework worker: sweeping every {interval} s (Ctrl-C to stop)")
        while not stop.wait(timeout=1):
            pass
        name = signal.Signals(received[0]).name if received else "stop"
        echo(f"casework worker: {name} received, finishing the tick in progress")
    finally:
        stop.set()
        if scheduler.running:
            scheduler.shutdown(wait=True)  # no new ticks; waits for the one running
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    echo("casework worker: stopped")


_lock_handle: Any = None
_in_process: tuple[Any, threading.Event] | None = None


def start_in_process(db: Database, smtp: SmtpSettings, interval: int, lock_path: Path) -> bool:
    """Start a background scheduler in this process unless another process of this server
    already runs one (an exclusive file lock, held for the life of the process: gunicorn's
    workers race for it and one wins; if that worker dies, the next one started takes over).
    Returns whether this process runs it. It is stopped cleanly when the process exits
    (`stop_in_process`)."""
    global _lock_handle, _in_process
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

    stop = threading.Event()
    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    _add_jobs(scheduler, db, smtp, interval, log.info, stop)
    scheduler.start()
    _in_process = (scheduler, stop)
    # A gunicorn worker told to stop (SIGTERM, or the master stopping) leaves its loop and
    # exits the interpreter normally, which runs this. Registered with threading's exit hooks
    # (not atexit) so that it runs before concurrent.futures closes the scheduler's thread
    # pool: no tick is then handed to a closed pool. Falls back to atexit.
    register = getattr(threading, "_register_atexit", atexit.register)
    register(stop_in_process)
    return True


def stop_in_process() -> None:
    """Stop this process's in-process scheduler, if it runs one: no new ticks, the tick in
    progress ends after its batch, then the lock is released for the next process."""
    global _lock_handle, _in_process
    if _in_process is not None:
        scheduler, stop = _in_process
        _in_process = None
        stop.set()
        if scheduler.running:
            scheduler.shutdown(wait=True)
        log.info("in-process scheduler stopped")
    if _lock_handle is not None:
        handle, _lock_handle = _lock_handle, None
        handle.seek(0)
        handle.truncate()  # the pid in it no longer runs a scheduler
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
