"""The platform database layer against a real PostgreSQL (the embedded one)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_migrations_twice_change_nothing(platform_db):
    from telltale.platform import migrate

    before = platform_db.query("SELECT version, checksum, applied_at FROM platform.schema_migrations ORDER BY 1")
    assert before, "the stack applied no migrations"
    assert migrate.apply_all() == []
    after = platform_db.query("SELECT version, checksum, applied_at FROM platform.schema_migrations ORDER BY 1")
    assert before == after


def test_a_changed_migration_is_refused(platform_db, tmp_path):
    from telltale.platform import migrate

    (tmp_path / "0001_platform.sql").write_text("SELECT 1;")
    with pytest.raises(migrate.MigrationError, match="changed after it was applied"):
        migrate.apply_all(tmp_path)


def test_failed_migration_leaves_nothing_behind(platform_db, tmp_path):
    from telltale.platform import migrate

    sql = "CREATE TABLE platform.half_done (id int); SELECT * FROM no_such_table;"
    (tmp_path / "9990_broken.sql").write_text(sql)
    for m in migrate.discover():  # pretend the real ones are in this folder too
        (tmp_path / m.path.name).write_text(m.sql)
    with pytest.raises(Exception, match="no_such_table"):
        migrate.apply_all(tmp_path)
    assert platform_db.query_one("SELECT to_regclass('platform.half_done') AS t")["t"] is None
    assert platform_db.query_one("SELECT 1 AS x FROM platform.schema_migrations WHERE version = '9990_broken'") is None


def test_transaction_rolls_back_on_error(platform_db):
    platform_db.query("CREATE TABLE IF NOT EXISTS platform.tx_probe (id int PRIMARY KEY)")
    with pytest.raises(RuntimeError), platform_db.transaction() as tx:
        tx.run("INSERT INTO platform.tx_probe VALUES (1)")
        raise RuntimeError("boom")
    assert platform_db.query("SELECT * FROM platform.tx_probe WHERE id = 1") == []
    platform_db.query("DROP TABLE platform.tx_probe")


def test_reconnects_after_the_server_restarts(tmp_path, monkeypatch):
    """A connection broken by a server restart is replaced on the next call (a warm Lambda must recover)."""
    from telltale.platform import config, db
    from telltale_local.pg import EmbeddedPostgres

    pg = EmbeddedPostgres(tmp_path / "pg")
    pg.init()
    pg.start()
    try:
        pg.bootstrap()
        monkeypatch.setenv("TELLTALE_DB_PORT", str(pg.port))
        monkeypatch.setenv("TELLTALE_DB_PASSWORD", pg.password())
        config.reset_settings()
        db.reset()
        assert db.query("SELECT 1 AS one") == [{"one": 1}]
        first_pid = db.query_one("SELECT pg_backend_pid() AS pid")["pid"]
        pg.stop()
        pg.start()
        assert db.query("SELECT 2 AS two") == [{"two": 2}]  # retried once on a fresh connection
        assert db.query_one("SELECT pg_backend_pid() AS pid")["pid"] != first_pid
    finally:
        db.reset()
        monkeypatch.undo()
        config.reset_settings()
        pg.stop()
