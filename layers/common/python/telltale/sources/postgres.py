"""PostgreSQL (external): a database the tenant runs, reached with the credentials in its secret."""

from __future__ import annotations

from telltale.sources import _postgres_functions as pg
from telltale.sources._sql_fields import sql_connection
from telltale.sources.base import Source, SqlRules

SOURCE = Source(
    slug="postgres",
    name="PostgreSQL",
    description="Relational data, complex queries",
    secret_type="analytics-postgres",
    language="postgres",
    connector="telltale.connectors.postgres",
    test_query="SELECT 1",
    secret_fields=sql_connection("Database port (5432 for PostgreSQL, 3306 for MySQL, 5439 for Redshift)"),
    sql=SqlRules(dialect="postgres", functions=pg.FUNCTIONS, table_functions=pg.TABLE_FUNCTIONS,
                 system_schemas=pg.SYSTEM_SCHEMAS, system_prefixes=pg.SYSTEM_PREFIXES, secret_binding="named"),
)
