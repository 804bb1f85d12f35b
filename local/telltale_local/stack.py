"""The whole local stack in one process: embedded PostgreSQL, moto, the local queue and scheduler,
and the gateway. ``telltale dev`` runs it; the end-to-end tests start it the same way."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

from telltale_local import runtime as rt_mod
from telltale_local import template as template_mod
from telltale_local import tokens
from telltale_local.pg import EmbeddedPostgres, free_port

log = logging.getLogger("telltale_local.stack")
DEFAULT_DATA_DIR = template_mod.ROOT / ".telltale"
LOCAL_ALLOWED_NETWORKS = "127.0.0.0/8,::1/128"


def data_dir_from_env() -> Path:
    return Path(os.environ.get("TELLTALE_DATA_DIR") or DEFAULT_DATA_DIR).resolve()


def local_env(template: template_mod.Template, overrides: dict[str, str]) -> dict[str, str]:
    """The functions' environment with the template's references resolved to local resources.

    A literal value of the template can be overridden from the shell, as ``sam local --env-vars`` does:
    ``TELLTALE_APIANALYTICS_CHECK_TIMEOUT_S=2 make dev`` shortens the uptime checks.
    """
    resources = template.raw.get("Resources") or {}
    env: dict[str, str] = {}
    for fn in template.functions.values():
        for key, value in fn.environment.items():
            if isinstance(value, dict) and "Ref" in value:
                ref = value["Ref"]
                if resources.get(ref, {}).get("Type") == "AWS::SQS::Queue":
                    env[key] = f"local://{ref}"
                continue  # parameters come from the overrides
            if isinstance(value, str | int | float | bool):
                env[key] = os.environ.get(key, str(value))
    env.update(overrides)
    return env


def configure_process(env: dict[str, str]) -> None:
    """Point this process's telltale package at the local resources."""
    os.environ.update(env)
    if str(rt_mod.LAYER_PATH) not in sys.path:
        sys.path.insert(0, str(rt_mod.LAYER_PATH))
    from telltale.platform import aws, config, db, queue
    from telltale.secrets import store as secrets

    config.reset_settings()
    aws.reset_clients()
    secrets.reset_cache()
    from telltale_local.queue import LocalQueue

    queue.install_local(LocalQueue(env["TELLTALE_LOCAL_QUEUE_PATH"]) if env.get("TELLTALE_LOCAL_QUEUE_PATH") else None)
    db.reset()


class LocalStack:
    def __init__(self, data_dir: Path | None = None, *, port: int = 3000, host: str = "127.0.0.1",
                 workers: bool = True, scheduler: bool = True, demo: bool = True, warehouse: bool = False,
                 stable_ports: bool = False) -> None:
        """``warehouse``: also start the demo warehouse (telltale_local.warehouse). ``stable_ports``: the
        databases take the documented ports when they are free the first time (`telltale dev`); either way a
        data folder keeps its ports across restarts (``ports.json``), so a saved secret keeps working."""
        from telltale_local import warehouse as warehouse_mod

        self.data_dir = (data_dir or data_dir_from_env()).resolve()
        self.host, self.port = host, port
        self.with_workers, self.with_scheduler, self.with_demo = workers, scheduler, demo
        self.pg = EmbeddedPostgres(self.data_dir, port=warehouse_mod.stable_port(
            self.data_dir, "postgres", warehouse_mod.PLATFORM_DEFAULT_PORT if stable_ports else None))
        self.warehouse = warehouse_mod.DemoWarehouse(
            self.data_dir, warehouse_mod.DEFAULT_PORT if stable_ports else None) if warehouse else None
        self.moto: Any = None
        self.moto_port = free_port()
        self.server: Any = None
        self.threads: list[Any] = []
        self.template = template_mod.load()
        self.runtime = rt_mod.Runtime(self.template)
        self._snapshot_stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "stack.json"

    def env(self) -> dict[str, str]:
        return local_env(self.template, {
            "TELLTALE_STAGE": "local",
            "TELLTALE_DB_HOST": "127.0.0.1",
            "TELLTALE_DB_PORT": str(self.pg.port),
            "TELLTALE_DB_NAME": "telltale",
            "TELLTALE_DB_USER": "telltale",
            "TELLTALE_DB_PASSWORD": self.pg.password(),
            "TELLTALE_DB_SECRET_ARN": "",
            "TELLTALE_DB_SSL": "false",
            "TELLTALE_SECRETS_PREFIX": "telltale-local",
            "TELLTALE_TENANT_CLAIM": "tenant_id",
            "TELLTALE_LOCAL_QUEUE_PATH": str(self.data_dir / "queue.db"),
            "TELLTALE_DATA_DIR": str(self.data_dir),
            "TELLTALE_LOCAL_URL": self.url,
            # Secrets, connectors and monitors may reach this machine's own services (a database, a BI
            # tool), unless the shell says otherwise; deployed, the AllowedNetworks parameter is empty.
            "TELLTALE_ALLOWED_NETWORKS": os.environ.get("TELLTALE_ALLOWED_NETWORKS", LOCAL_ALLOWED_NETWORKS),
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.moto_port}",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_DEV": "false",
        })

    # ------------------------------------------------------------------ lifecycle
    def start_backends(self) -> None:
        """PostgreSQL, moto, migrations and demo data: everything but the HTTP gateway and workers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tokens.ensure_keys(self.data_dir)
        self.pg.init()
        self.pg.start()
        self.pg.bootstrap()
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self.moto.start()
        configure_process(self.env())
        self._restore_secrets()
        from telltale.platform import migrate
        from telltale.secrets import types as secret_types

        migrate.apply_all()
        secret_types.seed()
        if self.with_demo:
            from telltale_local import demo

            demo.load()
        if self.warehouse is not None:
            self.warehouse.start()

    def start(self) -> None:
        """Everything, or nothing: a start that fails stops what it had started (PostgreSQL above all,
        which would otherwise outlive this process and hold the data folder's lock)."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        from telltale_local import gateway, workers
        from telltale_local.queue import LocalQueue

        self.data_dir.mkdir(parents=True, exist_ok=True)
        _, public_key = tokens.ensure_keys(self.data_dir)
        gw = gateway.Gateway(self.template, self.runtime, public_key)
        # Bind the port before starting anything, so a busy port fails at once and leaves nothing running.
        try:
            self.server = gateway.serve(gw, self.host, self.port)
        except OSError as exc:
            raise RuntimeError(f"cannot listen on {self.host}:{self.port} ({exc.strerror}); stop what uses it "
                               "or pick another port with --port") from None
        self.port = self.server.server_address[1]
        self.start_backends()
        os.environ["TELLTALE_LOCAL_URL"] = self.url
        t = threading.Thread(target=self.server.serve_forever, name="gateway", daemon=True)
        t.start()
        queue = LocalQueue(self.data_dir / "queue.db")
        if self.with_workers:
            for fn in self.template.functions.values():
                for source in fn.queues:
                    poller = workers.QueuePoller(self.runtime, fn, source, queue, self.template)
                    poller.start()
                    self.threads.append(poller)
        if self.with_scheduler:
            sched = workers.Scheduler(self.runtime, self.template, str(self.data_dir / "queue.db"))
            sched.start()
            self.threads.append(sched)
        snap = threading.Thread(target=self._snapshot_loop, name="secrets-snapshot", daemon=True)
        snap.start()
        self.state_file.write_text(json.dumps({
            "url": self.url, "pid": os.getpid(), "pg_port": self.pg.port, "moto_port": self.moto_port,
            "warehouse_port": self.warehouse.port if self.warehouse else None,
        }))

    def stop(self) -> None:
        self._snapshot_stop.set()
        for t in self.threads:
            t.stop()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        for t in self.threads:
            t.join(timeout=10)
        if self.moto is not None:
            try:
                self._snapshot_secrets()
            except Exception:
                log.exception("could not save the local secrets")
            self.moto.stop()
        from telltale.platform import db

        db.reset()
        if self.warehouse is not None:
            self.warehouse.stop()
        self.pg.stop()
        self.state_file.unlink(missing_ok=True)

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ secrets survive restarts
    # moto keeps its state in memory; the local stack saves the secrets it holds to the data folder
    # (readable by this user only) so that a restart finds them again.
    @property
    def _secrets_file(self) -> Path:
        return self.data_dir / "secrets.json"

    def _snapshot_secrets(self) -> None:
        from telltale.platform import aws

        sm = aws.client("secretsmanager")
        out = {}
        for page in sm.get_paginator("list_secrets").paginate():
            for s in page["SecretList"]:
                value = sm.get_secret_value(SecretId=s["ARN"])
                out[s["Name"]] = value.get("SecretString")
        tmp = self._secrets_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(out))
        tmp.chmod(0o600)
        tmp.replace(self._secrets_file)

    def _restore_secrets(self) -> None:
        if not self._secrets_file.exists():
            return
        from telltale.platform import aws

        sm = aws.client("secretsmanager")
        for name, value in json.loads(self._secrets_file.read_text()).items():
            try:
                sm.create_secret(Name=name, SecretString=value)
            except sm.exceptions.ResourceExistsException:
                sm.put_secret_value(SecretId=name, SecretString=value)

    def _snapshot_loop(self) -> None:
        while not self._snapshot_stop.wait(15.0):
            try:
                self._snapshot_secrets()
            except Exception:
                log.exception("could not save the local secrets")
