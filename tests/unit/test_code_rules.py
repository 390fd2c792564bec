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


#: What web/ may import of casework: the services (reads in queries.py, commands beside
#: them, app wiring in runtime.py) and the errors they raise. And casework.labels: the one
#: catalogue of words for states, events, steps and roles — data without behaviour or
#: database, which pages and notification texts must read alike (a service passing it
#: through would add nothing).
WEB_MAY_IMPORT = ("casework.services", "casework.errors", "casework.labels")


def test_web_imports_only_services_and_errors() -> None:
    """web/ reaches casework through its services (and their errors) only: never a model,
    the database, scope, the clock or the scheduler directly — imports inside functions
    included. (workflows/ is not casework: definitions the pages may read.)"""
    offenders = []
    for path in (ROOT / "web").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module == "casework":
                names = [f"casework.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            else:
                continue
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] == "casework"
                and not any(name == ok or name.startswith(ok + ".") for ok in WEB_MAY_IMPORT)
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


def test_every_permission_decision_is_in_scope() -> None:
    """Who may do or see what is decided in casework/scope.py alone: an actor's role is
    compared nowhere else (SQL on `User.role`, choosing recipients, is not a permission)."""
    import re

    offenders = []
    for package in ("casework", "web", "workflows"):
        for path in (ROOT / package).rglob("*.py"):
            name = str(path.relative_to(ROOT))
            if name == "casework/scope.py" or name.startswith("casework/models/"):
                continue
            for node in ast.walk(ast.parse(path.read_text(), name)):
                if not isinstance(node, ast.Compare):
                    continue
                for side in (node.left, *node.comparators):
                    if (
                        isinstance(side, ast.Attribute)
                        and side.attr == "role"
                        and not (isinstance(side.value, ast.Name) and side.value.id == "User")
                    ):
                        offenders.append(f"{name}:{node.lineno}")
    compared = re.compile(r"\.role\s*(==|!=|\bin\b|\bnot in\b)")
    for path in (ROOT / "web" / "templates").rglob("*.html"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if compared.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_casework_has_no_import_cycles() -> None:
    """No module of casework/ depends on itself through others — counting the imports made
    inside functions, which only hide a cycle from the interpreter, not from the reader.
    `from package import name` counts as importing `package.name` when that is a module."""
    modules = {_module_name(path): path for path in (ROOT / "casework").rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:  # relative: from this package, `level - 1` packages up
                    parts = package.split(".")
                    source = ".".join([*parts[: len(parts) - node.level + 1], source]).strip(".")
                targets = [source, *(f"{source}.{alias.name}" for alias in node.names)]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}

    cycles: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            cycles.append([*trail[trail.index(module) :], module])
            return
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, [*trail, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles)
