-- SPDX-License-Identifier: MIT
-- Parley - migration 0018: every rollup by day, latency quantiles kept.
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c. Makes every
-- dashboard series read one row per point (bench/README.md, "Analytics").

-- analytics_daily (0014) held the latency histograms by day; each step now
-- keeps every rollup there by day (peak_streams the largest hour, the rest
-- the sum), so a series by day over a year reads 365 rows, not 8,760.
INSERT INTO analytics_daily (metric, dims, day, value)
SELECT metric, dims, date_trunc('day', bucket_start, 'UTC'),
       CASE WHEN metric = 'peak_streams' THEN max(value) ELSE sum(value) END
FROM analytics_hourly GROUP BY 1, 2, 3
ON CONFLICT (metric, dims, day) DO UPDATE SET value = EXCLUDED.value;

-- p50/p95/p99 (ms) of each latency histogram (delivered_ms_hist,
-- read_ms_hist, search_ms_hist) per hour and per UTC day, for all kinds
-- (sel '') and per conversation kind (sel 'direct' / 'group'). A dashboard
-- chart of a quantile used to read every histogram bucket of its range
-- (80 rows per hour: 700,000 rows for a year by hour, over a second);
-- now it reads one row per point. Each aggregation step recomputes the
-- hours and days it touched (analytics_quantiles_refresh), in the same
-- transaction as the histograms, so both always agree.
CREATE TABLE analytics_quantiles (
  metric text NOT NULL,
  sel text NOT NULL,
  gran text NOT NULL CHECK (gran IN ('hour', 'day')),
  t timestamptz NOT NULL,
  p50 bigint NOT NULL,
  p95 bigint NOT NULL,
  p99 bigint NOT NULL,
  PRIMARY KEY (metric, sel, gran, t)
);

-- Recomputes the quantiles of the hours from the hour of lo on and of the
-- days from the UTC day of lo on (NULL: nothing), from analytics_hourly
-- and analytics_daily; returns how many rows it wrote. A quantile is the
-- midpoint (ms) of the first histogram bucket (floor(4 log2(ms))) whose
-- cumulative count reaches it, as the series queries computed it before.
-- The range is deleted first: a rebuild that emptied an hour empties it
-- here too.
CREATE FUNCTION analytics_quantiles_refresh(lo timestamptz) RETURNS bigint
LANGUAGE sql AS $$
  WITH hl AS (SELECT date_trunc('hour', lo, 'UTC') AS h, date_trunc('day', lo, 'UTC') AS d),
  del AS (DELETE FROM analytics_quantiles q USING hl
          WHERE (q.gran = 'hour' AND q.t >= hl.h) OR (q.gran = 'day' AND q.t >= hl.d)),
  src AS (SELECT 'hour'::text AS gran, metric, dims, bucket_start AS t, value
          FROM analytics_hourly, hl
          WHERE metric IN ('delivered_ms_hist', 'read_ms_hist', 'search_ms_hist')
            AND bucket_start >= hl.h
          UNION ALL
          SELECT 'day', metric, dims, day, value FROM analytics_daily, hl
          WHERE metric IN ('delivered_ms_hist', 'read_ms_hist', 'search_ms_hist')
            AND day >= hl.d),
  h AS (SELECT src.gran, src.metric, s.sel, src.t, split_part(src.dims, ':', 2)::int AS b,
               sum(src.value) AS n
        FROM src CROSS JOIN LATERAL (VALUES (''), (split_part(src.dims, ':', 1))) AS s(sel)
        WHERE src.value > 0 AND s.sel <> 'all'
        GROUP BY 1, 2, 3, 4, 5),
  c AS (SELECT gran, metric, sel, t, b,
               sum(n) OVER (PARTITION BY gran, metric, sel, t ORDER BY b) AS cum,
               sum(n) OVER (PARTITION BY gran, metric, sel, t) AS tot
        FROM h),
  q AS (SELECT gran, metric, sel, t,
               min(b) FILTER (WHERE cum >= 0.5::float8 * tot) AS b50,
               min(b) FILTER (WHERE cum >= 0.95::float8 * tot) AS b95,
               min(b) FILTER (WHERE cum >= 0.99::float8 * tot) AS b99
        FROM c GROUP BY 1, 2, 3, 4),
  ins AS (INSERT INTO analytics_quantiles (metric, sel, gran, t, p50, p95, p99)
          SELECT metric, sel, gran, t, round(2 ^ ((b50 + 0.5) / 4.0))::bigint,
                 round(2 ^ ((b95 + 0.5) / 4.0))::bigint, round(2 ^ ((b99 + 0.5) / 4.0))::bigint
          FROM q
          ON CONFLICT (metric, sel, gran, t) DO UPDATE
          SET p50 = EXCLUDED.p50, p95 = EXCLUDED.p95, p99 = EXCLUDED.p99
          RETURNING 1)
  SELECT count(*) FROM ins
$$;

-- Stickiness (DAU / MAU) of each day, next to the numbers it divides.
-- Active groups per day too: the series counted analytics_daily_groups
-- once per day of its range.
ALTER TABLE analytics_daily_active ADD COLUMN groups bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION analytics_active_refresh(lo date, hi date) RETURNS bigint
LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO analytics_daily_active (day, dau, wau, mau, groups)
    SELECT d::date,
      COALESCE((SELECT round(hll_cardinality(users)) FROM analytics_daily_hll WHERE day = d::date), 0),
      COALESCE((SELECT round(hll_cardinality(hll_union_agg(users))) FROM analytics_daily_hll
                WHERE day > d::date - 7 AND day <= d::date), 0),
      COALESCE((SELECT round(hll_cardinality(hll_union_agg(users))) FROM analytics_daily_hll
                WHERE day > d::date - 30 AND day <= d::date), 0),
      (SELECT count(*) FROM analytics_daily_groups WHERE day = d::date)
    FROM generate_series(lo, hi, interval '1 day') AS d
    ON CONFLICT (day) DO UPDATE SET dau = EXCLUDED.dau, wau = EXCLUDED.wau, mau = EXCLUDED.mau,
      groups = EXCLUDED.groups
    RETURNING 1)
  SELECT count(*) FROM ins
$$;

-- Retention also drops the old quantiles.
CREATE OR REPLACE FUNCTION analytics_retention_apply(keep_days int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  cutoff timestamp := (now() AT TIME ZONE 'UTC') - make_interval(days => keep_days);
  r record;
  n int := 0;
BEGIN
  IF keep_days <= 0 THEN
    RETURN 0;
  END IF;
  FOR r IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent IN ('analytics_hourly'::regclass, 'analytics_daily_users'::regclass)
  LOOP
    IF to_date(right(r.relname, 6) || '01', 'YYYYMMDD') + interval '1 month' <= cutoff THEN
      EXECUTE format('DROP TABLE %I', r.relname);
      n := n + 1;
    END IF;
  END LOOP;
  DELETE FROM analytics_daily_hll WHERE day < cutoff::date;
  DELETE FROM analytics_daily_groups WHERE day < cutoff::date;
  DELETE FROM analytics_daily WHERE day < cutoff AT TIME ZONE 'UTC';
  DELETE FROM analytics_daily_active WHERE day < cutoff::date;
  DELETE FROM analytics_quantiles WHERE t < cutoff AT TIME ZONE 'UTC';
  DELETE FROM analytics_node_samples WHERE slot < cutoff AT TIME ZONE 'UTC';
  RETURN n;
END
$$;

SELECT analytics_quantiles_refresh('-infinity');
UPDATE analytics_daily_active a SET groups = (SELECT count(*) FROM analytics_daily_groups g
                                              WHERE g.day = a.day);
