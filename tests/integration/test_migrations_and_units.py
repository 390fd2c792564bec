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
        context = MigrationContext.configure(conn)
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
