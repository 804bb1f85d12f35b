"""ClickHouse (clickhouse-connect over HTTP/HTTPS): every query runs with server-side limits that bound a
read (time, result rows and bytes, memory) and ``readonly=1`` set last, so neither the query's own
``SETTINGS`` clause nor a ``SET`` can lift them (readonly=1 refuses any change of setting); ``secure``
picks HTTPS (the secret type's default). Parameters are ClickHouse server-side query parameters
(``{name:String}`` in the SQL, values sent apart from the text).

The result is read as a stream of blocks and kept within the reply's row and byte limits as rows arrive;
the bytes coming off the HTTP response are counted too, so a single huge value (a block bigger than the
budget: ``result_overflow_mode='break'`` still sends the block that crossed ``max_result_bytes``) is not
read past the budget: the connection is dropped, and the server cancels a read-only query whose client
went away (``cancel_http_readonly_queries_on_client_close``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from telltale.connectors.base import (
    READ_SLACK,
    Limits,
    Prepared,
    ReplyFull,
    Result,
    RowBudget,
    connector_error,
    execution_error,
)
from telltale.connectors.outbound import clickhouse_pool
from telltale.platform.netguard import Blocked

# What one read may hold in the server's memory: aggregations need some, a 1 GB string does not fit.
MAX_MEMORY_USAGE = 1 << 30
BLOCK_ROWS = 1000
# clickhouse-connect reads this far ahead of the parser (10 MB by default): no further than a chunk.
READ_AHEAD = 1 << 20


def settings_for(limits: Limits, timeout: int) -> dict[str, Any]:
    return {
        "max_execution_time": timeout,
        "max_result_rows": limits.max_rows + 1,
        "max_result_bytes": limits.max_bytes,
        # Stop reading at the limit and return what was read (the reply says truncated), not an error.
        "result_overflow_mode": "break",
        "max_memory_usage": MAX_MEMORY_USAGE,
        # The client parses a whole block before it hands over a row: small blocks keep that bounded.
        "max_block_size": min(limits.max_rows + 1, BLOCK_ROWS),
        "cancel_http_readonly_queries_on_client_close": 1,
        # Last, so the limits above are set before the profile turns read-only.
        "readonly": 1,
    }


def _counted(gen: Iterator[bytes], budget: RowBudget, response: Any) -> Iterator[bytes]:
    """The response's chunks, refusing to go on once more has arrived than the reply could hold."""
    received = 0
    for chunk in gen:
        received += len(chunk)
        if received > budget.max_bytes + READ_SLACK:
            budget.over_bytes()
            with contextlib.suppress(Exception):
                response.close()  # drop the connection: do not drain the rest
            raise ReplyFull("the response outgrew the budget")
        yield chunk


class ClickHouseConnector:
    driver = "clickhouse"
    libraries: tuple[str, ...] = ("clickhouse_connect", "clickhouse_connect.driver.exceptions")

    def execute(self, prepared: Prepared, limits: Limits) -> Result:
        import clickhouse_connect
        from clickhouse_connect import common
        from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError

        common.set_setting("http_buffer_size", READ_AHEAD)
        config = prepared.config
        timeout = min(int(config.get("statement_timeout") or limits.statement_timeout_s), limits.statement_timeout_s)
        try:
            client = clickhouse_connect.get_client(
                host=config["host"], port=int(config["port"]), username=config["username"],
                password=config.get("password") or "", database=config["database"],
                secure=bool(config.get("secure", True)),
                connect_timeout=min(int(config.get("connect_timeout") or 10), limits.connect_timeout_s),
                send_receive_timeout=timeout + 2, autogenerate_session_id=False, query_retries=0,
                pool_mgr=clickhouse_pool(),  # connections checked and pinned by telltale.platform.netguard
            )
        except (OperationalError, DatabaseError, OSError, Blocked) as exc:
            raise connector_error("ClickHouse", exc, config) from None
        except ClickHouseError as exc:
            raise connector_error("ClickHouse", exc, config) from None
        budget = RowBudget(limits)
        columns: list[dict[str, str]] = []
        backend: Any = getattr(client, "_backend")  # noqa: B009 - private: the HTTP backend of this client
        run_query = backend.execute_query

        def guarded(*args: Any, **kwargs: Any) -> Any:
            execution = run_query(*args, **kwargs)
            source = execution.source
            if source is not None:
                source.gen = _counted(source.gen, budget, source.response)
            return execution

        backend.execute_query = guarded
        # A string is read whole once its length prefix arrives; clickhouse-connect's C reader allocates that
        # length (rounded up to a power of two) before the bytes come, so a 100 MB value cost 270 MB before
        # the count above could stop it. Its pure-Python reader pulls the bytes through the counted stream.
        # Deployed, this function runs the pure-Python reader (template.yaml sets CLICKHOUSE_CONNECT_USE_C=0
        # for it: the connector is its only ClickHouse client); a process that loaded the C reader (the local
        # stack, which also runs the ClickHouse event store) keeps it, and bounds a huge value less tightly.
        try:
            with client.query_row_block_stream(prepared.text, parameters=prepared.params or None,
                                               settings=settings_for(limits, timeout)) as blocks:
                names = list(blocks.source.column_names)
                columns = [{"name": n, "type": getattr(t, "name", str(t))}
                           for n, t in zip(names, blocks.source.column_types, strict=False)]
                budget.columns(names)
                for block in blocks:
                    for row in block:
                        if not budget.add(list(row)):
                            break
                    if budget.full:
                        break
        except ReplyFull:
            pass
        except Blocked as exc:  # a new connection of the pool, checked again (DNS may have changed)
            raise connector_error("ClickHouse", exc, config) from None
        except OperationalError as exc:
            if "timed out" in str(exc).lower() or "timeout" in str(exc).lower():
                raise execution_error(exc, config, message=f"the query did not finish within {timeout} s") from None
            raise connector_error("ClickHouse", exc, config) from None
        except ClickHouseError as exc:
            raise execution_error(exc, config, message=_first_line(str(exc))) from None
        finally:
            with contextlib.suppress(Exception):
                client.close()
        return budget.result(columns)


def _first_line(text: str) -> str:
    # ClickHouse errors repeat the query and a stack trace; the first sentence says what went wrong.
    text = text.replace("\n", " ")
    marker = "server response: "
    if marker in text:
        text = text[text.index(marker) + len(marker):]
    cut = text.find("Stack trace")
    return text[: cut if cut > 0 else 400].strip()


CONNECTOR = ClickHouseConnector()
