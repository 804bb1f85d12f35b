"""Usage analytics catalog (spec 001): one router per resource, in this folder: connectors
(catalog_connectors), spaces (catalog_spaces) and the data products of a space (catalog_products)."""

from __future__ import annotations

from catalog_connectors import router as connectors
from catalog_products import router as products
from catalog_spaces import router as spaces

from telltale.web.http import lambda_handler

routers = (connectors, spaces, products)
app, handler = lambda_handler(*routers)
