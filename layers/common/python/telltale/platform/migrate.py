"""Ordered SQL migrations, applied idempotently by one command (``telltale migrate``).

Files are ``migrations/NNNN_name.sql`` and run in name order, each in its own transaction, under an
advisory lock so that two starters cannot race. A file already applied is skipped; a file whose content
changed after it was applied is an error (write a new migration instead).

Number ranges keep the surfaces out of each other's way: 0001-0099 platform, 0100-0199 saved queries,
0200-0299 events and SaaS metrics, 0300-0399 usage analytics, 0400-0499 API request analytics.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from telltale.platform import db

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x7E11_7A1E


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    return [Migration(p.stem, p) for p in sorted(directory.glob("*.sql"))]


class MigrationError(RuntimeError):
    pass


def apply_all(directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; return the versions applied now."""
    conn = db.connection()
    conn.run("SELECT pg_advisory_lock(:k)", k=_LOCK_KEY)
    try:
        conn.run("CREATE SCHEMA IF NOT EXISTS platform")
        conn.run(
            "CREATE TABLE IF NOT EXISTS platform.schema_migrations ("
            " version text PRIMARY KEY, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = dict(conn.run("SELECT version, checksum FROM platform.schema_migrations"))
        done: list[str] = []
        for migration in discover(directory):
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version} changed after it was applied; add a new file instead"
                    )
                continue
            with db.transaction() as tx:
                tx.run(migration.sql)
                tx.run(
                    "INSERT INTO platform.schema_migrations (version, checksum) VALUES (:v, :c)",
                    v=migration.version, c=migration.checksum,
                )
            done.append(migration.version)
        return done
    finally:
        conn.run("SELECT pg_advisory_unlock(:k)", k=_LOCK_KEY)
