"""The Elasticsearch guard: the rendered template must be one JSON search body that runs no script and
reads no index beyond the secret's pattern.

Scripts are refused anywhere in the body (``script``, ``script_fields``, ``script_score``,
``scripted_metric``, ``bucket_script``, stored scripts by id), as are ``runtime_mappings``. Lookups that
read another index (terms lookup, percolate, more_like_this, indexed shapes) name it with ``index`` or
``_index``; every such name must fall within the secret's pattern.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from telltale.errors import QueryValidationError

ALLOWED_TOP_LEVEL = {
    "query", "_source", "sort", "size", "from", "aggs", "aggregations", "track_total_hits", "fields",
    "docvalue_fields", "highlight", "post_filter", "min_score", "search_after", "collapse", "timeout",
    "terminate_after", "stored_fields", "explain", "version", "seq_no_primary_term", "track_scores",
    "indices_boost", "rescore", "suggest", "index",
}
_DENIED_KEYS = {"runtime_mappings", "stored_script", "search_template", "pit", "slice",
                # "wrapper" takes a base64-encoded query the guard cannot see into; "template" renders one.
                "wrapper", "template"}
# script, scripts, _script, script_fields, script_score, scripted_metric, bucket_script, ...
# (but not field names that merely contain the letters, like "description").
_SCRIPT_KEY = re.compile(r"(^|_)script(s|ed)?(_|$)")
_MAX_DEPTH = 64


def refuse(reason: str) -> QueryValidationError:
    return QueryValidationError(f"query refused: {reason}", errors={"query_text": [reason]})


def _index_allowed(requested: str, allowed: str) -> bool:
    patterns = [p.strip() for p in allowed.split(",") if p.strip() and not p.strip().startswith("-")]
    for part in (p.strip() for p in requested.split(",")):
        if not part or part.startswith(("-", "_", ".")) or ":" in part:
            return False
        if part in patterns:
            continue
        # A narrower name is fine (logs-2024 within logs-*), a wider pattern is not.
        if any(c in part for c in "*?[]") or not any(fnmatch.fnmatchcase(part, p) for p in patterns):
            return False
    return True


def check(text: str, allowed_index: str | None) -> dict[str, Any]:
    """The search body as a dict, or a QueryValidationError naming the reason."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise refuse(f"the Elasticsearch query is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise refuse("the Elasticsearch query must be a JSON object (a _search body)")
    unknown = sorted(set(body) - ALLOWED_TOP_LEVEL)
    if unknown:
        raise refuse(f"'{unknown[0]}' is not allowed in a search body; allowed keys: "
                     f"{', '.join(sorted(ALLOWED_TOP_LEVEL))}")
    for key in ("size", "from"):
        if key in body and (not isinstance(body[key], int) or isinstance(body[key], bool) or body[key] < 0):
            raise refuse(f"'{key}' must be a non-negative integer")
    _walk(body, allowed_index, 0, "")
    return body


def _walk(node: Any, allowed_index: str | None, depth: int, path: str) -> None:
    if depth > _MAX_DEPTH:
        raise refuse("the search body is nested too deeply")
    if isinstance(node, list):
        for item in node:
            _walk(item, allowed_index, depth + 1, path)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        lowered = str(key).lower()
        where = f"{path}.{key}" if path else str(key)
        if _SCRIPT_KEY.search(lowered):
            raise refuse(f"scripts are not allowed ('{where}')")
        if lowered in _DENIED_KEYS:
            raise refuse(f"'{key}' is not allowed ('{where}')")
        if lowered in ("index", "_index"):
            if not isinstance(value, str) or allowed_index is None or not _index_allowed(value, allowed_index):
                raise refuse(f"index '{value}' at '{where}' is outside the secret's index pattern")
            continue
        _walk(value, allowed_index, depth + 1, where)
