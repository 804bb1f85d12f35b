"""Internal: the tenant's own schema in the platform database; no secret, no credentials of the tenant's.

The same functions as PostgreSQL; the guard also confines every table to the tenant's schema and rewrites
logical names (``orders``) to physical ones (``shop_orders``), and the database runs it as a login role of
the tenant's that can read nothing else.
"""

from __future__ import annotations

from telltale.sources import _postgres_functions as pg
from telltale.sources.base import Source, SqlRules

SOURCE = Source(
    slug="internal",
    name="Internal (tenant DB)",
    description="The tenant's own schema",
    secret_type=None,
    language="postgres",
    connector="telltale.connectors.internal",
    test_query="SELECT 1",
    sql=SqlRules(dialect="postgres", functions=pg.FUNCTIONS, table_functions=pg.TABLE_FUNCTIONS,
                 system_schemas=pg.SYSTEM_SCHEMAS, system_prefixes=pg.SYSTEM_PREFIXES, secret_binding="named"),
)
