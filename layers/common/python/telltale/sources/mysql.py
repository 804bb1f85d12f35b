"""MySQL and MariaDB (external).

Left out of the allow-list, and so refused by name: SLEEP, BENCHMARK, the lock functions (GET_LOCK and
its family), LOAD_FILE, replication waits (MASTER_POS_WAIT, SOURCE_POS_WAIT, WAIT_FOR_*), and what
describes the session or the server (USER(), DATABASE(), VERSION(), CONNECTION_ID(), LAST_INSERT_ID(),
FOUND_ROWS()). User variables (``@x``, ``@x := ...``) and system variables (``@@x``) are not values the
guard allows at all.
"""

from __future__ import annotations

from telltale.sources._sql_fields import sql_connection
from telltale.sources.base import Source, SqlRules, words

FUNCTIONS = words("""
count sum avg min max std stddev stddev_pop stddev_samp variance var_pop var_samp group_concat bit_and bit_or
bit_xor json_arrayagg json_objectagg any_value row_number rank dense_rank percent_rank cume_dist ntile lag lead
first_value last_value nth_value abs ceil ceiling floor round truncate sign sqrt exp ln log log2 log10 pow power mod
pi degrees radians sin cos tan asin acos atan atan2 cot greatest least rand conv crc32 length char_length
character_length octet_length bit_length lower lcase upper ucase trim ltrim rtrim substr substring substring_index
mid left right locate instr position replace concat concat_ws lpad rpad repeat reverse md5 sha1 sha2 hex unhex ascii
ord space strcmp field find_in_set elt format soundex regexp_like regexp_replace regexp_substr regexp_instr
to_base64 from_base64 char now curdate current_date timestamp curtime current_time current_timestamp utc_date
utc_time utc_timestamp date time year month day dayofmonth dayofweek dayofyear weekday week weekofyear yearweek
quarter hour minute second microsecond monthname dayname last_day date_add date_sub adddate subdate addtime subtime
datediff timediff timestampdiff timestampadd date_format time_format str_to_date from_unixtime unix_timestamp
makedate maketime period_add period_diff extract to_days from_days convert_tz sec_to_time time_to_sec json_extract
json_unquote json_object json_array json_contains json_contains_path json_keys json_length json_type json_valid
json_search json_value json_depth json_pretty if ifnull nullif coalesce isnull bin oct inet_aton inet_ntoa uuid
""")

SOURCE = Source(
    slug="mysql",
    name="MySQL",
    description="Web application databases",
    secret_type="analytics-mysql",
    language="mysql",
    connector="telltale.connectors.mysql",
    test_query="SELECT 1",
    secret_fields=sql_connection("Database port (5432 for PostgreSQL, 3306 for MySQL, 5439 for Redshift)"),
    sql=SqlRules(dialect="mysql", functions=FUNCTIONS,
                 system_schemas=frozenset({"mysql", "information_schema", "performance_schema", "sys"}),
                 # pymysql has no server-side binding: it would quote the value client-side, as sqlglot does.
                 secret_binding="literal"),
)
