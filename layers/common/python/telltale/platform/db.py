"""Platform database access (pg8000).

One connection per thread, kept across invocations (Lambda reuses the process; the local gateway runs
handlers on several threads). A connection that broke is replaced on the next call, and a read that
failed because the connection broke is retried once on a fresh one.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from telltale.platform.config import Settings, get_settings

if TYPE_CHECKING:
    import pg8000.native

_local = threading.local()


def platform_password(settings: Settings | None = None) -> str | None:
    """The platform user's password: the setting, else the Secrets Manager secret (cached reads)."""
    settings = settings or get_settings()
    if settings.db_password is not None or not settings.db_secret_arn:
        return settings.db_password
    from telltale.secrets.store import read_secret_json

    return str(read_secret_json(settings.db_secret_arn)["password"])


def connect(settings: Settings | None = None, *, user: str | None = None, password: str | None = None,
            host: str | None = None, timeout: float | None = None, application_name: str | None = None,
            startup_params: dict[str, str] | None = None) -> pg8000.native.Connection:
    """A new connection to the platform database; callers normally use :func:`connection`.

    As the platform user by default; ``user``/``password`` log in as another role of the same database
    (the tenant login roles of internal queries), with the same TLS settings."""
    import pg8000.native

    settings = settings or get_settings()
    ssl_context = None
    if settings.db_ssl:
        import ssl

        ssl_context = ssl.create_default_context()
    conn = pg8000.native.Connection(
        user=user or settings.db_user,
        password=password if user else platform_password(settings),
        host=host or settings.db_host,
        port=settings.db_port,
        database=settings.db_name,
        timeout=timeout or settings.db_connect_timeout_s,
        ssl_context=ssl_context,
        application_name=application_name or f"telltale-{settings.stage}",
        startup_params=startup_params,
    )
    # The socket timeout above is for connecting; queries get their own statement timeouts.
    conn._usock.settimeout(None)
    no_delay(conn)
    return conn


def no_delay(conn: pg8000.native.Connection) -> None:
    """Send each protocol message at once (TCP_NODELAY, as libpq does).

    pg8000 leaves Nagle's algorithm on: a statement with a large parameter, or a COPY (sent in 8 kB
    chunks), then ends with a small segment that waits for the server's delayed ACK (the cost is in
    benchmarks/README.md, "Figures the code relies on").
    """
    import socket

    sock = conn._usock
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def connection() -> pg8000.native.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = connect()
        _local.conn = conn
    return conn


def reset() -> None:
    """Drop this thread's connection (after a failure, or when settings changed)."""
    conn = getattr(_local, "conn", None)
    _local.conn = None
    if conn is not None:
        with contextlib.suppress(Exception):  # the connection is already unusable
            conn.close()


def pg_error(exc: BaseException) -> tuple[str, str]:
    """(SQLSTATE, message) of a pg8000 error, which carries the server's fields as a dict; ("", "") if not."""
    args = getattr(exc, "args", ())
    fields = args[0] if args and isinstance(args[0], dict) else {}
    return str(fields.get("C", "")), str(fields.get("M", ""))


def is_connection_failure(exc: BaseException) -> bool:
    import pg8000.exceptions

    if isinstance(exc, pg8000.exceptions.InterfaceError | OSError | ConnectionError):
        return True
    # 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now
    return isinstance(exc, pg8000.exceptions.DatabaseError) and pg_error(exc)[0].startswith("57P")


def _rows(conn: pg8000.native.Connection, result: list[list[Any]] | None) -> list[dict[str, Any]]:
    if not result or not conn.columns:
        return []
    names = [c["name"] for c in conn.columns]
    return [dict(zip(names, row, strict=True)) for row in result]


def query(sql: str, **params: Any) -> list[dict[str, Any]]:
    """Run one statement outside an explicit transaction and return its rows as dicts.

    Retried once on a fresh connection if the connection broke (safe: a single statement in autocommit
    either happened or did not, and callers write idempotent statements).
    """
    in_tx = getattr(_local, "in_tx", False)
    for attempt in (1, 2):
        conn = connection()
        try:
            return _rows(conn, conn.run(sql, **params))
        except Exception as exc:
            if not is_connection_failure(exc) or in_tx or attempt == 2:
                if is_connection_failure(exc):
                    reset()
                raise
            reset()
    raise AssertionError("unreachable")


def query_one(sql: str, **params: Any) -> dict[str, Any] | None:
    rows = query(sql, **params)
    return rows[0] if rows else None


@contextmanager
def transaction() -> Iterator[pg8000.native.Connection]:
    """BEGIN ... COMMIT on this thread's connection; ROLLBACK on any error."""
    conn = connection()
    if getattr(_local, "in_tx", False):
        yield conn
        return
    _local.in_tx = True
    try:
        conn.run("BEGIN")
        try:
            yield conn
        except BaseException as exc:
            try:
                conn.run("ROLLBACK")
            except Exception:  # noqa: BLE001 - the original error matters more
                reset()
            if is_connection_failure(exc):
                reset()
            raise
        conn.run("COMMIT")
    except Exception as exc:
        if is_connection_failure(exc):
            reset()
        raise
    finally:
        _local.in_tx = False


def jsonb(value: Any) -> str:
    """Serialise a value for a ``CAST(:x AS jsonb)`` parameter."""
    return json.dumps(value, default=str)
