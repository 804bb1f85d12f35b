"""boto3 clients, created once per process and pointed at the configured endpoint (moto locally)."""

from __future__ import annotations

import threading
from typing import Any

from telltale.platform.config import get_settings

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def client(service: str) -> Any:
    with _lock:
        if service not in _clients:
            import boto3

            settings = get_settings()
            session: Any = boto3.session.Session()
            _clients[service] = session.client(
                service, region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
            )
        return _clients[service]


def reset_clients() -> None:
    with _lock:
        _clients.clear()
