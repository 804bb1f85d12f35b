"""Scheduled uptime checker: pings the monitors that are due and records status and response time."""

from __future__ import annotations

from typing import Any

from telltale.apianalytics import monitors
from telltale.platform.log import powertools_logger

logger = powertools_logger()  # from telltale.platform.log, not telltale.web.http: no HTTP resolver to import


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Bounded by this invocation's remaining time: a run that Lambda cut short would leave claimed
    # monitors unchecked until their next interval.
    results = monitors.run_due(context.get_remaining_time_in_millis() / 1000)
    up = sum(1 for r in results if r["up"])
    logger.info("uptime checks done", extra={"checked": len(results), "up": up, "down": len(results) - up})
    return {"checked": len(results), "up": up, "down": len(results) - up}
