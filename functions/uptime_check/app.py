"""Scheduled uptime checker: pings the monitors that are due and records status and response time."""

from __future__ import annotations

from typing import Any

from telltale.apianalytics import monitors
from telltale.log import powertools_logger

logger = powertools_logger()  # from telltale.log, not telltale.http: no HTTP resolver to import


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    due = monitors.claim_due()
    results = monitors.run_checks(due)
    up = sum(1 for r in results if r["up"])
    logger.info("uptime checks done", extra={"checked": len(results), "up": up, "down": len(results) - up})
    return {"checked": len(results), "up": up, "down": len(results) - up}
