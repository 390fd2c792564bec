"""`casework sweep`, `casework deadlines upcoming` and `casework worker`."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from casework.cli import main
from casework.models import FiredRung
from tests.helpers import case_in, open_case

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(db, db_url):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(
            main, ["--database-url", db_url, *args], env={"CASEWORK_AUDIT_KEY": "test-audit-key"}
        )

    return invoke


def test_sweep_prints_a_json_summary(run, db, people) -> None:
    open_case(db, people, received_at="2027-03-01T08:00:00+07:00")
    early = run("sweep", "--now", "2027-03-01T08:30:00+07:00")
    assert early.exit_code == 0
    assert json.loads(early.output) == {"reminded": 0, "overdue": 0, "escalated": 0, "notified": 0}
    late = json.loads(run("sweep", "--now", "2027-03-03T00:00:00+07:00").output)
    assert late["reminded"] == late["overdue"] == late["escalated"] == 2  # two clocks
    assert late["notified"] > 0
    again = json.loads(run("sweep", "--now", "2027-03-03T00:00:00+07:00").output)
    assert again["reminded"] + again["overdue"] + again["escalated"] == 0


@pytest.mark.parametrize("bad", ["tomorrow", "2027-13-01T00:00:00"])
def test_sweep_rejects_a_bad_now(run, bad) -> None:
    result = run("sweep", "--now", bad)
    assert result.exit_code == 2 and "--now" in result.output


def test_upcoming_lists_what_will_breach(run, db, people) -> None:
    case_in(db, people, "specific_assessment", received_at="2027-03-11T10:00:00+07:00")
    table = run("deadlines", "upcoming", "--days", "7", "--now", "2027-03-12T09:00:00+07:00")
    assert table.exit_code == 0, table.output
    assert "plan_drafting" in table.output and "officer" in table.output
    now = "2027-03-12T09:00:00+07:00"

    def upcoming(*args: str) -> list[dict]:
        return json.loads(run("deadlines", "upcoming", "--now", now, "--json", *args).output)

    # Plan submission is due 18/3, approval 22/3 (five and seven working days).
    week = upcoming("--days", "7")
    assert [(r["step"], r["assignee"], r["count"]) for r in week] == [
        ("plan_drafting", "officer", 1)
    ]
    fortnight = upcoming("--days", "14")
    assert [r["step"] for r in fortnight] == ["plan_drafting", "plan_approval"]
    assert upcoming("--days", "1") == []
    assert upcoming("--days", "14", "--unit", "48") == fortnight  # the whole province
    assert upcoming("--days", "14", "--unit", "00004") == []  # another province's commune
    overdue = json.loads(
        run(
            "deadlines", "upcoming", "--days", "0", "--now", "2027-03-19T09:00:00+07:00", "--json"
        ).output
    )
    assert [(r["step"], r["overdue"]) for r in overdue] == [("plan_drafting", 1)]


def test_upcoming_errors_name_the_option(run) -> None:
    assert "--unit" in run("deadlines", "upcoming", "--unit", "77777").output
    bad = run("deadlines", "upcoming", "--days", "-1")
    assert bad.exit_code == 2 and "--days" in bad.output


def start_worker(db_url: str, ignore: tuple[signal.Signals, ...] = ()) -> subprocess.Popen:
    """`casework worker --interval 1` in a subprocess; `ignore`: signals it inherits ignored
    (as from a shell that started it in the background)."""

    def inherit_ignored() -> None:
        for signum in ignore:
            signal.signal(signum, signal.SIG_IGN)

    env = {**os.environ, "CASEWORK_AUDIT_KEY": "test-audit-key", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "casework.cli",
            "--database-url",
            db_url,
            "worker",
            "--interval",
            "1",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=inherit_ignored,
    )


def wait_for_line(worker: subprocess.Popen, text: str, timeout: float = 60) -> list[str]:
    """Read the worker's stderr until a line contains `text`; the lines read so far."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in worker.stderr:
            lines.put(line)
            if text in line:
                return

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(text in line for line in seen):
        assert worker.poll() is None, f"worker exited: {seen}"
        try:
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(
                f"no {text!r} from the worker within {timeout} s: {seen}"
            ) from None
    return seen


def stop_worker(worker: subprocess.Popen, signum: signal.Signals) -> str:
    """Send `signum`; the worker must exit 0 within 10 s. Returns the rest of its stderr."""
    worker.send_signal(signum)
    try:
        _, err = worker.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.communicate()
        raise AssertionError(f"worker still running 10 s after {signum.name}") from None
    assert worker.returncode == 0, err
    return err


def test_worker_ticks_the_sweep_until_stopped(db, db_url, people) -> None:
    # A clock long overdue: the worker's first tick fires its whole ladder.
    open_case(db, people, received_at="2026-01-05T08:00:00+07:00")
    worker = start_worker(db_url)
    try:
        wait_for_line(worker, "sweeping every 1 s")
        deadline = time.monotonic() + 60
        fired = 0
        while time.monotonic() < deadline and fired < 6:
            time.sleep(0.5)
            with db.uow(readonly=True) as uow:
                fired = uow.session.scalar(sa.select(sa.func.count(FiredRung.id)))
        assert fired == 6  # two clocks × three rungs
        time.sleep(2.5)  # more ticks: nothing fires twice
        with db.uow(readonly=True) as uow:
            assert uow.session.scalar(sa.select(sa.func.count(FiredRung.id))) == 6
    finally:
        err = stop_worker(worker, signal.SIGTERM)
    assert "casework worker: stopped" in err


@pytest.mark.parametrize(
    ("signum", "inherited_ignored"),
    [
        (signal.SIGTERM, ()),
        (signal.SIGTERM, (signal.SIGTERM, signal.SIGINT)),
        (signal.SIGINT, ()),
        (signal.SIGINT, (signal.SIGINT,)),
    ],
    ids=["sigterm", "sigterm-inherited-ignored", "sigint", "sigint-inherited-ignored"],
)
def test_worker_stops_cleanly_on_a_stop_signal(
    db, db_url, people, signum, inherited_ignored
) -> None:
    # Overdue clocks: the first tick (started at once) may still be running at the signal.
    open_case(db, people, received_at="2026-01-05T08:00:00+07:00")
    worker = start_worker(db_url, ignore=inherited_ignored)
    try:
        wait_for_line(worker, "sweeping every 1 s")
    except BaseException:
        worker.kill()
        worker.communicate()
        raise
    err = stop_worker(worker, signum)
    assert f"{signum.name} received" in err
    assert err.rstrip().endswith("casework worker: stopped")
