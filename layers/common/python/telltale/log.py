"""The platform's logger, for library code: the standard ``logging`` logger named "telltale".

Functions that import ``telltale.http`` also set up Powertools' ``Logger(service="telltale")``, which
attaches its JSON handler to this same logger, so library lines come out as Powertools JSON there.
``execute_query`` does not load Powertools (to keep its cold start short); its lines reach the root
logger, which Lambda formats as JSON (``LoggingConfig: LogFormat: JSON`` in template.yaml). Either way a
line is ``logger.info("message", extra={...})``.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("telltale")
