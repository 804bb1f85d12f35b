"""Scheduled retention: deletes API keys idle for 6 months, with all their data."""

from __future__ import annotations

from typing import Any

from telltale.apianalytics import retention
from telltale.http import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deleted = retention.purge_inactive()
    logger.info("api analytics retention done", extra={"keys_deleted": len(deleted)})
    return {"keys_deleted": len(deleted)}
