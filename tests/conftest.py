"""Fixtures: every test that touches the database runs on SQLite and on PostgreSQL.

The PostgreSQL cluster is started once per session, only if a test asks for it, as an
unprivileged user on loopback (see tests/pg_cluster.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from casework import migrate
from casework.db import Database, Settings
from casework.models import AdministrativeUnit, Base, User
from casework.services.users import create_user
from tests.pg_cluster import PostgresCluster

BACKENDS = ("sqlite", "postgresql")
PASSWORD = "correct-horse-battery"
TEST_SETTINGS = Settings(audit_key=b"test-audit-key")

#: A small fixed set of units: two communes of Đà Nẵng (48), one of Hà Nội (01), and an
#: old (pre-2025) district and commune that historic cases keep.
UNITS = [
    # code, name, level, parent code, province, valid_from, valid_to
    ("48", "Thành phố Đà Nẵng", "province", None, "48", date(2025, 7, 1), None),
    ("20194", "Phường Hải Châu", "commune", "48", "48", date(2025, 7, 1), None),
    ("20197", "Phường Thanh Khê", "commune", "48", "48", date(2025, 7, 1), None),
    ("01", "Thành phố Hà Nội", "province", None, "01", date(2025, 7, 1), None),
    ("00004", "Phường Ba Đình", "commune", "01", "01", date(2025, 7, 1), None),
    ("490", "Huyện Hoà Vang (cũ)", "district", "48", "48", date(1997, 1, 1), date(2025, 6, 30)),
    ("20308", "Xã Hoà Bắc (cũ)", "commune", "490", "48", date(1997, 1, 1), date(2025, 6, 30)),
]
HOME, NEIGHBOUR, HANOI = "20194", "20197", "00004"


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """Argon2 with production cost makes every test user take ~50 ms; tests need no cost."""
    from argon2 import PasswordHasher

    from casework.services import users

    production = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    users._hasher = production


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster | None]:
    if os.environ.get("CASEWORK_TEST_PG_URL"):
        yield None
        return
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


_migrated: dict[str, str] = {}


def _database_url(backend: str, request: pytest.FixtureRequest, name: str = "casework_test") -> str:
    key = f"{backend}:{name}"
    if key in _migrated:
        return _migrated[key]
    if backend == "sqlite":
        folder = request.getfixturevalue("tmp_path_factory").mktemp("sqlite")
        url = f"sqlite:///{Path(folder) / f'{name}.sqlite3'}"
    else:
        cluster = request.getfixturevalue("pg_cluster")
        if cluster is None:
            import psycopg

            base = sa.make_url(os.environ["CASEWORK_TEST_PG_URL"])
            with psycopg.connect(
                base.set(drivername="postgresql").render_as_string(False), autocommit=True
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                conn.execute(f'CREATE DATABASE "{name}"')
            url = base.set(database=name).render_as_string(False)
        else:
            url = cluster.create_database(name)
    migrate.upgrade(url)
    _migrated[key] = url
    return url


def _empty(database: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as conn:
        if database.is_sqlite:
            for table in tables:
                conn.exec_driver_sql(f'DELETE FROM "{table}"')
        else:
            conn.exec_driver_sql(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest) -> str:
    return _database_url(backend, request)


@pytest.fixture
def empty_db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, TEST_SETTINGS)
    _empty(database)
    yield database
    database.dispose()


@pytest.fixture
def db(empty_db: Database) -> Database:
    """A migrated, empty database with the test units loaded."""
    with empty_db.uow() as uow:
        ids: dict[str, int] = {}
        for code, name, level, parent, province, valid_from, valid_to in UNITS:
            unit = AdministrativeUnit(
                code=code,
                name=name,
                level=level,
                parent_id=ids.get(parent) if parent else None,
                province_code=province,
                valid_from=valid_from,
                valid_to=valid_to,
            )
            uow.session.add(unit)
            uow.session.flush()
            ids[code] = unit.id
        uow.commit()
    return empty_db


class People:
    """One user of each role: the actors of a test."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._users: dict[str, User] = {}

    def make(
        self, username: str, role: str, unit: str | None = None, agency: str | None = None
    ) -> User:
        user = create_user(self.db, username, role, PASSWORD, unit_code=unit, agency_kind=agency)
        self._users[username] = user
        return user

    def __getitem__(self, username: str) -> User:
        return self._users[username]


@pytest.fixture
def people(db: Database) -> People:
    crowd = People(db)
    crowd.make("intake", "intake", "48")
    crowd.make("intake.111", "intake")
    crowd.make("officer", "officer", HOME)
    crowd.make("chair", "chair", HOME)
    crowd.make("officer.2", "officer", NEIGHBOUR)
    crowd.make("chair.2", "chair", NEIGHBOUR)
    crowd.make("officer.hn", "officer", HANOI)
    crowd.make("province", "province", "48")
    crowd.make("province.hn", "province", "01")
    crowd.make("police", "agency", HOME, "police")
    crowd.make("police.2", "agency", NEIGHBOUR, "police")
    crowd.make("admin", "admin")
    return crowd


def report_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "kind": "abuse_report",
        "channel": "hotline_111",
        "received_at": "2027-02-03T09:00:00+07:00",
        "reporter": {"name": "Người báo tin", "relation": "neighbour"},
        "child": {
            "full_name": "Nguyễn Thị Lan",
            "sex": "female",
            "birth_date": "2018-05-01",
            "unit_code": HOME,
            "address": "Tổ 5",
        },
        "incident_unit_code": HOME,
        "abuse_types": ["violence"],
        "environment": "family",
        "description": "Hàng xóm nghe tiếng trẻ khóc và bị đánh.",
    }
    payload.update(overrides)
    return payload


def at(text: str) -> datetime:
    """A moment written in Vietnam local time, returned in UTC."""
    from zoneinfo import ZoneInfo

    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    return value.astimezone(UTC)
