-- top_columns of a product counted every column of every query that touched it, so a query joining orders
-- and customers gave Orders the customers' columns. Each row now also records which table a column belongs
-- to where the query makes that certain ('<schema>.<table>|<column>', the table part as in table_keys);
-- aggregation credits such a column only to products owning that table. Columns whose table is unknown
-- still count for every product the query touches.

ALTER TABLE usage.bi_queries ADD COLUMN IF NOT EXISTS column_keys text[] NOT NULL DEFAULT '{}';
