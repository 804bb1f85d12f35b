"""Usage analytics (spec 001): connectors, spaces and data products, BI scraping, warehouse query-log
mining, SQL anonymization and per-product usage aggregation.

Modules: ``catalog`` (connectors, spaces, products), ``sql`` (anonymizer and table/column extraction),
``store`` (BiQuery upserts and sync jobs), ``scrapers/`` (one module per BI tool), ``mining/`` (one module
per warehouse), ``sync`` (runs a scraper or a miner as a recorded job), ``aggregate`` (usage stats in SQL).
"""
