"""The platform's logging: one logger, named "telltale".

Library code logs through :data:`logger`, the standard ``logging`` logger, at no import cost. A function
that wants Powertools' JSON lines with the Lambda context (``inject_lambda_context``) takes
:func:`powertools_logger`, which attaches Powertools' handler to that same logger, so library lines come
out in its format too. ``execute_query`` does not (to keep its cold start short); its lines reach the root
logger, which Lambda formats as JSON (``LoggingConfig: LogFormat: JSON`` in template.yaml). Either way a
line is ``logger.info("message", extra={...})``.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

logger = logging.getLogger("telltale")


@lru_cache(maxsize=1)
def powertools_logger() -> Logger:
    """Powertools' ``Logger(service="telltale")``, made once per process (it owns the "telltale" logger)."""
    from aws_lambda_powertools import Logger

    return Logger(service="telltale")


def quiet_sqlglot() -> None:
    """Keep sqlglot's own logger to errors only: at WARNING it logs "'<the whole SQL>' contains unsupported
    syntax", and that SQL may hold passwords, personal data or secret values that must never reach a log."""
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
