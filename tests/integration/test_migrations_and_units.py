"""The schema comes only from Alembic, and matches the models; units load idempotently."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from casework import migrate
from casework.db import Database
from casework.models import AdministrativeUnit, Base
from casework.services.units import find_unit, load_2025_units
from tests.conftest import _database_url


def test_migrated_schema_matches_the_models(empty_db: Database) -> None:
    with empty_db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": migrate.include_object(conn.dialect.name)}
        )
        assert context.get_current_revision() is not None
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_on_an_empty_database_and_again_is_a_no_op(backend, request) -> None:
    url = _database_url(backend, request, name="casework_fresh")  # upgraded once already
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
    assert migrate.current(url) == head
    migrate.upgrade(url)  # again: nothing to do, nothing breaks
    assert migrate.current(url) == head
    engine = sa.create_engine(url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_downgrade_to_base_and_back(backend, request) -> None:
    url = _database_url(backend, request, name="casework_updown")
    migrate.downgrade(url, "base")
    assert migrate.current(url) is None
    migrate.upgrade(url)
    assert migrate.current(url) is not None


@pytest.mark.slow
def test_load_2025_units_is_complete_and_idempotent(empty_db: Database) -> None:
    first = load_2025_units(empty_db)
    assert (first["provinces"], first["communes"]) == (34, 3321)
    assert first["added"] == 34 + 3321
    second = load_2025_units(empty_db)
    assert second["added"] == 0 and second["updated"] == 0
    with empty_db.uow(readonly=True) as uow:
        assert uow.session.scalar(sa.select(sa.func.count(AdministrativeUnit.id))) == 3355
        hoan_kiem = find_unit(uow.session, "00070")
        assert hoan_kiem is not None and hoan_kiem.level == "commune"
        assert hoan_kiem.province_code == "01" and hoan_kiem.parent.code == "01"


def test_old_and_new_units_coexist(db: Database) -> None:
    from datetime import date

    with db.uow(readonly=True) as uow:
        old = find_unit(uow.session, "20308", on=date(2024, 1, 1))
        assert old is not None and old.parent.level == "district"
        assert find_unit(uow.session, "20308", on=date(2026, 1, 1)) is None
        assert find_unit(uow.session, "20194").level == "commune"


def test_events_written_before_0003_still_verify_and_still_catch_tampering(
    backend, request
) -> None:
    """An old database's audit trail (one HMAC per event over its predecessor) verifies
    after `db upgrade`, new events (MAC + link) continue the same chain, and a change to an
    old event is still named."""
    from datetime import UTC, datetime

    from casework import audit
    from casework.models import AuditEvent
    from tests.conftest import TEST_SETTINGS

    url = _database_url(backend, request, name="casework_legacy_audit")
    migrate.downgrade(url, "0002")
    key = TEST_SETTINGS.audit_key
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            prev = audit.GENESIS
            when = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
            for seq in (1, 2):
                event = AuditEvent(
                    chain="48",
                    seq=seq,
                    occurred_at=when,
                    actor_id=None,
                    actor="system",
                    action="case.read",
                    case_id=None,
                    summary={"n": seq},
                    prev_hash=prev,
                )
                event.hash = audit.legacy_event_hash(key, event)
                conn.execute(
                    sa.text(
                        "INSERT INTO audit_events (chain, seq, occurred_at, actor_id, actor, action,"
                        " case_id, summary, prev_hash, hash) VALUES ('48', :seq, :at, NULL,"
                        " 'system', 'case.read', NULL, :summary, :prev, :hash)"
                    ),
                    {
                        "seq": seq,
                        "at": when if backend == "postgresql" else "2026-01-05 03:00:00",
                        "summary": f'{{"n": {seq}}}',
                        "prev": prev,
                        "hash": event.hash,
                    },
                )
                prev = event.hash
            conn.execute(
                sa.text(
                    "INSERT INTO audit_chains (chain, seq, head_hash, updated_at)"
                    " VALUES ('48', 2, :head, :at)"
                ),
                {"head": prev, "at": when if backend == "postgresql" else "2026-01-05 03:00:00"},
            )
    finally:
        engine.dispose()
    migrate.upgrade(url)
    db = Database(url, TEST_SETTINGS)
    try:
        with db.uow() as uow:
            audit.record(
                uow.session,
                key,
                actor=None,
                action="case.read",
                now=datetime(2026, 2, 1, tzinfo=UTC),
                province_code="48",
            )
            uow.commit()
        with db.uow(readonly=True) as uow:
            result = audit.verify(uow.session, key)
            assert result.ok, result.problem
            assert result.count == 3
        with db.engine.begin() as conn:
            conn.execute(
                sa.update(AuditEvent).where(AuditEvent.seq == 1).values(actor="someone-else")
            )
        with db.uow(readonly=True) as uow:
            result = audit.verify(uow.session, key)
        assert not result.ok and "seq 1" in result.problem and "changed" in result.problem
    finally:
        db.dispose()


def test_0004_removes_invisible_characters_from_stored_names(backend, request) -> None:
    url = _database_url(backend, request, name="casework_names_0004")
    migrate.downgrade(url, "0003")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO children (full_name, name_key, sex, address, identifiers,"
                    " created_at) VALUES (:name, :key, 'female', '', '{}', :at)"
                ),
                {
                    "name": "Trần\u200b Thị Hà\ufeff",
                    "key": "tran\u200b thi ha\ufeff",
                    "at": "2026-01-05 03:00:00",
                },
            )
    finally:
        engine.dispose()
    migrate.upgrade(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT full_name, name_key FROM children")).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("Trần Thị Hà", "tran thi ha")
