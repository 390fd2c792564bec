from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from casework.services.users import create_token
from config import TestConfig
from web import create_app


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
