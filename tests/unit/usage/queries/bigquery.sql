-- tables: acme-prod.sales.orders
SELECT region, SUM(amount) FROM `acme-prod.sales.orders` WHERE region = 'EU' GROUP BY 1;
-- @@
-- tables: sales.orders, sales.customers
SELECT c.segment, COUNT(*) AS n FROM sales.orders AS o JOIN sales.customers AS c ON c.id = o.customer_id WHERE o.created_at >= TIMESTAMP('2024-01-01') GROUP BY c.segment;
-- @@
-- tables: bigquery-public-data.samples.shakespeare
SELECT word, SUM(word_count) AS count FROM `bigquery-public-data.samples.shakespeare` WHERE word LIKE '%raisin%' GROUP BY word;
-- @@
-- tables: analytics.events_20240101
SELECT event_name, COUNT(*) FROM `analytics.events_20240101` GROUP BY event_name;
-- @@
-- tables: analytics_123.events_*
SELECT event_name, COUNT(DISTINCT user_pseudo_id) FROM `analytics_123.events_*` WHERE _TABLE_SUFFIX BETWEEN '20240101' AND '20240131' GROUP BY 1;
-- @@
-- tables: analytics_123.events_*
SELECT (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'page_location') AS page, COUNT(*) FROM `analytics_123.events_*` WHERE event_name = 'page_view' GROUP BY page;
-- @@
-- tables: shop.orders
SELECT DATE_TRUNC(DATE(created_at), MONTH) AS month, SUM(total) FROM shop.orders GROUP BY month ORDER BY month;
-- @@
-- tables: shop.orders
SELECT * FROM shop.orders WHERE id IN (1, 2, 3) AND status = 'paid';
-- @@
-- tables: shop.orders
SELECT customer_id, ARRAY_AGG(STRUCT(id, total) ORDER BY created_at DESC LIMIT 5) AS recent FROM shop.orders GROUP BY customer_id;
-- @@
-- tables: shop.orders
SELECT customer_id, total FROM shop.orders QUALIFY ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY total DESC) = 1;
-- @@
-- tables: acme-prod.crm.accounts, acme-prod.crm.opportunities
SELECT a.name, SUM(o.amount) FROM `acme-prod.crm.accounts` a LEFT JOIN `acme-prod.crm.opportunities` o ON o.account_id = a.id WHERE o.stage != 'lost' GROUP BY a.name;
-- @@
-- tables: logs.requests
SELECT TIMESTAMP_TRUNC(ts, HOUR) AS hour, COUNTIF(status >= 500) AS errors, COUNT(*) AS total FROM logs.requests WHERE ts > TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 24 HOUR) GROUP BY hour;
-- @@
-- tables: logs.requests
SELECT APPROX_QUANTILES(latency_ms, 100)[OFFSET(95)] AS p95 FROM logs.requests WHERE path = '/api/v1/search';
-- @@
-- tables: shop.orders, shop.order_items, shop.products
WITH items AS (SELECT oi.order_id, p.category, oi.quantity * oi.price AS line FROM shop.order_items oi JOIN shop.products p ON p.id = oi.product_id) SELECT i.category, SUM(i.line) FROM items i JOIN shop.orders o ON o.id = i.order_id WHERE o.created_at >= '2024-01-01' GROUP BY 1;
-- @@
-- tables: shop.customers
SELECT id, SPLIT(email, '@')[SAFE_OFFSET(1)] AS domain FROM shop.customers WHERE country = 'US';
-- @@
-- tables: shop.orders
SELECT EXTRACT(YEAR FROM created_at) AS y, EXTRACT(QUARTER FROM created_at) AS q, SUM(total) FROM shop.orders GROUP BY 1, 2;
-- @@
-- tables: shop.customers
SELECT id FROM shop.customers WHERE REGEXP_CONTAINS(email, r'@(gmail|yahoo)\.com$');
-- @@
-- tables: shop.orders
SELECT IF(total > 100, 'big', 'small') AS size, COUNT(*) FROM shop.orders GROUP BY size;
-- @@
-- tables: shop.orders, shop.refunds
SELECT o.id FROM shop.orders o WHERE NOT EXISTS (SELECT 1 FROM shop.refunds r WHERE r.order_id = o.id);
-- @@
-- tables: finance.invoices
SELECT FORMAT_DATE('%Y-%m', issued_on) AS month, SUM(amount) FROM finance.invoices WHERE issued_on BETWEEN DATE '2024-01-01' AND DATE '2024-12-31' GROUP BY month;
-- @@
-- tables: finance.invoices
SELECT SAFE_DIVIDE(SUM(paid), SUM(amount)) AS paid_ratio FROM finance.invoices WHERE currency = 'EUR';
-- @@
-- tables: product.sessions
SELECT user_id, TIMESTAMP_DIFF(ended_at, started_at, SECOND) AS secs FROM product.sessions WHERE started_at >= TIMESTAMP '2024-06-01 00:00:00 UTC';
-- @@
-- tables: product.events
SELECT e.user_id, tag FROM product.events e, UNNEST(e.tags) AS tag WHERE e.name = 'tagged';
-- @@
-- tables: product.events
SELECT e.user_id, tag FROM product.events e CROSS JOIN UNNEST(e.tags) AS tag WHERE tag IN ('a', 'b');
-- @@
-- tables: shop.orders, shop.orders_2023
SELECT id, total FROM shop.orders UNION ALL SELECT id, total FROM shop.orders_2023 WHERE total > 0;
-- @@
-- tables: shop.orders
SELECT customer_id, SUM(total) OVER (PARTITION BY customer_id ORDER BY created_at ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running FROM shop.orders;
-- @@
-- tables: shop.orders
SELECT COUNT(*) FROM shop.orders WHERE created_at > @since AND status = @status;
-- @@
-- tables: marketing.ad_spend, marketing.signups
SELECT s.channel, SUM(a.spend) / NULLIF(COUNT(DISTINCT s.user_id), 0) AS cac FROM marketing.signups s JOIN marketing.ad_spend a ON a.channel = s.channel AND a.day = DATE(s.created_at) GROUP BY s.channel;
-- @@
-- tables: shop.products
SELECT name, price FROM shop.products WHERE LOWER(name) LIKE '%widget%' AND price < 19.99 ORDER BY price LIMIT 10;
-- @@
-- tables: shop.orders
SELECT * EXCEPT (internal_note) FROM shop.orders WHERE id = 7;
-- @@
-- tables: shop.customers
SELECT JSON_VALUE(profile, '$.plan') AS plan, COUNT(*) FROM shop.customers GROUP BY plan;
-- @@
-- tables: ops.tickets
SELECT priority, AVG(TIMESTAMP_DIFF(solved_at, created_at, HOUR)) FROM ops.tickets WHERE status IN ('solved', 'closed') GROUP BY priority;
-- @@
-- tables: shop.orders
SELECT DATE(created_at) AS day, COUNT(*) FROM shop.orders WHERE DATE(created_at) >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY) GROUP BY day;
-- @@
-- tables: shop.orders, shop.customers
SELECT c.country, AVG(o.total) FROM shop.orders o, shop.customers c WHERE o.customer_id = c.id AND c.country IN ('DE', 'FR') GROUP BY c.country;
-- @@
-- tables: shop.orders
SELECT * FROM (SELECT customer_id, SUM(total) AS spend FROM shop.orders GROUP BY customer_id) WHERE spend > 5000;
-- @@
-- tables: shop.orders
SELECT customer_id, total, LAG(total) OVER (PARTITION BY customer_id ORDER BY created_at) AS prev FROM shop.orders;
-- @@
-- tables: hr.employees
SELECT e.name, m.name AS manager FROM hr.employees e LEFT JOIN hr.employees m ON m.id = e.manager_id WHERE e.department = 'Engineering';
-- @@
-- tables: shop.orders
SELECT status, COUNT(*) FROM shop.orders GROUP BY ROLLUP (status);
-- @@
-- tables: iot.readings
SELECT device_id, AVG(value) FROM iot.readings WHERE ts BETWEEN '2024-01-01' AND '2024-01-02' AND value > -40.5 GROUP BY device_id;
-- @@
-- tables: shop.orders
SELECT TO_JSON_STRING(t) FROM shop.orders AS t WHERE t.id = 1;
-- @@
-- tables: geo.stores
SELECT id, ST_DISTANCE(location, ST_GEOGPOINT(13.4, 52.5)) AS meters FROM geo.stores ORDER BY meters LIMIT 5;
-- @@
-- tables: shop.orders
SELECT id FROM shop.orders ORDER BY created_at DESC LIMIT 50 OFFSET 100;
-- @@
-- tables: shop.orders
SELECT COUNTIF(total = 0) AS free_orders, COUNTIF(total > 0) AS paid_orders FROM shop.orders;
-- @@
-- tables: support.chats
SELECT agent, COUNT(*) FROM support.chats WHERE transcript LIKE '%refund%' AND started_at >= '2024-05-01' GROUP BY agent HAVING COUNT(*) > 5;
-- @@
-- tables: shop.customers, shop.orders
WITH firsts AS (SELECT customer_id, MIN(created_at) AS first_at FROM shop.orders GROUP BY 1) SELECT DATE_TRUNC(DATE(f.first_at), MONTH) AS cohort, COUNT(*) FROM firsts f JOIN shop.customers c ON c.id = f.customer_id GROUP BY cohort;
-- @@
-- tables: billing.usage
SELECT account_id, SUM(units) * 0.002 AS cost FROM billing.usage WHERE period = '2024-08' GROUP BY account_id;
-- @@
-- tables: acme-prod.analytics.daily_active
SELECT day, dau FROM `acme-prod`.analytics.daily_active WHERE day >= '2024-01-01';
-- @@
-- tables: shop.orders
SELECT CASE WHEN total < 50 THEN 'S' WHEN total < 500 THEN 'M' ELSE 'L' END AS bucket, COUNT(*) FROM shop.orders GROUP BY bucket;
-- @@
-- tables: shop.orders
SELECT ARRAY_LENGTH(items) AS n, COUNT(*) FROM shop.orders GROUP BY n;
-- @@
-- tables: shop.orders, shop.shipments
SELECT o.id, s.carrier, DATE_DIFF(s.shipped_on, DATE(o.created_at), DAY) AS lead_days FROM shop.orders o INNER JOIN shop.shipments s ON s.order_id = o.id WHERE s.carrier = 'DHL';
