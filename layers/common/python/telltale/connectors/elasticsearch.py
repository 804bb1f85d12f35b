"""Elasticsearch (the official client): only ``_search``, on the index the secret names, with at most
``max_result_rows`` hits; hits become rows (``_source`` flattened to dotted column names, plus ``_id``,
``_index`` and ``_score``) and aggregations come back as plain values and bucket lists."""

from __future__ import annotations

import json
from typing import Any

from telltale.connectors.base import Limits, Prepared, Result, budget_words, connector_error, execution_error
from telltale.connectors.outbound import elasticsearch_node_class
from telltale.platform import netguard


def base_url(config: dict[str, Any]) -> str:
    """``[http(s)://]host[:port]`` only (spec 000's "https://es.example.com"): no path, query or user info."""
    try:
        scheme, host, port = netguard.split_origin(str(config["host"]), int(config.get("port") or 9200))
    except ValueError as exc:
        raise connector_error("Elasticsearch", netguard.Blocked(f"the host {exc}"), config) from None
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def _client(config: dict[str, Any], timeout: int) -> Any:
    from elasticsearch import Elasticsearch

    kwargs: dict[str, Any] = {"request_timeout": timeout, "retry_on_timeout": False, "max_retries": 0}
    if config.get("api_key"):
        kwargs["api_key"] = config["api_key"]
    elif config.get("username"):
        kwargs["basic_auth"] = (config["username"], config.get("password") or "")
    if config.get("headers"):
        kwargs["headers"] = dict(config["headers"])
    url = base_url(config)
    if url.startswith("https://"):
        kwargs["verify_certs"] = bool(config.get("verify_certs", True))
    return Elasticsearch(url, node_class=elasticsearch_node_class(), **kwargs)  # connections via netguard


def flatten(doc: Any, prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {} if out is None else out
    if isinstance(doc, dict):
        for k, v in doc.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                flatten(v, key, out)
            else:
                out[key] = v
    else:
        out[prefix or "value"] = doc
    return out


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    return "text"


def shape_aggregations(aggs: dict[str, Any]) -> dict[str, Any]:
    """ES aggregation replies as values (metrics) and lists of bucket rows (bucket aggregations)."""
    out: dict[str, Any] = {}
    for name, agg in aggs.items():
        if not isinstance(agg, dict):
            out[name] = agg
        elif "buckets" in agg:
            buckets = agg["buckets"]
            items = buckets.items() if isinstance(buckets, dict) else ((None, b) for b in buckets)
            rows = []
            for key, bucket in items:
                row: dict[str, Any] = {"key": bucket.get("key", key)}
                if "key_as_string" in bucket:
                    row["key_as_string"] = bucket["key_as_string"]
                row["doc_count"] = bucket.get("doc_count")
                for sub, value in shape_aggregations(
                        {k: v for k, v in bucket.items() if isinstance(v, dict)}).items():
                    row[sub] = value
                rows.append(row)
            out[name] = rows
        elif "value" in agg and len([k for k in agg if k not in ("value_as_string", "meta")]) == 1:
            out[name] = agg["value"]
        elif "hits" in agg:
            out[name] = [flatten(h.get("_source") or {}) for h in agg["hits"].get("hits", [])]
        else:
            nested = {k: v for k, v in agg.items() if isinstance(v, dict)}
            plain = {k: v for k, v in agg.items() if not isinstance(v, dict) and k != "meta"}
            out[name] = {**plain, **shape_aggregations(nested)}
    return out


class ElasticsearchConnector:
    driver = "elasticsearch"
    libraries: tuple[str, ...] = ("elasticsearch",)

    def execute(self, prepared: Prepared, limits: Limits) -> Result:
        from elastic_transport import ConnectionError as TransportConnectionError
        from elastic_transport import TransportError
        from elasticsearch import ApiError

        config = prepared.config
        body = dict(prepared.body or {})
        index = str(body.pop("index", None) or config["index"])
        cap = min(int(config.get("max_result_rows") or 10_000), limits.max_rows)
        size_asked = body.get("size", 10)
        body["size"] = min(int(size_asked), cap)
        body.setdefault("track_total_hits", True)
        timeout = min(int(config.get("request_timeout") or limits.statement_timeout_s), limits.statement_timeout_s)
        client = _client(config, timeout)
        try:
            reply = client.search(index=index, body=body, allow_no_indices=True, ignore_unavailable=True)
        except TransportConnectionError as exc:
            raise connector_error("Elasticsearch", exc, config) from None
        except ApiError as exc:
            why = _reason(exc)
            if exc.meta.status in (401, 403):
                raise connector_error("Elasticsearch", exc, config) from None
            raise execution_error(exc, config, message=f"{why} (HTTP {exc.meta.status})") from None
        except TransportError as exc:
            raise connector_error("Elasticsearch", exc, config) from None
        finally:
            client.close()
        data = reply.body if hasattr(reply, "body") else dict(reply)
        hits = (data.get("hits") or {}).get("hits") or []
        rows = []
        reason: str | None = None
        used = 2  # "[]"
        for hit in hits:
            row: dict[str, Any] = {"_id": hit.get("_id"), "_index": hit.get("_index"), "_score": hit.get("_score")}
            row.update(flatten(hit.get("_source") or {}))
            for field, values in (hit.get("fields") or {}).items():
                row.setdefault(field, values[0] if isinstance(values, list) and len(values) == 1 else values)
            # The reply's byte budget applies to hits as to SQL rows (their JSON size, str() for the rest).
            size = len(json.dumps(row, default=str)) + 2
            if used + size > limits.max_bytes:
                reason = f"the reply reached its {budget_words(limits.max_bytes)} byte budget"
                break
            used += size
            rows.append(row)
        columns: dict[str, str] = {}
        for row in rows:
            for k, v in row.items():
                if k not in columns or columns[k] == "null":
                    columns[k] = _json_type(v)
        total = (data.get("hits") or {}).get("total")
        total_value = total.get("value") if isinstance(total, dict) else total
        capped = bool(total_value is not None and int(total_value) > len(rows) and len(rows) >= body["size"]) or (
            int(size_asked) > cap and len(rows) >= cap)
        if reason is None and capped:
            reason = f"the row limit of {cap} was reached"
        extra: dict[str, Any] = {"hits_total": total_value}
        if data.get("aggregations"):
            extra["aggregations"] = shape_aggregations(data["aggregations"])
        return Result([{"name": k, "type": t} for k, t in columns.items()], rows, reason is not None, extra,
                      reason)


def _reason(exc: Any) -> str:
    # Only Elasticsearch's own error document is quoted (it says what is wrong with the search); any other
    # reply (an internal service the host turned out to be) stays unread: its body never reaches an error.
    headers = getattr(getattr(exc, "meta", None), "headers", None) or {}
    body = getattr(exc, "body", None)
    if headers.get("X-Elastic-Product") == "Elasticsearch" and isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("reason") or err.get("type") or "search failed")
        if isinstance(err, str) and err:
            return err
    return "the server did not answer as Elasticsearch does; check the secret's host and port"


CONNECTOR = ElasticsearchConnector()
