from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from casework.services.users import create_token
from config import TestConfig
from tests.pg_cluster import free_port
from web import create_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(db):
    return create_app(TestConfig, db=db)


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


class Api:
    def __init__(self, client: FlaskClient, db: Any, people: Any) -> None:
        self.client, self.db, self.people = client, db, people
        self.tokens: dict[str, str] = {}

    def headers(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            self.tokens[username] = create_token(self.db, username)
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def post(self, path: str, username: str, body: Any = None, **kwargs: Any):
        return self.client.post(
            f"/api/v1{path}", json=body, headers=self.headers(username), **kwargs
        )

    def get(self, path: str, username: str):
        return self.client.get(f"/api/v1{path}", headers=self.headers(username))


@pytest.fixture
def api(client, db, people) -> Api:
    return Api(client, db, people)


@pytest.fixture
def server(db, db_url, tmp_path) -> Iterator[str]:
    port = free_port()
    # As the README's run command serves it: gunicorn, with one in-process scheduler.
    env = {
        **os.environ,
        "CASEWORK_INSTANCE_DIR": str(tmp_path),
        "CASEWORK_AUDIT_KEY": "test-audit-key",
        "CASEWORK_SCHEDULER": "1",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "casework.cli",
            "--database-url",
            db_url,
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "server down"
            time.sleep(0.3)
    yield base
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser_page() -> Iterator[Any]:
    """A page of Debian's Chromium, headless, driven by Playwright."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if os.environ.get("CASEWORK_REQUIRE_BROWSER"):
            pytest.fail("Debian's chromium is missing: ./scripts/test installs it")
        pytest.skip("Debian's chromium is not installed (./scripts/test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        yield page
        browser.close()
