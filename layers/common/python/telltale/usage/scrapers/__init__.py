"""BI scrapers, one module per tool; :func:`for_connector` picks one by connector type."""

from __future__ import annotations

import importlib
from typing import Any

from telltale.usage import connector_config
from telltale.usage.scrapers.base import Scraper

_MODULES = {"superset": "superset", "metabase": "metabase", "looker": "looker", "tableau": "tableau",
            "power_bi": "powerbi"}


def for_connector(connector: dict[str, Any]) -> Scraper:
    # Imported on use: a sync loads only its own tool's module.
    module = importlib.import_module(f"telltale.usage.scrapers.{_MODULES[connector['type']]}")
    config = connector_config.effective(connector["type"], connector["config"])
    scraper: Scraper = module.make(config, connector["credentials"])
    return scraper
