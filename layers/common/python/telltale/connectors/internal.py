"""Internal: the tenant's own schema in the platform database, no secret needed.

Internal queries do not run on the platform's connection. Each tenant has its own LOGIN role
(``tenancy.reader_role_for``) that is a member of no role and holds CONNECT on this database, USAGE on its
schema and SELECT on the schema's tables (default privileges cover tables created later), nothing else;
migration 0002 revoked from PUBLIC what every role would otherwise get (the database's TEMPORARY, the
``public`` schema, the platform's schemas and functions). The query runs in a session of that role, so no
``SET ROLE``, ``set_config('role', ...)``, ``RESET ROLE``, ``SET SESSION AUTHORIZATION`` or SQL run from a
string (``query_to_xml``, ``ts_stat``, ...) reaches more than the role itself: the session user is the
tenant. The platform user is not a member of the tenant role either (since PostgreSQL 16 the role's
creator gets ADMIN on it, without INHERIT or SET: enough to reset its password, nothing more).

Passwords: a tenant role's password is ``HMAC-SHA256(platform database password, role name)``, so nothing
new is stored and nothing new has to be deployed; the platform sets it with ``ALTER ROLE ... PASSWORD`` as
a SCRAM verifier (the password itself never reaches the server's logs). When a login fails (role missing,
NOLOGIN, or a password that no longer matches because the platform password was rotated through
``TELLTALE_DB_SECRET_ARN``), the platform re-creates or re-sets the role and logs in once more: rotation
heals itself. The tenant never sees its password (it is computed here, the verifier sits in ``pg_authid``
which only superusers read). Locally the embedded server accepts these logins as any other (``host all
all 127.0.0.1/32 scram-sha-256``). Deployed, the platform connection goes through RDS Proxy, which only
admits users it holds a Secrets Manager secret for: tenant roles log in at ``TELLTALE_TENANT_DB_HOST``
(the instance or cluster endpoint; ``TELLTALE_DB_HOST`` when unset), reachable from the functions' VPC.

Each run is one transaction on a cached connection of the role: ``START TRANSACTION READ ONLY``, SET LOCAL
statement, lock and idle-in-transaction timeouts and ``search_path`` (the tenant's schema), the query,
``ROLLBACK``, then ``DISCARD ALL`` so that no advisory lock, prepared statement, temporary object,
LISTEN or setting survives into the next run; a connection whose clean-up fails is closed. Connections
are cached per process (a small LRU of idle ones, closed on eviction or failure) and keyed by role, so
one tenant's session never serves another. The guard has already refused other schemas and catalog
lookups; this layer holds even if it missed something.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from telltale.connectors.base import Limits, Prepared, Result, connector_error, execution_error
from telltale.connectors.postgres import db_error_message, run_limited
from telltale.platform import db, tenancy
from telltale.platform.errors import QueryExecutionError, TelltaleError

if TYPE_CHECKING:
    import pg8000.native

# Logins one tenant role may hold at once across every process: one tenant cannot take the server's
# connections from the others. Idle cached sessions count, so the role also closes sessions idle longer
# than IDLE_SESSION_S (a frozen Lambda's) on the server side.
CONNECTION_LIMIT = 20
IDLE_SESSION_S = 300
# SQLSTATEs of a login the platform can repair: 28P01 wrong password (or no such role), 28000 NOLOGIN.
_HEALABLE = {"28P01", "28000"}
_SCHEMA_REQUIRED = "Tenant schema required: this tenant has no schema yet; create an app first"

_lock = threading.Lock()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def role_password(role: str, key: str | None = None) -> str:
    """The tenant role's password, derived from the platform database password (nothing stored)."""
    key = key if key is not None else db.platform_password()
    if not key:
        raise QueryExecutionError("internal queries need the platform database password (TELLTALE_DB_PASSWORD "
                                  "or TELLTALE_DB_SECRET_ARN): tenant role passwords derive from it")
    return hmac.new(key.encode(), b"telltale-tenant-role:" + role.encode(), hashlib.sha256).hexdigest()


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of ``password`` (RFC 5802/7677, as ``pg_authid`` stores it)."""
    import base64

    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", hashlib.sha256).digest()).digest()
    server = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored)}:{b64(server)}"


def ensure_login_role(tenant_id: str) -> str:
    """Create or repair the tenant's login role: LOGIN with its derived password, member of nothing, no
    session defaults of its own making, CONNECT on this database and read access to its schema only.

    Raises the 400 "Tenant schema required" when the tenant has no schema yet."""
    role = tenancy.reader_role_for(tenant_id)
    schema = tenancy.schema_for(tenant_id)
    verifier = scram_verifier(role_password(role))  # base64 and '$:', safe inside '...'
    r = _ident(role)
    with _lock, db.transaction() as tx:
        # Serialise role setup across processes: concurrent GRANTs on one role can conflict.
        tx.run("SELECT pg_advisory_xact_lock(hashtext(:r))", r=role)
        if not tx.run("SELECT 1 FROM pg_namespace WHERE nspname = :s", s=schema):
            raise QueryExecutionError(_SCHEMA_REQUIRED, status_code=400)
        # The attributes the platform can grant at all (it has CREATEROLE, not CREATEDB or SUPERUSER, so it
        # can neither give those nor name them in ALTER ROLE): the role is made and kept without them.
        attributes = f"LOGIN NOINHERIT NOCREATEROLE CONNECTION LIMIT {CONNECTION_LIMIT}"
        if tx.run("SELECT 1 FROM pg_roles WHERE rolname = :r", r=role):
            tx.run(f"ALTER ROLE {r} {attributes} PASSWORD '{verifier}'")
        else:
            tx.run(f"CREATE ROLE {r} {attributes} NOCREATEDB PASSWORD '{verifier}'")
        # Defaults the role may have set for itself (ALTER ROLE self SET) go; then the platform's own: a
        # read-only default, a statement timeout as a backstop, and idle sessions closed by the server.
        tx.run(f"ALTER ROLE {r} RESET ALL")
        tx.run(f"ALTER ROLE {r} SET default_transaction_read_only = on")
        tx.run(f"ALTER ROLE {r} SET statement_timeout = '60s'")
        tx.run(f"ALTER ROLE {r} SET idle_session_timeout = '{IDLE_SESSION_S}s'")
        # Member of nothing: whatever granted the role another role is undone (nothing here does).
        for (granted,) in tx.run("SELECT m.roleid::regrole::text FROM pg_auth_members m"
                                 " WHERE m.member = to_regrole(:r)", r=_ident(role)) or []:
            tx.run(f"REVOKE {granted} FROM {r}")
        # Roles made before tenants logged in themselves were granted to the platform user (for SET LOCAL
        # ROLE); that grant goes. The creator's ADMIN (no INHERIT, no SET) stays, to reset the password.
        me, database, legacy = tx.run(
            "SELECT current_user, current_database(), EXISTS (SELECT 1 FROM pg_auth_members m"
            " WHERE m.roleid = to_regrole(:r) AND m.member = current_user::text::regrole"
            " AND m.grantor = current_user::text::regrole)", r=_ident(role))[0]
        if legacy:
            tx.run(f"REVOKE {r} FROM {_ident(me)}")
        tx.run(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {r}")
        tx.run(f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {r}")
        tx.run(f"GRANT SELECT ON ALL TABLES IN SCHEMA {_ident(schema)} TO {r}")
        # Tables the platform creates later in the schema are readable too.
        tx.run(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {_ident(schema)} GRANT SELECT ON TABLES TO {r}")
    return role


class _Pool:
    """Idle tenant connections, least recently used first; at most ``size`` kept, the rest closed. The size
    is TELLTALE_INTERNAL_POOL_SIZE (Settings.internal_pool_size, default 8: a warm Lambda serves one request
    at a time), read when a connection is given back, so the pool is built before settings are read."""

    def __init__(self, size: int | None = None) -> None:
        self._size = size
        self._idle: OrderedDict[tuple[Any, ...], list[pg8000.native.Connection]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._size if self._size is not None else db.get_settings().internal_pool_size

    def take(self, key: tuple[Any, ...]) -> pg8000.native.Connection | None:
        with self._lock:
            conns = self._idle.get(key)
            if not conns:
                return None
            conn = conns.pop()
            if not conns:
                del self._idle[key]
            return conn

    def give(self, key: tuple[Any, ...], conn: pg8000.native.Connection) -> None:
        evicted: list[pg8000.native.Connection] = []
        size = self.size
        with self._lock:
            self._idle.setdefault(key, []).append(conn)
            self._idle.move_to_end(key)
            while sum(len(c) for c in self._idle.values()) > size:
                oldest = next(iter(self._idle))
                evicted.append(self._idle[oldest].pop(0))
                if not self._idle[oldest]:
                    del self._idle[oldest]
        for old in evicted:
            _close(old)

    def close_all(self) -> None:
        with self._lock:
            conns = [c for cs in self._idle.values() for c in cs]
            self._idle.clear()
        for conn in conns:
            _close(conn)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(c) for c in self._idle.values())


POOL = _Pool()


def _close(conn: pg8000.native.Connection) -> None:
    with contextlib.suppress(Exception):  # closing a broken connection may fail; it is gone either way
        conn.close()


def _pool_key(role: str) -> tuple[Any, ...]:
    s = db.get_settings()
    # The settings are part of the key: a process pointed at another server never reuses a session.
    return (s.tenant_db_host or s.db_host, s.db_port, s.db_name, s.db_ssl, role)


def _connect(tenant_id: str, role: str, limits: Limits) -> pg8000.native.Connection:
    """A new session as the tenant role; a login the platform can repair is repaired and tried once more."""
    import pg8000.exceptions

    s = db.get_settings()
    for attempt in (1, 2):
        try:
            conn = db.connect(s, user=role, password=role_password(role), host=s.tenant_db_host,
                              timeout=limits.connect_timeout_s, application_name="telltale-internal-query",
                              startup_params={"default_transaction_read_only": "on",
                                              "standard_conforming_strings": "on"})
        except pg8000.exceptions.DatabaseError as exc:
            if attempt == 1 and db.pg_error(exc)[0] in _HEALABLE:
                ensure_login_role(tenant_id)
                continue
            raise connector_error("the platform database as the tenant's role", exc, {}) from None
        except Exception as exc:  # noqa: BLE001 - network, TLS, SCRAM: the same ConnectorError
            raise connector_error("the platform database as the tenant's role", exc, {}) from None
        return conn
    raise AssertionError("unreachable")


def _begin(conn: pg8000.native.Connection, schema: str, limits: Limits) -> bool | None:
    """Open the run's transaction with its settings; whether the role may use ``schema`` (None: no such
    schema). One round trip: the values are pg8000 literals, the schema a quoted identifier."""
    from pg8000.native import literal

    timeout_ms = int(limits.statement_timeout_s) * 1000
    conn._usock.settimeout(timeout_ms / 1000 + 5)  # a server that stops answering is a failure too
    settings = {"statement_timeout": timeout_ms, "lock_timeout": min(timeout_ms, 5000),
                "idle_in_transaction_session_timeout": timeout_ms + 5000, "search_path": _ident(schema),
                "standard_conforming_strings": "on"}
    sets = ", ".join(f"set_config({literal(k)}, {literal(str(v))}, true)" for k, v in settings.items())
    rows = conn.run(f"START TRANSACTION READ ONLY; SELECT {sets}, (SELECT has_schema_privilege(n.oid, 'USAGE')"
                    f" FROM pg_namespace n WHERE n.nspname = {literal(schema)})")
    return rows[-1][-1] if rows else None


def _end(conn: pg8000.native.Connection) -> bool:
    """Roll back and return the session to a clean state; False (and closed) if it could not be."""
    try:
        conn.run("ROLLBACK")
        # Outside any transaction: session advisory locks, prepared statements, temporary tables, LISTEN,
        # cursors and session settings all go (ROLLBACK alone keeps session advisory locks and SETs made
        # before the transaction, and a simple query can hold more than one statement).
        conn.run("DISCARD ALL")
        return True
    except Exception:  # noqa: BLE001 - a session that cannot be cleaned is not reused
        _close(conn)
        return False


class InternalConnector:
    driver = "internal"
    libraries: tuple[str, ...] = ("pg8000.native", "pg8000.exceptions")

    @contextmanager
    def session(self, tenant_id: str | None, tenant_schema: str | None, limits: Limits
                ) -> Iterator[pg8000.native.Connection]:
        """A session of the tenant's own login role inside a READ ONLY transaction, ``search_path`` forced
        to the tenant's schema; rolled back and cleaned after, then cached for the tenant's next run."""
        if not tenant_id or not tenant_schema:
            raise QueryExecutionError("Tenant schema required: call the API with a valid tenant/site",
                                      status_code=400)
        import pg8000.exceptions

        role = tenancy.reader_role_for(tenant_id)
        key = _pool_key(role)
        try:
            conn = self._open(tenant_id, tenant_schema, role, key, limits)
        except TelltaleError:
            raise
        except (pg8000.exceptions.DatabaseError, pg8000.exceptions.InterfaceError, OSError) as exc:
            raise execution_error(exc, {}, message=db_error_message(exc)) from None
        try:
            yield conn
        except TelltaleError:
            raise
        except (pg8000.exceptions.DatabaseError, pg8000.exceptions.InterfaceError, OSError) as exc:
            raise execution_error(exc, {}, message=db_error_message(exc)) from None
        finally:
            if _end(conn):
                POOL.give(key, conn)

    def _open(self, tenant_id: str, schema: str, role: str, key: tuple[Any, ...], limits: Limits
              ) -> pg8000.native.Connection:
        """A connection of the role inside the run's transaction, the role able to use the schema."""
        conn = POOL.take(key)
        if conn is not None:
            try:
                usable = _begin(conn, schema, limits)
            except Exception as exc:
                _close(conn)
                if not db.is_connection_failure(exc):
                    raise
                conn = None  # closed by the server meanwhile (idle timeout, restart): nothing ran yet
        if conn is None:
            conn = _connect(tenant_id, role, limits)
            try:
                usable = _begin(conn, schema, limits)
            except BaseException:
                _close(conn)
                raise
        if usable:
            return conn
        # No such schema, or one (re)created since the role was set up: repair the grants (raises the 400
        # when the schema does not exist), then start over.
        clean = _end(conn)
        try:
            ensure_login_role(tenant_id)
            if not clean:
                conn = _connect(tenant_id, role, limits)
            if _begin(conn, schema, limits):
                return conn
        except BaseException:
            _close(conn)
            raise
        _close(conn)
        raise QueryExecutionError(_SCHEMA_REQUIRED, status_code=400)

    def execute(self, prepared: Prepared, limits: Limits) -> Result:
        try:
            with self.session(prepared.tenant_id, prepared.tenant_schema, limits) as conn:
                return run_limited(conn, prepared.text, limits, prepared.params)
        except QueryExecutionError as exc:
            raise in_logical_names(exc, prepared.tenant_schema, prepared.app_slug) from None


def in_logical_names(exc: QueryExecutionError, schema: str | None, app_slug: str | None) -> QueryExecutionError:
    """The server's words with the names the query was written in: ``relation "orders" does not exist``,
    not the physical ``tenant_demo.shop_orders`` the guard rewrote it to (which the user never wrote, and
    which tells them how the platform lays tenants out)."""
    if not schema:
        return exc

    def logical(text: str) -> str:
        text = re.sub(rf'(?:"{re.escape(schema)}"|(?<![\w$]){re.escape(schema)})\.', "", text)
        return re.sub(rf'(?<![\w$]){re.escape(app_slug)}_(?=\w)', "", text) if app_slug else text

    details = {k: logical(v) if isinstance(v, str) else v for k, v in (exc.details or {}).items()}
    return QueryExecutionError(logical(exc.message), errors=exc.errors, details=details or None,
                               status_code=exc.status_code)


CONNECTOR = InternalConnector()
