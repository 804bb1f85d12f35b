"""The ClickHouse event store's DDL in both modes: one node, and a cluster (ON CLUSTER everywhere,
Replicated tables behind Distributed ones sharded by tenant). The golden files are the reviewed DDL: a
change to a table shows in the diff of a golden file, regenerate it deliberately with
``.venv/bin/python tests/unit/test_events_clickhouse_ddl.py``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
MODES = {"clickhouse_single_node.sql": ("telltale_events", ""),
         "clickhouse_cluster.sql": ("telltale_events", "analytics")}


def _render(database: str, cluster: str) -> str:
    from telltale.events.stores import clickhouse_schema as schema

    return ";\n\n".join(schema.ddl(schema.Layout(database, cluster))) + ";\n"


def test_the_ddl_is_the_reviewed_one():
    for name, (database, cluster) in MODES.items():
        assert _render(database, cluster) == (GOLDEN / name).read_text(), f"{name} changed: review and regenerate"


def test_one_node_has_no_cluster_and_plain_engines():
    from telltale.events.stores import clickhouse_schema as schema

    statements = schema.ddl(schema.Layout("db"))
    assert not any("ON CLUSTER" in s or "Replicated" in s or "Distributed" in s for s in statements)
    events = next(s for s in statements if "`db`.`events` (" in s)
    assert "ENGINE = ReplacingMergeTree(version)" in events
    assert "PARTITION BY toYYYYMM(occurred_at)" in events
    assert "ORDER BY (tenant_id, event_type, occurred_at, event_id)" in events
    assert all("IF NOT EXISTS" in s for s in statements)  # every statement safe to repeat


def test_a_cluster_replicates_every_table_and_shards_by_tenant():
    from telltale.events.stores import clickhouse_schema as schema

    statements = schema.ddl(schema.Layout("db", "prod"))
    assert all(s.split("(")[0].count("ON CLUSTER `prod`") == 1 for s in statements), statements
    engines = re.findall(r"ENGINE = (\w+)\(([^)]*)\)", "\n".join(statements))
    data = [(e, a) for e, a in engines if e != "Distributed"]
    assert data and all(e.startswith("Replicated") for e, _ in data), data
    for e, args in data:  # the standard macros: a replica set per shard (the migrations record: per cluster)
        assert "'{replica}'" in args and ("{shard}" in args or "schema_migrations" in args), (e, args)
    fronts = [a for e, a in engines if e == "Distributed"]
    assert sorted(a.split(", ")[2] for a in fronts) == ["`api_request_rollups_local`", "`api_requests_local`",
                                                       "`event_ids_local`", "`events_local`"]
    # A tenant's rows on one shard (the regex above stops before the hash's closing parenthesis).
    assert all(a.endswith("cityHash64(tenant_id") for a in fronts)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "common" / "python"))
    for name, (database, cluster) in MODES.items():
        (GOLDEN / name).write_text(_render(database, cluster))
