"""SaaS analysis (spec 003), computed from the tenant's events (spec 004) through the same event store.

Which events feed what (see docs/saas-metrics.md):
- user behavior: ``POST /api/analysis/user-behavior`` records each history item as a ``user.behavior`` event
  (actorType CONTACT, actorId = user_id); the history endpoint returns every event whose actorId is the
  user over the past 30 days, whatever its type.
- active users: distinct ``actorId`` of events with an ``actorType`` other than SYSTEM, per day or month;
  values set with ``PUT`` win over the computed ones.
- metrics: ``tenant.created`` (create_tenant), ``saas_user.created`` (create_saas_user),
  ``tenant_user.created`` (create_tenant_user) events per day.
- page statistics: ``page.viewed`` events with a ``page`` attribute; unique users are distinct actorIds.
- userinfo calls: ``userinfo.called`` events per day.

Spec 003's ``tenant_id``/``tenant_ids``/``env_id`` are the tenants and environments *of the caller's SaaS*
(its customers), carried on events as ``attributes.tenant_id`` and ``attributes.env_id``; the platform
tenant is always the token's own.
"""
