"""Internal: the tenant's own schema in the platform database, no secret needed.

Each run is a READ ONLY transaction on the platform connection that switches (SET LOCAL ROLE) to the
tenant's reader role, which can read only the tenant's schema, and forces ``search_path`` to that schema.
The guard has already refused other schemas and catalog lookups; the role is the layer that holds even if
the guard missed something. Everything is undone by the ROLLBACK that ends the run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from telltale import db, tenancy
from telltale.connectors.base import Limits, Prepared, Result, execution_error
from telltale.connectors.postgres import db_error_message, run_limited
from telltale.errors import QueryExecutionError, TelltaleError

if TYPE_CHECKING:
    import pg8000.native

_lock = threading.Lock()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_reader_role(tenant_id: str) -> str:
    """Create (idempotently) the tenant's reader role and grant it read access to its schema only."""
    role = tenancy.reader_role_for(tenant_id)
    schema = tenancy.schema_for(tenant_id)
    with _lock, db.transaction() as tx:
        # Serialise role setup across processes: concurrent GRANTs on one role can conflict.
        tx.run("SELECT pg_advisory_xact_lock(hashtext(:r))", r=role)
        if not tx.run("SELECT 1 FROM pg_roles WHERE rolname = :r", r=role):
            tx.run(f"CREATE ROLE {_ident(role)} NOLOGIN NOINHERIT")
        me = tx.run("SELECT current_user")[0][0]
        tx.run(f"GRANT {_ident(role)} TO {_ident(me)}")
        tx.run(f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {_ident(role)}")
        tx.run(f"GRANT SELECT ON ALL TABLES IN SCHEMA {_ident(schema)} TO {_ident(role)}")
        # Tables the platform creates later in the schema are readable too.
        tx.run(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {_ident(schema)} GRANT SELECT ON TABLES TO {_ident(role)}")
    return role


class InternalConnector:
    driver = "internal"

    @contextmanager
    def session(self, tenant_id: str | None, tenant_schema: str | None, limits: Limits
                ) -> Iterator[pg8000.native.Connection]:
        """The platform connection inside a READ ONLY transaction, as the tenant's reader role, with
        ``search_path`` forced to the tenant's schema; rolled back after."""
        if not tenant_id or not tenant_schema:
            raise QueryExecutionError("Tenant schema required: call the API with a valid tenant/site",
                                      status_code=400)
        # One round trip says whether the schema exists and the reader role can use it; the role is set up
        # only when it cannot (first use, or a schema that was recreated and lost its grants).
        role = tenancy.reader_role_for(tenant_id)
        state = db.query_one(
            "SELECT n.oid IS NOT NULL AS schema_ok, CASE WHEN n.oid IS NULL OR r.oid IS NULL THEN false"
            " ELSE has_schema_privilege(r.oid, n.oid, 'USAGE') END AS role_ok"
            " FROM (SELECT 1) AS one LEFT JOIN pg_namespace n ON n.nspname = :s"
            " LEFT JOIN pg_roles r ON r.rolname = :r", s=tenant_schema, r=role)
        if state is None or not state["schema_ok"]:
            raise QueryExecutionError("Tenant schema required: this tenant has no schema yet; create an app first",
                                      status_code=400)
        import pg8000.exceptions

        if not state["role_ok"]:
            ensure_reader_role(tenant_id)
        conn = db.connection()
        try:
            conn.run("START TRANSACTION READ ONLY")
            # The SET LOCALs in one round trip: set_config(..., true) is SET LOCAL.
            conn.run("SELECT set_config('statement_timeout', :t, true), set_config('search_path', :p, true),"
                     " set_config('standard_conforming_strings', 'on', true), set_config('role', :r, true)",
                     t=str(int(limits.statement_timeout_s) * 1000), p=_ident(tenant_schema), r=role)
            yield conn
        except TelltaleError:
            raise
        except (pg8000.exceptions.DatabaseError, pg8000.exceptions.InterfaceError, OSError) as exc:
            raise execution_error(exc, {}, message=db_error_message(exc)) from None
        finally:
            try:
                conn.run("ROLLBACK")
            except Exception:  # noqa: BLE001 - a broken connection is replaced on next use
                db.reset()

    def execute(self, prepared: Prepared, limits: Limits) -> Result:
        with self.session(prepared.tenant_id, prepared.tenant_schema, limits) as conn:
            return run_limited(conn, prepared.text, limits)


CONNECTOR = InternalConnector()
