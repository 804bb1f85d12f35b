"""Runs Lambda handlers in this process, the way Lambda would call them.

Each function module is loaded once from its folder (as ``telltale_function_<name>``) and kept, like a
warm Lambda container; the events are the same shapes API Gateway v2, SQS and EventBridge send.
"""

from __future__ import annotations

import base64
import importlib.util
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telltale_local.template import Function, Route, Template

LAYER_PATH = Path(__file__).resolve().parents[2] / "layers" / "common" / "python"
ACCOUNT = "000000000000"
REGION = "us-east-1"


class LambdaContext:
    def __init__(self, fn: Function) -> None:
        self.function_name = f"telltale-{fn.logical_id}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + fn.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Runtime:
    def __init__(self, template: Template) -> None:
        self.template = template
        self._handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
        self._containers: dict[str, threading.Lock] = {}  # one per function: its warm container is busy
        self._lock = threading.Lock()
        if str(LAYER_PATH) not in sys.path:
            sys.path.insert(0, str(LAYER_PATH))

    def handler_for(self, fn: Function) -> Callable[[dict[str, Any], Any], Any]:
        with self._lock:
            if fn.logical_id not in self._handlers:
                module_name = f"telltale_function_{fn.name}_{fn.module_path.stem}"
                module = sys.modules.get(module_name)
                if module is None:
                    spec = importlib.util.spec_from_file_location(module_name, fn.module_path)
                    if spec is None or spec.loader is None:
                        raise ImportError(f"cannot load {fn.module_path}")
                    module = importlib.util.module_from_spec(spec)
                    sys.modules[module_name] = module
                    _on_path(fn.module_path.parent)  # the function's folder is its import root, as in Lambda
                    spec.loader.exec_module(module)
                self._handlers[fn.logical_id] = getattr(module, fn.handler_name)
            return self._handlers[fn.logical_id]

    def invoke(self, fn: Function, event: dict[str, Any]) -> Any:
        try:
            return self._invoke(fn, event)
        finally:
            # One process hosts every function here, and Powertools' Logger is process-wide: without this,
            # a function that does not stamp its own Lambda context (execute_query, the queue worker) logs
            # under the name of whichever function ran before it. In Lambda each function has its process.
            # (With functions serving at once, a line logged while another's request ends can lose its keys:
            # local logs only.)
            from telltale.platform.log import powertools_logger

            powertools_logger().clear_state()

    def _invoke(self, fn: Function, event: dict[str, Any]) -> Any:
        handler = self.handler_for(fn)
        if "routeKey" not in event:
            return handler(event, LambdaContext(fn))
        # Each function is one warm container, which serves one request at a time (its resolver keeps the
        # request in instance state); different functions serve at once, as Lambda's do. The timeout keeps
        # a handler that calls back into its own function through the gateway from waiting forever.
        _per_thread_router_state()
        with self._lock:
            lock = self._containers.setdefault(fn.logical_id, threading.Lock())
        acquired = lock.acquire(timeout=60)
        try:
            return handler(event, LambdaContext(fn))
        finally:
            if acquired:
                lock.release()


_router_state_lock = threading.Lock()
_router_state_installed = False


def _per_thread_router_state() -> None:
    """Make Powertools' request state per thread, as it is per process in Lambda.

    Powertools' resolvers put the request being handled in class attributes of ``BaseRouter``
    (``BaseRouter.current_event = ...``), shared by every resolver in the process: two functions handling
    requests at once on gateway threads would read each other's path, headers and body. Here the two
    attributes become per-thread: a property on a subclass of BaseRouter's metaclass (so that the
    class-level assignment goes through it) and one on the class (for reads through an instance).
    """
    global _router_state_installed
    with _router_state_lock:
        if _router_state_installed:
            return
        from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

        state = threading.local()

        def per_thread(name: str) -> property:
            return property(lambda _self: getattr(state, name, None), lambda _self, value: setattr(state, name, value))

        names = ("current_event", "lambda_context")
        meta = type(type(BaseRouter).__name__ + "PerThread", (type(BaseRouter),), {n: per_thread(n) for n in names})
        for name in names:
            type.__setattr__(BaseRouter, name, per_thread(name))
        BaseRouter.__class__ = meta  # type: ignore[method-assign]
        _router_state_installed = True


def _on_path(folder: Path) -> None:
    """Put a function's folder on the import path, as Lambda's /var/task is: its app.py may import the
    modules beside it (tests/unit/test_platform_layering.py keeps their names unique across functions)."""
    if str(folder) not in sys.path:
        sys.path.append(str(folder))


def http_event(route: Route, method: str, path: str, query: str, headers: dict[str, str], body: bytes,
               path_params: dict[str, str], claims: dict[str, str] | None, source_ip: str) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event."""
    from urllib.parse import parse_qsl

    qs: dict[str, str] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        qs[k] = f"{qs[k]},{v}" if k in qs else v
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    for k, v in headers.items():
        key = k.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in v.split(";") if c.strip())
            continue
        lowered[key] = f"{lowered[key]},{v}" if key in lowered else v
    is_text = body == b"" or _is_text(lowered.get("content-type", ""))
    if is_text:
        try:
            text = body.decode()
        except UnicodeDecodeError:  # "text" that is not UTF-8: API Gateway passes such a body base64-encoded
            is_text = False
    now = datetime.now(UTC)
    route_key = f"{route.method} {route.path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": lowered.get("user-agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if qs:
        event["queryStringParameters"] = qs
    if path_params:
        event["pathParameters"] = path_params
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if body:
        event["body"] = text if is_text else base64.b64encode(body).decode()
    return event


def _is_text(content_type: str) -> bool:
    ct = content_type.lower()
    return ct.startswith("text/") or "json" in ct or "xml" in ct or "x-www-form-urlencoded" in ct or ct == ""


def sqs_event(queue_id: str, messages: list[Any]) -> dict[str, Any]:
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_id}"
    return {"Records": [{
        "messageId": m.id,
        "receiptHandle": m.id,
        "body": m.body,
        "attributes": {
            "ApproximateReceiveCount": str(m.receive_count),
            "SentTimestamp": str(int(m.sent_at * 1000)),
            "SenderId": ACCOUNT,
            "ApproximateFirstReceiveTimestamp": str(int((m.first_receive or m.sent_at) * 1000)),
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": REGION,
    } for m in messages]}


def schedule_event(rule: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"],
        "detail": detail or {},
    }


def http_response(result: Any) -> tuple[int, dict[str, str], list[str], bytes]:
    """(status, headers, cookies, body) from a handler's return, with payload 2.0's inference rules."""
    import json

    if not isinstance(result, dict) or "statusCode" not in result:
        text = result if isinstance(result, str) else json.dumps(result)
        return 200, {"content-type": "application/json"}, [], text.encode()
    headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for k, vs in (result.get("multiValueHeaders") or {}).items():
        headers[k.lower()] = ",".join(str(v) for v in vs)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return int(result["statusCode"]), headers, list(result.get("cookies") or []), body
