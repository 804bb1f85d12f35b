"""API request analytics (spec 002): API keys, request ingestion and enrichment, the data API and
dashboard statistics, uptime monitors and retention. Handlers in ``functions/`` call into here."""
