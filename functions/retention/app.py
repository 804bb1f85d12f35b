"""Scheduled retention: deletes API keys idle for 6 months, with all their data."""

from __future__ import annotations

from typing import Any

from telltale.apianalytics import retention
from telltale.platform.log import powertools_logger

logger = powertools_logger()  # from telltale.platform.log, not telltale.web.http: no HTTP resolver to import


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deleted = retention.purge_inactive()
    logger.info("api analytics retention done", extra={"keys_deleted": len(deleted)})
    return {"keys_deleted": len(deleted)}
