"""Sweepers in separate processes: four at once, and one killed with SIGKILL mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from casework.deadlines import sweep
from casework.models import AuditEvent, Deadline, FiredRung, Notification
from tests.conftest import at
from tests.helpers import open_case

ROOT = Path(__file__).resolve().parents[2]
NOW = at("2027-03-10T00:00:00")
LADDER = [
    {
        "name": "reminded",
        "at_fraction": 0.75,
        "offset": 0,
        "offset_unit": None,
        "notify": ["province"],
    },
    {
        "name": "overdue",
        "at_fraction": 1.0,
        "offset": 0,
        "offset_unit": None,
        "notify": ["province"],
    },
    {
        "name": "escalated",
        "at_fraction": None,
        "offset": 24,
        "offset_unit": "hours",
        "notify": ["province"],
    },
]


def seed_due_rungs(db, people, deadlines: int) -> int:
    """`deadlines` open clocks whose three rungs are all due at NOW (bulk, for speed)."""
    # Cases in two provinces, interleaved: batches span two audit chains.
    cases = [
        open_case(
            db,
            people,
            received_at="2027-03-01T08:00:00+07:00",
            auto_transfer=False,
            incident_unit_code="20194" if n % 2 else "00004",
            child={"full_name": f"Trẻ {n}", "sex": "male", "age_years": 8},
        )["id"]
        for n in range(10)
    ]
    anchor = at("2027-03-01T08:00:00")
    rows = [
        {
            "case_id": cases[n % len(cases)],
            "rule": "initial_assessment",
            "step": "initial_assessment",
            "cycle": 1,
            "anchor_at": anchor,
            "due_at": anchor + timedelta(hours=12),
            "duration": 12,
            "unit": "hours",
            "legal_source": "test",
            "status": "open",
            "late": False,
            "created_at": anchor,
            "ladder": LADDER,
            "next_rung": 0,
            "next_fire_at": anchor + timedelta(hours=9),
        }
        for n in range(deadlines)
    ]
    with db.uow() as uow:
        uow.session.execute(sa.delete(Deadline))  # only the seeded clocks
        uow.session.execute(sa.insert(Deadline), rows)
        uow.commit()
    return deadlines * len(LADDER)


def assert_each_rung_exactly_once(db, expected: int) -> None:
    with db.uow(readonly=True) as uow:
        keys = list(uow.session.execute(sa.select(FiredRung.deadline_id, FiredRung.rung_index)))
        assert len(keys) == len(set(keys)) == expected
        audited = uow.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action.like("deadline.%"))
        )
        notified = uow.session.scalar(sa.select(sa.func.count(Notification.id)))
        remaining = uow.session.scalar(
            sa.select(sa.func.count(Deadline.id)).where(Deadline.next_fire_at.is_not(None))
        )
    assert audited == expected  # every rung is an audit event
    assert notified == expected  # one province user per rung, in each province
    assert remaining == 0


def cli(db_url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CASEWORK_AUDIT_KEY": "test-audit-key", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "casework.cli", "--database-url", db_url, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_four_sweeper_processes_fire_each_rung_exactly_once(db, people, db_url, backend) -> None:
    if backend != "postgresql":
        pytest.skip("SKIP LOCKED across processes is the PostgreSQL path")
    expected = seed_due_rungs(db, people, 700)
    procs = [cli(db_url, "sweep", "--now", NOW.isoformat(), "--batch-size", "50") for _ in range(4)]
    summaries = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        summaries.append(json.loads(out))
    fired = sum(s["reminded"] + s["overdue"] + s["escalated"] for s in summaries)
    assert fired == expected
    assert sum(1 for s in summaries if s["reminded"] + s["overdue"] + s["escalated"]) >= 2
    assert_each_rung_exactly_once(db, expected)


VICTIM = """
import sys, time
from casework.db import Database, Settings
from casework.deadlines import sweep
from casework.clock import parse_iso
db = Database(sys.argv[1], Settings(audit_key=b"test-audit-key"))
marker, count = sys.argv[3], [0]
def hook(rung):
    count[0] += 1
    if count[0] == 250:  # mid-way through the second batch (50 clocks = 150 rungs a batch)
        open(marker, "w").close()
        time.sleep(120)
sweep(db, parse_iso(sys.argv[2]), batch_size=50, on_rung=hook)
"""


@pytest.mark.slow
def test_sweeper_killed_mid_batch_leaves_nothing_half_done(db, people, db_url, tmp_path) -> None:
    expected = seed_due_rungs(db, people, 200)
    marker = tmp_path / "mid-batch"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    victim = subprocess.Popen(
        [sys.executable, "-c", VICTIM, db_url, NOW.isoformat(), str(marker)],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert victim.poll() is None, victim.stderr.read() if victim.stderr else ""
        assert time.monotonic() < deadline, "the victim never reached the middle of a batch"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    with db.uow(readonly=True) as uow:
        survived = uow.session.scalar(sa.select(sa.func.count(FiredRung.id)))
    assert survived == 150  # the first batch committed; the killed one left nothing
    counts = sweep(db, NOW)
    assert sum(v for k, v in counts.items() if k != "notified") == expected - survived
    assert_each_rung_exactly_once(db, expected)


def test_sweep_uses_the_next_fire_index(db, people, backend) -> None:
    if backend != "postgresql":
        pytest.skip("query plans are PostgreSQL's")
    seed_due_rungs(db, people, 3000)
    with db.engine.begin() as conn:
        # Most clocks are not due: only a few rungs are, as in production.
        conn.execute(
            sa.update(Deadline)
            .where(Deadline.id % 100 != 0)
            .values(next_fire_at=NOW + timedelta(days=30))
        )
        conn.exec_driver_sql("ANALYZE deadlines")
        from casework.deadlines import due_deadlines_query

        compiled = (
            due_deadlines_query(NOW, 200)
            .with_for_update(skip_locked=True)
            .compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        )
        plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
    assert "ix_deadlines_next_fire" in plan, plan
    assert "Seq Scan" not in plan, plan
