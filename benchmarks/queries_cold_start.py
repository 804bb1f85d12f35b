"""Cold start of ``execute_query``, per driver: a fresh interpreter loads the handler and runs one real
execution (the API Gateway event a client's request produced, against real servers: the local stack's
PostgreSQL and Secrets Manager, MariaDB, the chdb-backed ClickHouse, the Elasticsearch replay server), and
checks the reply is a 200. Against ``python -c "import boto3, pydantic"``. Target (issue 4): at most 1.6x,
with only the needed driver imported (checked in each run: the other drivers' clients must not be loaded;
pg8000 always is, for the platform database).

Every command sees the standard library and the Common layer only (harness.layer_site), as Lambda does.
Each row also times the *floor*: the baseline plus the libraries that an execution cannot do without
(Jinja's sandbox, sqlglot with its dialect, the driver's client), with no Telltale code and no I/O. The
floor's ratio is what those libraries alone leave of the target; handler/floor is what Telltale's code,
the connections and the query add. The three commands run round-robin, so load hits them alike.

    .venv/bin/python benchmarks/queries_cold_start.py [driver ...]
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, layer_python, time_process

for _p in (ROOT / "local", ROOT / "tests"):
    sys.path.insert(0, str(_p))

HANDLER = ROOT / "functions" / "execute_query" / "app.py"
TARGET = 1.6
CLIENTS = {"postgres": "pg8000", "redshift": "pg8000", "internal": "pg8000", "mysql": "pymysql",
           "clickhouse": "clickhouse_connect", "elasticsearch": "elasticsearch"}
# The libraries an execution cannot do without (see telltale.queries.render / guard / es_guard); pg8000
# for every driver, since the saved query and the record of its run live in the platform database.
FLOOR = {
    "postgres": "import jinja2.sandbox, sqlglot, pg8000.native; sqlglot.Dialect.get_or_raise('postgres')",
    "redshift": "import jinja2.sandbox, sqlglot, pg8000.native; sqlglot.Dialect.get_or_raise('redshift')",
    "internal": "import jinja2.sandbox, sqlglot, pg8000.native; sqlglot.Dialect.get_or_raise('postgres')",
    "mysql": "import jinja2.sandbox, sqlglot, pg8000.native, pymysql; sqlglot.Dialect.get_or_raise('mysql')",
    "clickhouse": "import jinja2.sandbox, sqlglot, pg8000.native, clickhouse_connect; "
                  "sqlglot.Dialect.get_or_raise('clickhouse')",
    "elasticsearch": "import jinja2.sandbox, pg8000.native, elasticsearch",
}
SQL = "SELECT '{{ label }}' AS label, 1 + 1 AS two"
ES = '{"query": {"match": {"status": "{{ label }}"}}, "size": 10}'


def code_for(driver: str, event_file: Path) -> str:
    others = sorted({c for c in CLIENTS.values() if c not in (CLIENTS[driver], "pg8000")})
    return (f"import importlib.util as u, json; s = u.spec_from_file_location('h', {str(HANDLER)!r})\n"
            "m = u.module_from_spec(s); s.loader.exec_module(m)\n"
            f"reply = m.handler(json.load(open({str(event_file)!r})), None)\n"
            "assert reply['statusCode'] == 200, reply\n"
            f"loaded = [c for c in {others!r} if c in sys.modules]\n"
            "assert not loaded, f'other drivers imported: {loaded}'\n")


class Setup:
    """The local stack (no workers), the servers each driver talks to, and one saved query per driver."""

    def __init__(self, work: Path) -> None:
        from telltale_local.stack import LocalStack

        os.environ["TELLTALE_DATA_DIR"] = str(work / "stack")
        self.stack = LocalStack(work / "stack", port=0, workers=False, scheduler=False)
        self.stack.start()
        logging.getLogger("telltale").setLevel(logging.WARNING)  # the set-up's own requests need no log lines
        self.work = work
        self.stops: list[Callable[[], None]] = [self.stack.stop]
        self.events: dict[str, dict[str, Any]] = {}
        self._capture_events()

    def _capture_events(self) -> None:
        runtime = self.stack.runtime
        original = runtime.invoke

        def invoke(fn: Any, event: dict[str, Any]) -> Any:
            if fn.name == "execute_query":
                self.events["last"] = event
            return original(fn, event)

        runtime.invoke = invoke  # type: ignore[method-assign]

    def request(self, method: str, path: str, body: Any = None) -> Any:
        import requests

        from telltale_local import tokens

        token = tokens.mint(self.stack.data_dir, tenant="demo", user="bench")
        r = requests.request(method, self.stack.url + path, json=body, timeout=60,
                             headers={"Authorization": f"Bearer {token}"})
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r.json()

    def secret_for(self, driver: str) -> str | None:
        import queries_servers as qs

        if driver == "internal":
            return None
        if driver in ("postgres", "redshift"):
            if not hasattr(self, "_ext"):
                # A server of its own: the platform database is never a secret's target (telltale.platform.netguard).
                self._ext, stop = qs.start_external_postgres(self.work / "external-pg")
                self.stops.append(stop)
            ext = self._ext
            value, type_slug = ext.secret(**({"ssl": False} if driver == "redshift" else {})), f"analytics-{driver}"
        elif driver == "mysql":
            server, stop = qs.start_mariadb(self.work / "mariadb")
            self.stops.append(stop)
            qs.seed_mariadb(server)  # the read-only user the secret names
            value, type_slug = server.secret(), "analytics-mysql"
        elif driver == "clickhouse":
            from servers_clickhouse import start_clickhouse_server

            host, port, stop = start_clickhouse_server(self.work / "clickhouse")
            self.stops.append(stop)
            value, type_slug = ({"host": host, "port": port, "database": "default", "username": "default",
                                 "password": "", "secure": False}, "analytics-clickhouse")
        else:
            es, stop = qs.start_es_replay()
            self.stops.append(stop)
            value, type_slug = es.secret(), "analytics-elasticsearch"
        key = f"{driver}_{uuid.uuid4().hex[:8]}"
        self.request("POST", "/api/apps/shop/secrets/", {"key": key, "type_slug": type_slug, "value": value})
        return key

    def event_for(self, driver: str) -> Path:
        """Save a query for ``driver``, run it once through the gateway, and keep the event it produced."""
        key = self.secret_for(driver)
        body: dict[str, Any] = {"name": f"cold start {driver} {uuid.uuid4().hex[:6]}",
                                "query_text": ES if driver == "elasticsearch" else SQL}
        body.update({"connection_type": "internal"} if key is None else {"secret_key": key})
        slug = self.request("POST", "/api/apps/shop/analytics/queries/", body)["data"]["slug"]
        # Redshift's literals escape a quote with a backslash, which the PostgreSQL stand-in reads as a plain
        # character (tests/integration/queries/test_queries_literals.py): its label carries no quote.
        label = "x OR 1=1" if driver == "redshift" else "x' OR 1=1"
        self.request("POST", f"/api/apps/shop/analytics/queries/{slug}/execute/", {"params": {"label": label}})
        path = self.work / f"event-{driver}.json"
        path.write_text(json.dumps(self.events.pop("last")))
        return path

    def stop(self) -> None:
        for stop in reversed(self.stops):
            stop()


def median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def main(argv: list[str]) -> int:
    drivers = [d for d in CLIENTS if not argv or d in argv]
    with tempfile.TemporaryDirectory(prefix="telltale-cold-") as tmp:
        setup = Setup(Path(tmp))
        try:
            events = {d: setup.event_for(d) for d in drivers}
            env = dict(os.environ)  # the functions' environment the stack set: database, AWS endpoint, queue
            baseline = layer_python("import boto3, pydantic")
            print(f"{'execute_query cold start':<26} {'handler':>9} {'floor':>9} {'baseline':>9}   "
                  f"{'ratio':>6} {'floor':>6} {'ours':>6}   (target {TARGET}x)")
            worst = 0.0
            for driver in drivers:
                commands = {"handler": layer_python(code_for(driver, events[driver])),
                            "floor": layer_python(f"import boto3, pydantic\n{FLOOR[driver]}"),
                            "baseline": baseline}
                times: dict[str, list[float]] = {name: [] for name in commands}
                for run in range(10):  # the first round warms caches and is not counted
                    for name, cmd in commands.items():
                        t = time_process(cmd, env)
                        if run:
                            times[name].append(t)
                h, f, b = (median(times[n]) for n in ("handler", "floor", "baseline"))
                worst = max(worst, h / b)
                print(f"{'+ ' + driver:<26} {h * 1000:6.0f} ms {f * 1000:6.0f} ms {b * 1000:6.0f} ms   "
                      f"{h / b:5.2f}x {f / b:5.2f}x {h / f:5.2f}x" + ("" if h / b <= TARGET else f"   OVER {TARGET}x"))
            print(f"worst ratio {worst:.2f}x (target {TARGET}x); 'floor' = the libraries alone, "
                  "'ours' = handler / floor")
        finally:
            setup.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
