"""Demo data loaded on the local stack's first start: tenants ``demo`` and ``other``, each with an app
``shop`` whose tables ``shop_orders`` and ``shop_customers`` hold a few hundred rows in its own schema.

The two tenants get different numbers (different seeds and sizes) so a leak from one to the other
shows in a test.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from telltale.platform import db, tenancy
from telltale.platform.errors import Conflict

TENANTS = {"demo": (20240101, 300, 120), "other": (20240202, 200, 80)}
STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled"]
COUNTRIES = ["US", "DE", "FR", "GB", "IN", "BR", "JP", "CA"]
FIRST = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen", "Dijkstra"]


def load_tenant(tenant_id: str, seed: int, n_orders: int, n_customers: int) -> None:
    rng = random.Random(seed)
    try:
        tenancy.create_app(tenant_id, "shop", "Shop")
    except Conflict:
        return  # already loaded
    schema = tenancy.schema_for(tenant_id)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    with db.transaction() as tx:
        tx.run(f'CREATE TABLE "{schema}".shop_customers (id integer PRIMARY KEY, name text NOT NULL,'
               ' email text NOT NULL, country text NOT NULL, created_at timestamptz NOT NULL)')
        tx.run(f'CREATE TABLE "{schema}".shop_orders (id integer PRIMARY KEY,'
               f' customer_id integer NOT NULL REFERENCES "{schema}".shop_customers(id), status text NOT NULL,'
               ' total_amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL)')
        for i in range(1, n_customers + 1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            tx.run(f'INSERT INTO "{schema}".shop_customers VALUES (:id, :n, :e, :c, :t)', id=i,
                   n=f"{first} {last}", e=f"{first.lower()}.{last.lower()}{i}@{tenant_id}.example",
                   c=rng.choice(COUNTRIES), t=base + timedelta(hours=rng.randint(0, 24 * 180)))
        for i in range(1, n_orders + 1):
            tx.run(f'INSERT INTO "{schema}".shop_orders VALUES (:id, :c, :s, :a, :t)', id=i,
                   c=rng.randint(1, n_customers), s=rng.choice(STATUSES),
                   a=f"{rng.uniform(5, 500):.2f}", t=base + timedelta(hours=rng.randint(24 * 180, 24 * 365)))


def load() -> bool:
    """Load the demo tenants unless they are there; True when it loaded something."""
    existing = {r["id"] for r in db.query("SELECT id FROM platform.tenants")}
    loaded = False
    for tenant_id, (seed, n_orders, n_customers) in TENANTS.items():
        if tenant_id not in existing:
            load_tenant(tenant_id, seed, n_orders, n_customers)
            loaded = True
    return loaded
