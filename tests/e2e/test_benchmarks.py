"""The benchmark scripts still run and print their figures (a few seconds each, not for
reading: the figures of a real run are in ARCHITECTURE.md, "Speed")."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_transitions_benchmark_prints_its_rates_and_ratios() -> None:
    out = run("transitions", "--seconds", "1", "--warmup", "0.5", "--clients", "2")
    rate = float(re.search(r"casework transitions/s .*?([0-9.]+)\n", out).group(1))
    tps = float(re.search(r"pgbench defaults \(scale 1\):\s+([0-9.]+)", out).group(1))
    ratio = float(re.search(r"ratio \(goal >= 0.5\):\s+([0-9.]+)", out).group(1))
    assert rate > 0 and tps > 0
    assert ratio == pytest.approx(rate / tps, abs=0.01)


@pytest.mark.slow
def test_sweep_benchmark_prints_its_ratio() -> None:
    out = run("sweep", "--repeat", "1", "--small", "100", "--big", "1000")
    ratios = dict(re.findall(r"(postgresql|sqlite) .*ratio\s+([0-9.]+)", out))
    assert set(ratios) == {"postgresql", "sqlite"}, out
    assert all(float(value) > 0 for value in ratios.values())


@pytest.mark.slow
def test_pages_benchmark_prints_its_ratios() -> None:
    out = run("pages", "--small", "60", "--big", "120", "--repeat", "1")
    rows = dict(
        re.findall(
            r"^  (case list|my work|search child name)\s+[0-9.]+\s+[0-9.]+\s+([0-9.]+)$", out, re.M
        )
    )
    assert set(rows) == {"case list", "my work", "search child name"}, out
    assert all(float(ratio) > 0 for ratio in rows.values())


@pytest.mark.slow
def test_dashboard_benchmark_prints_its_ratios() -> None:
    out = run("dashboard", "--small", "200", "--big", "400", "--repeat", "1")
    rows = dict(
        re.findall(
            r"^  (hand SQL|overview\(\)|GET /dashboard|charts recount)\s+[0-9.]+\s+[0-9.]+\s+([0-9.]+)$",
            out,
            re.M,
        )
    )
    assert set(rows) == {"hand SQL", "overview()", "GET /dashboard", "charts recount"}, out
    ratios = re.findall(r"overview\(\) / hand SQL at [0-9,]+: ([0-9.]+)", out)
    assert len(ratios) == 2 and all(float(r) > 0 for r in ratios), out
