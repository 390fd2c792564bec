"""`casework serve` (gunicorn, as the README's run command uses it) answers over real HTTP,
and exactly one of its workers runs the scheduler."""

from __future__ import annotations

import time
import urllib.request


def test_served_app_answers_login_and_one_worker_runs_the_scheduler(server, tmp_path) -> None:
    with urllib.request.urlopen(f"{server}/login", timeout=5) as response:
        page = response.read().decode()
    assert "Đăng nhập" in page and "/static/casework.css" in page
    lock = tmp_path / "scheduler.lock"
    deadline = time.monotonic() + 20
    while not (lock.exists() and lock.read_text().strip().isdigit()):
        assert time.monotonic() < deadline, "no worker took the scheduler lock"
        time.sleep(0.2)
