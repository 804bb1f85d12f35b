"""Saved queries (spec 000): models, sandboxed rendering, the SQL and Elasticsearch guards, the service."""
