"""Applies the platform's SQL migrations and seeds the secret types. Idempotent: run after every deploy."""

from __future__ import annotations

from typing import Any

from telltale.platform import migrate
from telltale.platform.log import powertools_logger
from telltale.secrets import types as secret_types

logger = powertools_logger()  # from telltale.platform.log, not telltale.web.http: no HTTP resolver to import


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    applied = migrate.apply_all()
    secret_types.seed()
    logger.info("migrations applied", extra={"applied": applied})
    return {"applied": applied}
