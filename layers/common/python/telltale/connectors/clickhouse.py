"""ClickHouse (clickhouse-connect over HTTP/HTTPS): every query runs with ``readonly=1``, a server-side
time limit and a result-row limit; ``secure`` picks HTTPS (the secret type's default)."""

from __future__ import annotations

from typing import Any

from telltale.connectors.base import Limits, Prepared, Result, connector_error, execution_error, rows_as_dicts
from telltale.connectors.outbound import clickhouse_pool
from telltale.netguard import Blocked


class ClickHouseConnector:
    driver = "clickhouse"

    def execute(self, prepared: Prepared, limits: Limits) -> Result:
        import clickhouse_connect
        from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError

        config = prepared.config
        timeout = min(int(config.get("statement_timeout") or limits.statement_timeout_s), limits.statement_timeout_s)
        try:
            client = clickhouse_connect.get_client(
                host=config["host"], port=int(config["port"]), username=config["username"],
                password=config.get("password") or "", database=config["database"],
                secure=bool(config.get("secure", True)),
                connect_timeout=min(int(config.get("connect_timeout") or 10), limits.connect_timeout_s),
                send_receive_timeout=timeout + 2, autogenerate_session_id=False,
                pool_mgr=clickhouse_pool(),  # connections checked and pinned by telltale.netguard
            )
        except (OperationalError, DatabaseError, OSError, Blocked) as exc:
            raise connector_error("ClickHouse", exc, config) from None
        except ClickHouseError as exc:
            raise connector_error("ClickHouse", exc, config) from None
        settings: dict[str, Any] = {
            "max_execution_time": timeout,
            "max_result_rows": limits.max_rows + 1,
            "result_overflow_mode": "break",
            # Last, so the limits above are set before the profile turns read-only.
            "readonly": 1,
        }
        try:
            result = client.query(prepared.text, settings=settings)
        except Blocked as exc:  # a new connection of the pool, checked again (DNS may have changed)
            raise connector_error("ClickHouse", exc, config) from None
        except OperationalError as exc:
            if "timed out" in str(exc).lower() or "timeout" in str(exc).lower():
                raise execution_error(exc, config, message=f"the query did not finish within {timeout} s") from None
            raise connector_error("ClickHouse", exc, config) from None
        except ClickHouseError as exc:
            raise execution_error(exc, config, message=_first_line(str(exc))) from None
        finally:
            client.close()
        names = list(result.column_names)
        columns = [{"name": n, "type": getattr(t, "name", str(t))}
                   for n, t in zip(names, result.column_types, strict=False)]
        rows = result.result_rows
        truncated = len(rows) > limits.max_rows
        return Result(columns, rows_as_dicts(names, rows[: limits.max_rows]), truncated)


def _first_line(text: str) -> str:
    # ClickHouse errors repeat the query and a stack trace; the first sentence says what went wrong.
    text = text.replace("\n", " ")
    marker = "server response: "
    if marker in text:
        text = text[text.index(marker) + len(marker):]
    cut = text.find("Stack trace")
    return text[: cut if cut > 0 else 400].strip()


CONNECTOR = ClickHouseConnector()
