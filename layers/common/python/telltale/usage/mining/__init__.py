"""Warehouse query-log miners, one module per warehouse; :func:`for_connector` picks one by type.

A miner yields BiRecords (``resource_type = query_log``) and keeps ``state``: where it stopped, saved on the
connector after a run that did not fail, and passed back on the next run (incremental mining).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, Protocol

from telltale.usage import connector_config
from telltale.usage.scrapers.base import BiRecord, ItemError


class Miner(Protocol):
    state: dict[str, Any]

    def mine(self) -> Iterator[BiRecord | ItemError]: ...


def for_connector(connector: dict[str, Any]) -> Miner:
    module = importlib.import_module(f"telltale.usage.mining.{connector['type']}")
    config = connector_config.effective(connector["type"], connector["config"])
    miner: Miner = module.make(config, connector["credentials"], dict(connector["mining_state"] or {}))
    return miner
