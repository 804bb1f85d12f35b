"""Applies the platform's SQL migrations and seeds the secret types. Idempotent: run after every deploy."""

from __future__ import annotations

from typing import Any

from telltale import migrate, secret_types
from telltale.log import powertools_logger

logger = powertools_logger()  # from telltale.log, not telltale.http: no HTTP resolver to import


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    applied = migrate.apply_all()
    secret_types.seed()
    logger.info("migrations applied", extra={"applied": applied})
    return {"applied": applied}
