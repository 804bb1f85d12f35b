"""Uptime monitors (spec 002): register endpoints to watch, read their checks and uptime (X-AUTH-TOKEN)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from telltale.apianalytics import keys, monitors
from telltale.web.http import lambda_handler, logger, parse_body, success
from telltale.web.openapi import documents_body

router = APIGatewayHttpRouter()
# These routes authenticate with an API key, not the JWT (the OpenAPI description says so).
API_KEY_AUTH: list[dict[str, list[str]]] = [{"apiKey": []}]


def _key() -> keys.ApiKey:
    return keys.authenticate(router.current_event.headers)


def _query() -> dict[str, str]:
    return dict(router.current_event.query_string_parameters or {})


@router.get("/api/monitors", security=API_KEY_AUTH,
             summary="List the key's monitors", tags=["API monitoring"])
def list_monitors():
    rows = monitors.list_monitors(_key())
    return success(rows, total=len(rows))


@router.post("/api/monitors", security=API_KEY_AUTH,
             summary="Register an endpoint to watch", tags=["API monitoring"])
@documents_body(monitors.MonitorCreate, status=201)
def create_monitor():
    key = _key()
    body = parse_body(router, monitors.MonitorCreate)
    row = monitors.create(key, body)
    logger.info("monitor created", extra={"tenant": key.tenant_id, "monitor": str(row["id"])})
    return success(row, message="Monitor created", status=201)


@router.delete("/api/monitors/<monitor_id>", security=API_KEY_AUTH,
             summary="Stop watching an endpoint", tags=["API monitoring"])
def delete_monitor(monitor_id: str):
    monitors.delete(_key(), monitor_id)
    return success(message="Monitor deleted")


@router.get("/api/monitors/<monitor_id>/results", security=API_KEY_AUTH,
             summary="A monitor's checks, newest first",
            tags=["API monitoring"])
def monitor_results(monitor_id: str):
    rows = monitors.results(_key(), monitor_id, _query())
    return success(rows, total=len(rows))


@router.get("/api/uptime", security=API_KEY_AUTH,
             summary="Uptime and latency per monitor over time", tags=["API monitoring"])
def uptime():
    rows = monitors.uptime(_key(), _query())
    return success(rows, total=len(rows))


app, handler = lambda_handler(router)
