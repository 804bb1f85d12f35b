"""A real ClickHouse for tests: the chdb engine (ClickHouse in-process) behind the ClickHouse HTTP protocol.

Why: the real ``clickhouse-connect`` client (and ``requests``/``curl``) must be able to talk to it exactly
as to a ClickHouse server, without Docker or a network download. The engine is the genuine ClickHouse
(chdb), so SQL semantics, formats (Native, RowBinaryWithNamesAndTypes, JSON, TabSeparated, ...) and
table engines (ReplacingMergeTree, FINAL, argMax, ...) are the real ones.

Each server runs in its own subprocess (chdb allows one engine data path per process, and a subprocess
can be killed for fault tests without touching the test process). The data lives in the directory you
pass, so a restarted server on the same directory sees the same tables.

Usage from any conftest or test::

    from servers_clickhouse import start_clickhouse_server   # tests/ is on sys.path under pytest

    host, port, stop = start_clickhouse_server(tmp_path / "ch")   # optional: user="u", password="p"
    try:
        import clickhouse_connect
        client = clickhouse_connect.get_client(host=host, port=port, username="default", password="")
        client.command("CREATE DATABASE IF NOT EXISTS mine")
        ...
    finally:
        stop()

or the session fixture (register it with ``pytest_plugins = ["servers_clickhouse"]`` in a conftest, or
``from servers_clickhouse import clickhouse_server`` in one)::

    def test_x(clickhouse_server):
        host, port = clickhouse_server.host, clickhouse_server.port

The session fixture is shared by every test of the session: create your own database with a unique name.

What the HTTP adapter supports (what clickhouse-connect sends, plus curl-style use):
- ``GET``/``POST /`` with the query in the ``query`` parameter and/or the body (as ClickHouse does, the
  parameter comes first and the body is appended); ``INSERT ... FORMAT X`` with the data in the body
  (streamed into the engine); request bodies compressed with lz4/gzip/deflate/zstd (``Content-Encoding``);
  ``GET /ping`` -> ``Ok.``.
- ``database``, ``default_format`` (else TabSeparated), ``query_id``, ``param_<name>`` (server-side
  query parameters, in the URL or, as clickhouse-connect sends them past 4 KB, as multipart form fields),
  every other parameter as a setting for that request only (``SET`` then restored);
  ``readonly=1|2`` rejects anything but SELECT/WITH/SHOW/DESCRIBE/EXISTS/EXPLAIN with code 164 (READONLY),
  like a real read-only profile.
- Basic auth, ``X-ClickHouse-User``/``X-ClickHouse-Key`` headers or ``user``/``password`` parameters,
  checked against the configured user (code 516, HTTP 401, on mismatch).
- Errors as ClickHouse sends them: ``Code: N. DB::Exception: ...`` with ``X-ClickHouse-Exception-Code``.
- Not supported: sessions/temporary tables across requests (``session_id`` is accepted and ignored),
  response compression (the client is answered uncompressed, which it accepts), progress headers.

Run standalone: ``.venv/bin/python tests/servers_clickhouse.py --path /tmp/ch --port 8123``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Parameters of the HTTP interface that are not settings.
_NOT_SETTINGS = {
    "query", "database", "default_format", "session_id", "session_timeout", "session_check", "query_id",
    "compress", "decompress", "user", "password", "quota_key", "buffer_size", "wait_end_of_query",
    "client_protocol_version", "role", "stacktrace", "readonly", "enable_http_compression",
    "http_zlib_compression_level", "send_progress_in_http_headers", "http_headers_progress_interval_ms",
    "output_format_json_quote_64bit_integers_http",
}
_READ_ONLY_START = re.compile(r"^\s*(\(\s*)*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN)\b", re.I)
_INSERT_FORMAT = re.compile(r"^(?P<insert>\s*INSERT\s+INTO\s+.+?)\s+FORMAT\s+(?P<fmt>\w+)\s*$", re.I | re.S)
_INLINE_INSERT = re.compile(rb"(?is)^(\s*INSERT\s+INTO\s+[^\n]+?\s+FORMAT\s+\w+)[ \t]*(\r?\n|$)")
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+\w+\s*;?\s*$", re.I)
_ERROR_CODE = re.compile(r"Code:\s*(\d+)")
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

HTTP_STATUS_FOR_CODE = {516: 401, 164: 403, 60: 404, 81: 404, 62: 400, 47: 400, 36: 400, 115: 400}


class ClickHouseError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _strip_comments(sql: str) -> str:
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    return re.sub(r"--[^\n]*", " ", sql)


_INTO_OUTFILE = re.compile(r"\bINTO\s+OUTFILE\b", re.I)


def _code_outside_strings_and_comments(sql: str) -> str:
    """The SQL with every quoted literal emptied and every comment dropped, in one pass (a ``--`` inside a
    string is not a comment, and a quote inside a comment does not open a string)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            j = i + 1
            while j < n:
                if sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # a doubled quote stays inside
                        j += 2
                        continue
                    break
                j += 1
            out.append(c + c)
            i = j + 1
        elif sql.startswith("--", i) or c == "#":
            nl = sql.find("\n", i)
            i = n if nl < 0 else nl
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def refuse_what_a_server_refuses(sql: str) -> None:
    """What clickhouse-local (chdb) runs but a ClickHouse server's HTTP interface refuses: several
    statements in one request, and ``INTO OUTFILE`` (a client-side feature). Without this the stand-in
    would be weaker than the real server in exactly the places the guard tests lean on the database."""
    code = _code_outside_strings_and_comments(sql).strip().rstrip(";").strip()
    if ";" in code:
        raise ClickHouseError(62, "Code: 62. DB::Exception: Syntax error (Multi-statements are not allowed). "
                                  "(SYNTAX_ERROR)")
    if _INTO_OUTFILE.search(code):
        raise ClickHouseError(48, "Code: 48. DB::Exception: INTO OUTFILE is not allowed. (NOT_IMPLEMENTED)")


def with_readonly(sql: str) -> str:
    """``sql`` with the query-level ``SETTINGS readonly=1`` the engine applies itself (a server applies the
    profile's; chdb, a session's setting it could never lift again): before a trailing FORMAT, after a
    newline so that a trailing comment cannot swallow it. A query with a SETTINGS clause of its own then
    has two, which the engine refuses, as a server refuses a change of readonly."""
    body = sql.rstrip().rstrip(";")
    fmt = _TRAILING_FORMAT.search(body)
    if fmt:
        return f"{body[:fmt.start()]}\nSETTINGS readonly = 1\n{body[fmt.start():]}"
    return f"{body}\nSETTINGS readonly = 1"


def _split_leading_settings(sql: str) -> str:
    return _strip_comments(sql).lstrip()


class Engine:
    """The chdb engine with per-request settings and database, serialised by one lock (the embedded
    engine runs one statement at a time per connection)."""

    def __init__(self, path: str) -> None:
        import chdb

        Path(path).mkdir(parents=True, exist_ok=True)
        self.conn = chdb.connect(path)
        self.lock = threading.Lock()
        self._defaults: dict[str, str] = {}

    def _raw(self, sql: str, fmt: str = "TabSeparated", params: dict[str, str] | None = None) -> Any:
        from chdb import ChdbError

        try:
            return self.conn.query(sql, fmt, params=params or None)
        except (ChdbError, RuntimeError) as exc:
            text = str(exc)
            match = _ERROR_CODE.search(text)
            raise ClickHouseError(int(match.group(1)) if match else 1000, text) from None

    def _default(self, name: str) -> str:
        if name not in self._defaults:
            out = self._raw(f"SELECT value FROM system.settings WHERE name = '{name}'").bytes().decode()
            if not out:
                raise ClickHouseError(115, f"Code: 115. DB::Exception: Unknown setting '{name}'. (UNKNOWN_SETTING)")
            self._defaults[name] = out.rstrip("\n")
        return self._defaults[name]

    def execute(self, sql: str, *, data: bytes | None, database: str | None, settings: dict[str, str],
                params: dict[str, str], default_format: str) -> tuple[bytes, dict[str, Any]]:
        refuse_what_a_server_refuses(sql)
        with self.lock:
            changed: list[str] = []
            try:
                for name, value in settings.items():
                    if not _SETTING_NAME.match(name):
                        continue
                    self._default(name)
                    self._raw(f"SET {name} = {_literal(value)}")
                    changed.append(name)
                self._raw(f"USE `{(database or 'default').replace('`', '')}`")
                insert = _INSERT_FORMAT.match(sql) if data is not None else None
                if insert:
                    return self._insert(insert.group("insert"), insert.group("fmt"), data or b"")
                fmt = default_format if not _TRAILING_FORMAT.search(_strip_comments(sql)) else "TabSeparated"
                result = self._raw(sql, fmt, params)
                summary = {"read_rows": str(result.rows_read()), "read_bytes": str(result.bytes_read()),
                           "written_rows": "0", "written_bytes": "0", "total_rows_to_read": "0",
                           "result_rows": "0", "result_bytes": "0", "elapsed_ns": str(int(result.elapsed() * 1e9))}
                return bytes(result.bytes() or b""), summary
            finally:
                for name in changed:
                    with contextlib.suppress(ClickHouseError):
                        self._raw(f"SET {name} = {_literal(self._defaults[name])}")
                with contextlib.suppress(ClickHouseError):
                    self._raw("USE default")

    def _insert(self, insert: str, fmt: str, data: bytes) -> tuple[bytes, dict[str, Any]]:
        from chdb import ChdbError

        try:
            with self.conn.send_insert(insert, fmt) as ins:
                if data:
                    ins.append(data)
                res = ins.finish()
        except (ChdbError, RuntimeError) as exc:
            text = str(exc)
            match = _ERROR_CODE.search(text)
            raise ClickHouseError(int(match.group(1)) if match else 1000, text) from None
        written = getattr(res, "rows_written", 0)
        written = written() if callable(written) else written
        return b"", {"read_rows": "0", "read_bytes": "0", "written_rows": str(written),
                      "written_bytes": str(len(data)), "total_rows_to_read": "0", "result_rows": str(written),
                      "result_bytes": "0"}


def _literal(value: str) -> str:
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if not encoding or encoding == "identity":
        return body
    if encoding == "gzip":
        import gzip

        return gzip.decompress(body)
    if encoding == "deflate":
        import zlib

        return zlib.decompress(body)
    # clickhouse-connect compresses each block of an insert as its own frame, one after the other (a
    # 20,000-row insert of wide rows is two): every frame is read, as ClickHouse does, not only the first.
    if encoding == "lz4":
        import lz4.frame

        return _every_frame(body, lz4.frame.LZ4FrameDecompressor)
    if encoding == "zstd":
        import zstandard

        return _every_frame(body, lambda: zstandard.ZstdDecompressor().decompressobj())
    if encoding == "br":
        import brotli  # type: ignore[import-not-found]

        return bytes(brotli.decompress(body))
    raise ClickHouseError(1000, f"Code: 1000. DB::Exception: unsupported Content-Encoding {encoding}")


def _every_frame(body: bytes, decompressor: Callable[[], Any]) -> bytes:
    out, rest = bytearray(), body
    while rest:
        d = decompressor()
        out += d.decompress(rest)
        rest = d.unused_data
    return bytes(out)


def make_handler(engine: Engine, user: str, password: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "chdb-http"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            if os.environ.get("CHDB_HTTP_LOG"):
                super().log_message(format, *args)

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, exc: ClickHouseError) -> None:
            text = exc.message if exc.message.startswith("Code:") else f"Code: {exc.code}. DB::Exception: {exc.message}"
            self._send(HTTP_STATUS_FOR_CODE.get(exc.code, 500), (text + "\n").encode(),
                       {"Content-Type": "text/plain; charset=UTF-8", "X-ClickHouse-Exception-Code": str(exc.code)})

        def do_GET(self) -> None:
            self._handle(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = self._read_chunked()
            else:
                body = self.rfile.read(length) if length else b""
            self._handle(body)

        def _read_chunked(self) -> bytes:
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()

        def _credentials(self, params: dict[str, str]) -> tuple[str, str]:
            auth = self.headers.get("Authorization", "")
            if auth.lower().startswith("basic "):
                raw = base64.b64decode(auth[6:]).decode()
                u, _, p = raw.partition(":")
                return u, p
            if self.headers.get("X-ClickHouse-User"):
                return self.headers["X-ClickHouse-User"], self.headers.get("X-ClickHouse-Key", "")
            return params.get("user", "default"), params.get("password", "")

        def _handle(self, body: bytes) -> None:
            parts = urlsplit(self.path)
            if parts.path.rstrip("/") in ("/ping",) or (parts.path == "/" and self.command == "GET"
                                                         and not parts.query):
                self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
                return
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            query_id = params.get("query_id") or str(uuid.uuid4())
            try:
                u, p = self._credentials(params)
                if u != user or p != password:
                    raise ClickHouseError(516, f"Code: 516. DB::Exception: {u}: Authentication failed: password is "
                                               "incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)")
                body = _decompress(body, self.headers.get("Content-Encoding", ""))
                content_type = self.headers.get("Content-Type", "")
                if content_type.startswith("multipart/form-data"):
                    # What clickhouse-connect sends when query parameters pass 4 KB of URL (and what
                    # ClickHouse reads): the query and param_<name> fields as form data.
                    params.update(_form_fields(body, content_type))
                    body = b""
                sql = params.get("query", "")
                data: bytes | None = None
                if sql and body:
                    if _INSERT_FORMAT.match(sql):
                        data = body
                    else:
                        sql = sql + "\n" + body.decode()
                elif body:
                    # Inline INSERT data after "FORMAT X\n" (what clickhouse-connect sends): split it off as
                    # bytes, since Native/RowBinary data is not text.
                    m = _INLINE_INSERT.match(body)
                    if m:
                        sql, data = m.group(1).decode(), body[m.end():]
                    else:
                        sql = body.decode()
                if not sql.strip():
                    raise ClickHouseError(62, "Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)")
                readonly = params.get("readonly", "0")
                if readonly not in ("", "0"):
                    if not _READ_ONLY_START.match(_split_leading_settings(sql)):
                        raise ClickHouseError(164, "Code: 164. DB::Exception: Cannot execute query in readonly "
                                                   "mode. (READONLY)")
                    sql = with_readonly(sql)
                settings = {k: v for k, v in params.items() if k not in _NOT_SETTINGS and not k.startswith("param_")}
                qparams = {k[len("param_"):]: v for k, v in params.items() if k.startswith("param_")}
                out, summary = engine.execute(sql, data=data, database=params.get("database"), settings=settings,
                                              params=qparams, default_format=params.get("default_format")
                                              or "TabSeparated")
            except ClickHouseError as exc:
                self._error(exc)
                return
            except Exception as exc:
                self._error(ClickHouseError(1001, f"Code: 1001. DB::Exception: {type(exc).__name__}: {exc}"))
                return
            self._send(200, out, {
                "Content-Type": "application/octet-stream",
                "X-ClickHouse-Query-Id": query_id,
                "X-ClickHouse-Timezone": "UTC",
                "X-ClickHouse-Server-Display-Name": "chdb",
                "X-ClickHouse-Summary": json.dumps(summary),
            })

    return Handler


def serve(path: str, host: str = "127.0.0.1", port: int = 0, user: str = "default",
          password: str = "") -> ThreadingHTTPServer:
    """Start the adapter in this process (a daemon thread); returns the server (``server_address``)."""
    engine = Engine(path)
    server = ThreadingHTTPServer((host, port), make_handler(engine, user, password))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="chdb-http", daemon=True).start()
    return server


def start_clickhouse_server(tmp_dir: str | os.PathLike[str], *, user: str = "default", password: str = "",
                            port: int = 0, timeout: float = 60.0) -> tuple[str, int, Callable[[], None]]:
    """Start a server in a subprocess with its data in ``tmp_dir``; returns ``(host, port, stop)``.

    ``stop()`` kills the subprocess (idempotent). Restarting on the same ``tmp_dir`` keeps the data.
    """
    Path(tmp_dir).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CHDB_HTTP_PASSWORD=password)
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--path", str(Path(tmp_dir) / "data"), "--port", str(port),
         "--user", user],
        stdout=subprocess.PIPE, stderr=open(Path(tmp_dir) / "server.log", "ab"), env=env, text=True,  # noqa: SIM115
    )
    deadline = time.monotonic() + timeout
    line = ""
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("LISTENING "):
            break
        if proc.poll() is not None:
            log = (Path(tmp_dir) / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the ClickHouse test server exited: {log}")
    else:
        proc.kill()
        raise RuntimeError("the ClickHouse test server did not start in time")
    _, host, port_s = line.split()

    def stop() -> None:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()

    return host, int(port_s), stop


@dataclass(frozen=True)
class ClickHouseServer:
    host: str
    port: int
    user: str
    password: str
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self, **kw: Any) -> Any:
        import clickhouse_connect

        return clickhouse_connect.get_client(host=self.host, port=self.port, username=self.user,
                                             password=self.password, **kw)


@contextlib.contextmanager
def routed_to_clickhouse(server: ClickHouseServer, **settings: str) -> Iterator[str]:
    """The local stack (in this process) pointed at ``server`` with a fresh database, and ``settings``
    (environment names, e.g. TELLTALE_CLICKHOUSE_TENANTS) set; all as they were afterwards. Yields the
    database's name."""
    from telltale.events.stores import clickhouse as store
    from telltale.platform import config

    database = "telltale_" + uuid.uuid4().hex[:10]
    env = {"TELLTALE_CLICKHOUSE_HOST": server.host, "TELLTALE_CLICKHOUSE_PORT": str(server.port),
           "TELLTALE_CLICKHOUSE_DATABASE": database, **settings}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    config.reset_settings()
    store.reset_clickhouse()
    try:
        yield database
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        config.reset_settings()
        store.reset_clickhouse()


try:
    import pytest

    @pytest.fixture(scope="session")
    def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
        """One ClickHouse test server per session (user ``default``, empty password)."""
        data_dir = tmp_path_factory.mktemp("clickhouse")
        host, port, stop = start_clickhouse_server(data_dir)
        try:
            yield ClickHouseServer(host, port, "default", "", data_dir)
        finally:
            stop()
except ImportError:  # the standalone server does not need pytest
    pass


def _form_fields(body: bytes, content_type: str) -> dict[str, str]:
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            payload = part.get_payload(decode=True) or b""
            fields[str(name)] = payload.decode()
    return fields


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--user", default="default")
    args = ap.parse_args(argv)
    server = serve(args.path, args.host, args.port, args.user, os.environ.get("CHDB_HTTP_PASSWORD", ""))
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"LISTENING {host} {port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
