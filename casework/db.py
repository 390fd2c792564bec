"""Engine, sessions and the unit of work.

Every change goes through `UnitOfWork`: it commits only when told to and rolls back
otherwise, so a service that raises half-way leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from time import monotonic
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


@dataclass(frozen=True)
class Settings:
    """What the domain needs from configuration (the domain never reads Flask's config)."""

    audit_key: bytes = b"casework-development-audit-key"
    timezone: str = "Asia/Ho_Chi_Minh"
    office_close: time = time(17, 0)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Any) -> Settings:
        hours, minutes = (int(part) for part in str(config.OFFICE_CLOSE).split(":"))
        return cls(
            audit_key=str(config.AUDIT_KEY).encode(),
            timezone=str(config.TIMEZONE),
            office_close=time(hours, minutes),
            extra={"base_url": str(getattr(config, "BASE_URL", ""))},
        )


def is_sqlite(url: str | sa.URL) -> bool:
    return sa.make_url(url).get_backend_name() == "sqlite"


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the per-backend settings casework relies on.

    SQLite: WAL (readers never block the writer), foreign keys on, and write transactions
    that start with BEGIN IMMEDIATE, so that two writers queue up instead of failing half-way
    with "database is locked" when one upgrades its read lock. Read-only work can pass the
    execution option ``sqlite_begin="DEFERRED"``.
    """
    if is_sqlite(url):
        db_path = sa.make_url(url).database
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Hand transaction control to SQLAlchemy (pysqlite's own BEGIN is DEFERRED).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: sa.Connection) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = sa.create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


#: A pooled connection used less than this long ago is taken to be alive (HikariCP's
#: "alive bypass window"); one idle for longer is pinged before use.
PING_AFTER_IDLE = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling without a round trip per checkout under load: a
    connection that sat in the pool for over PING_AFTER_IDLE seconds is pinged, and a dead
    one makes the pool connect afresh (SQLAlchemy retries on DisconnectionError)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in_at")
        if since is not None and monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise sa.exc.DisconnectionError(f"pooled connection is dead: {error}") from error


#: How long statistics over months (the dashboard's charts) are kept before a recount.
STATS_SECONDS = 300.0


class TTLCache:
    """Province settings (deadline overrides, calendars) read on every event, kept briefly.

    Services that change those settings call `clear()`; other processes see a change
    within `ttl` seconds.
    """

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._items: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any, load: Any) -> Any:
        now = monotonic()
        hit = self._items.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = load()
        self._items[key] = (now, value)
        return value

    def clear(self) -> None:
        self._items.clear()


class Database:
    """One per process: the engine, a session factory and the domain settings."""

    def __init__(self, url: str, settings: Settings | None = None, **engine_kwargs: Any):
        self.url = url
        self.settings = settings or Settings()
        self.engine = create_db_engine(url, **engine_kwargs)
        self._engine_kwargs = engine_kwargs
        self._store_engine: Engine | None = None
        self.cache = TTLCache()
        # Statistics over months (the dashboard's charts), recounted every few minutes.
        self.stats_cache = TTLCache(ttl=STATS_SECONDS)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        # Reads need no write lock: on SQLite they begin DEFERRED (a WAL snapshot).
        self.read_session_factory = sessionmaker(
            self.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def store_engine(self) -> Engine:
        """The case store's connections (casework/casestore.py): on PostgreSQL, autocommit
        (each write is one statement)."""
        if self._store_engine is None:
            if self.is_sqlite:
                self._store_engine = self.engine
            else:
                # One connection per event or intake in flight: a smaller pool than the main one.
                options = {"pool_size": 5, "max_overflow": 10, **self._engine_kwargs}
                self._store_engine = create_db_engine(
                    self.url, **{**options, "isolation_level": "AUTOCOMMIT"}
                )

                @event.listens_for(self._store_engine, "connect")
                def _fast_json(dbapi_connection: Any, _record: Any) -> None:
                    import orjson
                    from psycopg.types.json import set_json_loads

                    set_json_loads(orjson.loads, dbapi_connection)

        return self._store_engine

    def uow(self, readonly: bool = False) -> UnitOfWork:
        return UnitOfWork(self, readonly=readonly)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._store_engine is not None:
            self._store_engine.dispose()


class UnitOfWork:
    """``with db.uow() as uow: ...; uow.commit()`` — rolls back unless committed."""

    session: Session

    def __init__(self, db: Database, readonly: bool = False) -> None:
        self.db = db
        self.settings = db.settings
        self.cache = db.cache
        self.readonly = readonly

    def __enter__(self) -> UnitOfWork:
        factory = self.db.read_session_factory if self.readonly else self.db.session_factory
        self.session = factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back what was not committed but, unlike rollback(), leaves loaded
        # objects readable after the unit of work (detached, not expired).
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    @property
    def dialect(self) -> str:
        return self.db.engine.dialect.name
