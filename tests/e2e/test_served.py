"""`casework serve` (gunicorn, as the README's run command uses it) answers over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from casework import migrate
from tests.pg_cluster import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_served_app_answers_login_and_health(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    migrate.upgrade(url)
    port = free_port()
    env = {**os.environ, "CASEWORK_INSTANCE_DIR": str(tmp_path), "CASEWORK_SCHEDULER": "1"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "casework.cli",
            "--database-url",
            url,
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as response:
            page = response.read().decode()
        assert "Đăng nhập" in page and "/static/casework.css" in page
        # One of the two workers holds the scheduler lock; it names its process.
        lock = tmp_path / "scheduler.lock"
        deadline = time.monotonic() + 20
        while not (lock.exists() and lock.read_text().strip()):
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
