"""Redshift: PostgreSQL's wire protocol and most of its functions, Redshift's own dialect and extras."""

from __future__ import annotations

from telltale.sources import _postgres_functions as pg
from telltale.sources._sql_fields import sql_connection
from telltale.sources.base import Source, SqlRules, words

# Redshift's own spellings; the PostgreSQL ones it lacks simply fail on the server.
REDSHIFT_FUNCTIONS = words("""
listagg median getdate sysdate dateadd datediff months_between add_months convert_timezone nvl nvl2 decode len
charindex json_extract_array_element_text json_array_length json_extract_path_text is_valid_json date date_cmp trunc
last_day next_day to_char to_date to_timestamp ratio_to_report
""")

SOURCE = Source(
    slug="redshift",
    name="Redshift",
    description="Data warehouse analytics",
    secret_type="analytics-redshift",
    language="redshift",
    connector="telltale.connectors.redshift",
    test_query="SELECT 1",
    # Spec 000's table: port is required for every SQL type (5439 is Redshift's usual one), no default.
    secret_fields=sql_connection("Database port (5439 for Redshift)", ssl_default=True,
                                 ssl_description="Connect with TLS (Redshift requires it by default)"),
    sql=SqlRules(dialect="redshift", functions=pg.FUNCTIONS | REDSHIFT_FUNCTIONS,
                 table_functions=pg.TABLE_FUNCTIONS - {"json_to_recordset", "jsonb_to_recordset"},
                 system_schemas=pg.SYSTEM_SCHEMAS, system_prefixes=(*pg.SYSTEM_PREFIXES, "stl_", "stv_", "svl_", "svv_",
                                                                     "sys_"),
                 secret_binding="named"),
)
