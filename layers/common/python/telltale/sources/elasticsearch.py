"""Elasticsearch (external): one ``_search`` body per query, checked key by key against this source's
allow-list, the Query DSL grammar in ``_elasticsearch_grammar.py`` (walked by telltale.queries.es_guard)."""

from __future__ import annotations

from telltale.sources.base import SecretField, Source

SOURCE = Source(
    slug="elasticsearch",
    name="Elasticsearch",
    description="Log analysis, full-text search",
    secret_type="analytics-elasticsearch",
    language="elasticsearch",
    connector="telltale.connectors.elasticsearch",
    test_query='{"size": 0, "query": {"match_all": {}}}',
    secret_fields=(
        SecretField("host", "string", "Elasticsearch host URL", host=True),
        SecretField("port", "integer", "Port (default: 9200)", required=False, default=9200, minimum=1,
                    maximum=65535),
        SecretField("index", "string", "Default index pattern"),
        SecretField("username", "string", "Basic auth username", required=False),
        SecretField("password", "string", "Basic auth password", required=False, secret=True, allow_empty=True),
        SecretField("api_key", "string", "API key (alternative to username/password)", required=False,
                    secret=True),
        # Custom headers often carry credentials: every value is treated as secret.
        SecretField("headers", "object", "Custom HTTP headers", required=False, secret=True),
        SecretField("max_result_rows", "integer", "Maximum rows to return (default: 10000)", required=False,
                    default=10000, minimum=1, maximum=100000),
        SecretField("verify_certs", "boolean", "Verify the server's TLS certificate", required=False, default=True),
        SecretField("request_timeout", "integer", "Seconds a search may take", required=False, default=30,
                    minimum=1, maximum=300),
    ),
)
