"""The house rules that keep the layers apart and the code tidy, checked on every run."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports_of(package: str) -> list[tuple[str, str]]:
    found = []
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.append((str(path.relative_to(ROOT)), node.module))
    return found


@pytest.mark.parametrize("package", ["casework", "workflows"])
def test_domain_never_imports_flask_or_web(package: str) -> None:
    offenders = [
        (f, m)
        for f, m in imports_of(package)
        if m.split(".")[0] in {"flask", "flask_login", "flask_wtf", "flask_babel", "web"}
    ]
    assert offenders == []


def test_workflows_never_touch_the_database() -> None:
    offenders = [
        (f, m) for f, m in imports_of("workflows") if m.split(".")[0] in {"sqlalchemy", "casework"}
    ]
    assert offenders == []


def test_ruff_lint_and_format() -> None:
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout
    fmt = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout


def test_mypy_on_the_domain() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
