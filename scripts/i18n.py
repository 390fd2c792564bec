"""Translations for developers: `update` extracts the UI strings and lists those still
without Vietnamese; `set FILE.json` fills them ({"msgid": "msgstr"}) and compiles.

    .venv/bin/python scripts/i18n.py update
    .venv/bin/python scripts/i18n.py set /tmp/vi.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "web/translations/vi/LC_MESSAGES/messages.po"
BIN = Path(sys.executable).parent


def run(*args: str) -> None:
    subprocess.run([str(BIN / args[0]), *args[1:]], cwd=ROOT, check=True, capture_output=True)


def update() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        pot = f"{tmp}/messages.pot"
        run("pybabel", "extract", "-F", "web/babel.cfg", "-k", "_l", "-o", pot, "web")
        run("pybabel", "update", "-i", pot, "-d", "web/translations", "--ignore-obsolete")
    with PO.open("rb") as handle:
        catalog = read_po(handle)
    return [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]


def fill(path: str) -> None:
    given = json.loads(Path(path).read_text(encoding="utf-8"))
    with PO.open("rb") as handle:
        catalog = read_po(handle)
    for message in catalog:
        if message.id in given:
            message.string = given[message.id]
            message.flags.discard("fuzzy")
    with PO.open("wb") as handle:
        write_po(handle, catalog, width=0)
    run("pybabel", "compile", "-d", "web/translations")


if __name__ == "__main__":
    if sys.argv[1:2] == ["update"]:
        missing = update()
        run("pybabel", "compile", "-d", "web/translations")
        print(json.dumps({m: "" for m in missing}, ensure_ascii=False, indent=1))
    elif sys.argv[1:2] == ["set"] and len(sys.argv) == 3:
        fill(sys.argv[2])
        left = update()
        run("pybabel", "compile", "-d", "web/translations")
        print("still untranslated:", left)
    else:
        sys.exit(__doc__)
