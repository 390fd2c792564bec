"""`casework serve` (gunicorn, as the README's run command uses it) answers over real HTTP,
and exactly one of its workers runs the scheduler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from tests.e2e.conftest import ROOT
from tests.pg_cluster import free_port


def test_served_app_answers_login_and_one_worker_runs_the_scheduler(server, tmp_path) -> None:
    with urllib.request.urlopen(f"{server}/login", timeout=5) as response:
        page = response.read().decode()
    assert "Đăng nhập" in page and "/static/casework.css" in page
    lock = tmp_path / "scheduler.lock"
    deadline = time.monotonic() + 20
    while not (lock.exists() and lock.read_text().strip().isdigit()):
        assert time.monotonic() < deadline, "no worker took the scheduler lock"
        time.sleep(0.2)


def test_stopping_the_server_stops_its_scheduler_cleanly(db, db_url, tmp_path) -> None:
    """SIGTERM to gunicorn: each worker leaves its loop and exits; the one running the
    scheduler shuts it down (the tick in progress ends) and gives the lock back."""
    port = free_port()
    env = {
        **os.environ,
        "CASEWORK_INSTANCE_DIR": str(tmp_path),
        "CASEWORK_AUDIT_KEY": "test-audit-key",
        "CASEWORK_SCHEDULER": "1",
        "CASEWORK_SWEEP_INTERVAL": "1",
    }
    command = [sys.executable, "-m", "casework.cli", "--database-url", db_url]
    with open(tmp_path / "server.log", "w") as log:
        server = subprocess.Popen(
            [*command, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    lock = tmp_path / "scheduler.lock"
    try:
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip().isdigit()):
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "no worker took the scheduler lock"
            time.sleep(0.2)
        time.sleep(1.5)  # a tick or two
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0, (tmp_path / "server.log").read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert lock.read_text() == ""  # the scheduler's worker stopped it before exiting
