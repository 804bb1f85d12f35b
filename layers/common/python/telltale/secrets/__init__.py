"""Connection secrets: one home for storing, serving and resolving them.

- :mod:`~telltale.secrets.store`: Secrets Manager access (names, cached reads, writes); also the platform
  database's own password (:mod:`telltale.platform.db`).
- :mod:`~telltale.secrets.service`: the secrets API (spec 000, steps 1 and 2) and its request models.
- :mod:`~telltale.secrets.lookup`: :func:`~telltale.secrets.lookup.resolve`, the one way from (tenant,
  app, key) to a secret's type and value, and :class:`~telltale.secrets.lookup.SecretNotFound`; pydantic-free,
  for execute_query's cold start.
- :mod:`~telltale.secrets.types`: the analytics secret types, derived from the source registry
  (:mod:`telltale.sources`).

Nothing is imported here: each user loads only the module it needs.
"""
