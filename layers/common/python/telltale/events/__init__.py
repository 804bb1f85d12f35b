"""Events (spec 004): ingestion, the event store port and its adapters, and the query DSL."""
