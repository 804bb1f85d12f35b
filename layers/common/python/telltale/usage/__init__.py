"""Usage analytics (spec 001): connectors, spaces and data products, BI scraping, warehouse query-log
mining, SQL anonymization and per-product usage aggregation.

Modules: ``catalog`` (connectors, spaces, products), ``sql`` (anonymizer and table/column extraction),
``store`` (BiQuery upserts and sync jobs), ``integrations/`` (the registry of BI tools and warehouses usage
is read from, one module each, their one contract and their config models), ``sync`` (runs an integration
as a recorded job), ``aggregate`` (usage stats in SQL).
"""
