-- tables: public.orders
SELECT id, total FROM public.orders WHERE customer_id = 42 AND status = 'paid';
-- @@
-- tables: orders, customers
SELECT c.name, count(*) AS n FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.created_at >= '2024-01-01' GROUP BY c.name ORDER BY n DESC LIMIT 10;
-- @@
-- tables: sales.orders, sales.regions
SELECT r.name, SUM(o.amount) FROM sales.orders o JOIN sales.regions r ON o.region_id = r.id WHERE o.amount > 1000 GROUP BY 1;
-- @@
-- tables: public.events
WITH daily AS (SELECT date_trunc('day', ts) AS d, count(*) AS c FROM public.events WHERE name = 'signup' GROUP BY 1) SELECT d, c, avg(c) OVER (ORDER BY d ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) FROM daily;
-- @@
-- tables: analytics.page_views
SELECT path, count(DISTINCT user_id) FROM analytics.page_views WHERE viewed_at BETWEEN '2024-03-01' AND '2024-03-31' AND path LIKE '/docs/%' GROUP BY path HAVING count(*) > 50;
-- @@
-- tables: billing.invoices, billing.payments
SELECT i.id, i.total - COALESCE(sum(p.amount), 0) AS outstanding FROM billing.invoices i LEFT JOIN billing.payments p ON p.invoice_id = i.id WHERE i.due_date < now() - interval '30 days' GROUP BY i.id, i.total;
-- @@
-- tables: public.users
SELECT * FROM public.users WHERE email = 'ada@example.com';
-- @@
-- tables: public.users
SELECT id FROM public.users WHERE id IN (1, 2, 3, 4, 5) AND deleted_at IS NULL;
-- @@
-- tables: shop.products, shop.order_items
SELECT p.sku, p.name, sum(oi.quantity * oi.unit_price) AS revenue FROM shop.products p JOIN shop.order_items oi ON oi.product_id = p.id GROUP BY p.sku, p.name ORDER BY revenue DESC LIMIT 25;
-- @@
-- tables: public.subscriptions
SELECT plan, count(*) FILTER (WHERE status = 'active') AS active, count(*) FILTER (WHERE status = 'canceled') AS canceled FROM public.subscriptions GROUP BY plan;
-- @@
-- tables: public.orders, public.customers
SELECT * FROM public.orders o WHERE EXISTS (SELECT 1 FROM public.customers c WHERE c.id = o.customer_id AND c.country = 'DE');
-- @@
-- tables: public.orders
SELECT customer_id, amount, rank() OVER (PARTITION BY customer_id ORDER BY amount DESC) FROM public.orders WHERE amount >= 9.99;
-- @@
-- tables: crm.accounts, crm.contacts, crm.opportunities
SELECT a.name, count(DISTINCT c.id) AS contacts, sum(o.value) AS pipeline FROM crm.accounts a LEFT JOIN crm.contacts c ON c.account_id = a.id LEFT JOIN crm.opportunities o ON o.account_id = a.id AND o.stage <> 'closed_lost' GROUP BY a.name;
-- @@
-- tables: public.logins
SELECT user_id, max(logged_in_at) AS last_login FROM public.logins GROUP BY user_id HAVING max(logged_in_at) < CURRENT_DATE - 90;
-- @@
-- tables: public.orders, public.refunds
SELECT id FROM public.orders UNION ALL SELECT order_id FROM public.refunds WHERE reason = 'damaged';
-- @@
-- tables: public.orders
SELECT extract(year FROM created_at) AS y, extract(month FROM created_at) AS m, sum(total) FROM public.orders GROUP BY 1, 2 ORDER BY 1, 2;
-- @@
-- tables: public.documents
SELECT id, data->>'title' AS title FROM public.documents WHERE data @> '{"status": "published"}' AND (data->'meta'->>'views')::int > 100;
-- @@
-- tables: public.tickets, public.agents
SELECT a.name, percentile_cont(0.5) WITHIN GROUP (ORDER BY t.resolved_at - t.opened_at) FROM public.tickets t JOIN public.agents a ON a.id = t.agent_id WHERE t.priority = 'high' GROUP BY a.name;
-- @@
-- tables: inventory.stock, inventory.warehouses
SELECT w.code, s.sku, s.qty FROM inventory.stock s JOIN inventory.warehouses w USING (warehouse_id) WHERE s.qty < 10 ORDER BY s.qty;
-- @@
-- tables: public.sessions
SELECT CASE WHEN duration < 60 THEN 'short' WHEN duration < 600 THEN 'medium' ELSE 'long' END AS bucket, count(*) FROM public.sessions GROUP BY 1;
-- @@
-- tables: public.orders, public.customers
WITH first_orders AS (SELECT customer_id, min(created_at) AS first_at FROM public.orders GROUP BY customer_id), cohorts AS (SELECT date_trunc('month', first_at) AS cohort, customer_id FROM first_orders) SELECT cohort, count(*) FROM cohorts JOIN public.customers c ON c.id = cohorts.customer_id WHERE c.segment = 'smb' GROUP BY cohort;
-- @@
-- tables: public.accounts
SELECT id, balance FROM public.accounts WHERE balance < -500.50 OR balance > 1e6;
-- @@
-- tables: hr.employees
SELECT e.name, m.name AS manager FROM hr.employees e LEFT JOIN hr.employees m ON m.id = e.manager_id WHERE e.department = 'Engineering';
-- @@
-- tables: public.orders
SELECT count(*) FROM public.orders WHERE created_at > $1 AND status = $2;
-- @@
-- tables: public.events
SELECT e.user_id, e.name FROM public.events e WHERE e.ts >= now() - INTERVAL '7 days' AND e.name = ANY(ARRAY['click', 'view']);
-- @@
-- tables: public.users, public.events
SELECT u.id, last_event.name FROM public.users u CROSS JOIN LATERAL (SELECT name FROM public.events ev WHERE ev.user_id = u.id ORDER BY ts DESC LIMIT 1) last_event;
-- @@
-- tables: public.orders
SELECT status, count(*) FROM public.orders GROUP BY ROLLUP (status);
-- @@
-- tables: marketing.campaigns, marketing.clicks, marketing.conversions
SELECT c.name, count(DISTINCT k.id) AS clicks, count(DISTINCT v.id) AS conversions, round(count(DISTINCT v.id)::numeric / NULLIF(count(DISTINCT k.id), 0), 4) AS cvr FROM marketing.campaigns c LEFT JOIN marketing.clicks k ON k.campaign_id = c.id LEFT JOIN marketing.conversions v ON v.click_id = k.id WHERE c.started_at >= '2024-01-01' GROUP BY c.name;
-- @@
-- tables: public.orders
SELECT to_char(created_at, 'YYYY-MM') AS month, sum(total) FROM public.orders WHERE total BETWEEN 10 AND 10000 GROUP BY 1;
-- @@
-- tables: public.products
SELECT name FROM public.products WHERE name ILIKE '%widget%' AND price::numeric(10, 2) < 19.99;
-- @@
-- tables: public.orders
SELECT DISTINCT ON (customer_id) customer_id, id, created_at FROM public.orders ORDER BY customer_id, created_at DESC;
-- @@
-- tables: public.users
SELECT id FROM public.users WHERE created_at::date = DATE '2024-05-01';
-- @@
-- tables: app.feature_flags, app.flag_evaluations
SELECT f.key, count(*) FILTER (WHERE e.result) AS on_count FROM app.feature_flags f JOIN app.flag_evaluations e ON e.flag_id = f.id WHERE f.archived = false GROUP BY f.key;
-- @@
-- tables: public.line_items
SELECT order_id, string_agg(sku, ',' ORDER BY sku) FROM public.line_items GROUP BY order_id;
-- @@
-- tables: public.metrics
SELECT generate_series.d, coalesce(m.value, 0) FROM generate_series('2024-01-01'::date, '2024-01-31'::date, '1 day') AS generate_series(d) LEFT JOIN public.metrics m ON m.day = generate_series.d;
-- @@
-- tables: public.orders, public.customers
SELECT c.country, avg(o.total) FROM public.orders o, public.customers c WHERE o.customer_id = c.id AND c.country IN ('DE', 'FR', 'IT') GROUP BY c.country;
-- @@
-- tables: public.orders
SELECT * FROM (SELECT customer_id, sum(total) AS spend FROM public.orders GROUP BY customer_id) s WHERE s.spend > 5000;
-- @@
-- tables: public.orders
SELECT customer_id, total, lag(total) OVER w AS prev_total FROM public.orders WINDOW w AS (PARTITION BY customer_id ORDER BY created_at);
-- @@
-- tables: public.audit_log
SELECT actor, action, count(*) FROM public.audit_log WHERE action NOT IN ('login', 'logout') AND at >= current_timestamp - interval '1 hour' GROUP BY actor, action;
-- @@
-- tables: public.orders
SELECT id FROM public.orders ORDER BY created_at DESC LIMIT 50 OFFSET 100;
-- @@
-- tables: public.employees
WITH RECURSIVE chain AS (SELECT id, manager_id, 1 AS depth FROM public.employees WHERE id = 7 UNION ALL SELECT e.id, e.manager_id, c.depth + 1 FROM public.employees e JOIN chain c ON e.id = c.manager_id) SELECT * FROM chain;
-- @@
-- tables: public.reviews
SELECT product_id, avg(stars)::numeric(3, 2) FROM public.reviews WHERE body !~* 'spam' GROUP BY product_id HAVING count(*) >= 3;
-- @@
-- tables: public.orders, public.order_items, public.products
SELECT p.category, sum(oi.quantity) FROM public.orders o JOIN public.order_items oi ON oi.order_id = o.id JOIN public.products p ON p.id = oi.product_id WHERE o.status IN ('shipped', 'delivered') AND o.created_at >= '2024-01-01'::timestamptz GROUP BY p.category;
-- @@
-- tables: public.users
SELECT count(*) FROM public.users WHERE signup_source IS NOT NULL AND lower(email) LIKE '%@gmail.com';
-- @@
-- tables: public.orders
SELECT width_bucket(total, 0, 1000, 10) AS b, count(*) FROM public.orders GROUP BY b ORDER BY b;
-- @@
-- tables: public.orders, public.customers
SELECT c.id FROM public.customers c WHERE c.id NOT IN (SELECT customer_id FROM public.orders WHERE created_at > now() - interval '180 days');
-- @@
-- tables: public.events
SELECT jsonb_array_elements_text(props->'tags') AS tag, count(*) FROM public.events WHERE name = 'tagged' GROUP BY 1;
-- @@
-- tables: finance.ledger
SELECT account, sum(CASE WHEN direction = 'debit' THEN amount ELSE -amount END) AS balance FROM finance.ledger WHERE booked_on <= '2024-12-31' GROUP BY account;
-- @@
-- tables: public.orders, public.shipments
SELECT o.id, s.carrier, s.shipped_at - o.created_at AS lead_time FROM public.orders o INNER JOIN public.shipments s ON s.order_id = o.id WHERE s.carrier = 'DHL' ORDER BY lead_time DESC NULLS LAST LIMIT 20;
-- @@
-- tables: public.users, public.teams, public.memberships
SELECT t.name, count(m.user_id) FROM public.teams t JOIN public.memberships m ON m.team_id = t.id JOIN public.users u ON u.id = m.user_id AND u.active GROUP BY t.name;
-- @@
-- tables: public.orders
SELECT sum(total) AS revenue, sum(total) * 0.19 AS vat FROM public.orders WHERE country = 'DE' AND created_at >= '2024-01-01' AND created_at < '2025-01-01';
