"""Usage integrations: the BI tools and warehouse query logs that usage is read from, one module each.

The registry below is the one list of them: the connector types the API accepts (spec 001's
``/connectors``; the HTTP resource keeps that name), what kind each is (a BI tool is synced, a warehouse's
query log is mined), what its config and credentials must hold, and which module reads it. A module is
imported only when a sync runs it. (The query drivers of saved queries are ``telltale.connectors``;
these are not those.)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from telltale.usage.integrations.base import Integration

Kind = Literal["bi", "warehouse"]


@dataclass(frozen=True)
class IntegrationType:
    kind: Kind
    module: str  # under telltale.usage.integrations
    required_config: tuple[str, ...]
    credential_sets: tuple[tuple[str, ...], ...]  # any one of them, every key of it given
    doc: str


_URL = "base_url"
REGISTRY: dict[str, IntegrationType] = {
    "superset": IntegrationType(
        "bi", "superset", (_URL,), (("username", "password"),),
        "config.base_url; credentials.username, credentials.password (optional provider: db|ldap)"),
    "metabase": IntegrationType(
        "bi", "metabase", (_URL,), (("api_key",), ("username", "password")),
        "config.base_url; credentials.api_key, or credentials.username + credentials.password"),
    "looker": IntegrationType(
        "bi", "looker", (_URL,), (("client_id", "client_secret"),),
        "config.base_url (the API host, without /api/4.0); credentials.client_id, client_secret"),
    "tableau": IntegrationType(
        "bi", "tableau", (_URL,), (("pat_name", "pat_secret"), ("username", "password")),
        "config.base_url, config.site (content URL, '' = default site), optional api_version; "
        "credentials.pat_name + pat_secret, or username + password"),
    "power_bi": IntegrationType(
        "bi", "powerbi", (), (("client_id", "client_secret"),),
        "config.azure_tenant_id or config.token_url, optional base_url; "
        "credentials.client_id + client_secret (Entra ID client credentials)"),
    "snowflake": IntegrationType(
        "warehouse", "snowflake", (), (("token",),),
        "config.account or config.base_url, optional warehouse/role; credentials.token "
        "(OAuth or programmatic access token; optional token_type)"),
    "bigquery": IntegrationType(
        "warehouse", "bigquery", ("project",), (("access_token",),),
        "config.project, optional region (default us) and base_url; credentials.access_token"),
    "postgres": IntegrationType(
        "warehouse", "postgres", ("host", "database"), (("username",),),
        "config.host, config.port (5432), config.database; credentials.username (or its alias user), "
        "credentials.password"),
}
TYPES = tuple(REGISTRY)
BI_TYPES = tuple(t for t, spec in REGISTRY.items() if spec.kind == "bi")
WAREHOUSE_TYPES = tuple(t for t, spec in REGISTRY.items() if spec.kind == "warehouse")


def load(connector: dict[str, Any]) -> Integration:
    """The integration that reads ``connector`` (a row with its type, config, credentials and mining state),
    with its config validated and its defaults filled in."""
    from telltale.secrets import vocabulary
    from telltale.usage.integrations import config

    ctype = connector["type"]
    module = importlib.import_module(f"telltale.usage.integrations.{REGISTRY[ctype].module}")
    state = dict(connector.get("mining_state") or {})
    # Canonical names: a connector saved before the vocabulary was one kept "user" in its secret.
    credentials = vocabulary.canonical(connector["credentials"], "credentials")
    integration: Integration = module.make(config.effective(ctype, connector["config"]), credentials, state)
    return integration
