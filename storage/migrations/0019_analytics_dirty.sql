-- SPDX-License-Identifier: MIT
-- Parley - migration 0019: the derived analytics rollups are refreshed per pass, not per step.
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c.
--
-- Each aggregation step used to recompute, in its own transaction, the days, quantiles and
-- DAU/WAU/MAU that its positions touched and the recent hours' registrations, media and node
-- samples: a fixed cost every second whether or not anything arrived, paid again for every step
-- of a pass that is behind (bench/README.md, "Analytics", third pass). Now a step only consumes
-- its positions into the hourly rollups and remembers, in the same transaction as the
-- checkpoint, the oldest moment they touched; the pass's last step (caught up) refreshes the
-- derived tables from that moment on and clears it. A crash in between leaves the mark set, so
-- the next pass redoes the refresh: the derived tables can trail the checkpoint for one pass,
-- never lose a change.
ALTER TABLE analytics_checkpoint ADD COLUMN dirty_from timestamptz;

-- What that refresh reads: the rollups from an hour or a day on, every metric. The primary keys
-- lead with the metric, so "today's rows" was a scan of the month's partition (or, for the daily
-- histograms and the quantiles, of the whole table: 80 buckets a day per histogram): 85 ms and
-- 150 ms a refresh over a generated year (bench/README.md). A b-tree on the time each makes it
-- the few hundred rows that changed. The updates of a rollup's value stay HOT (no indexed column
-- changes).
CREATE INDEX analytics_hourly_bucket ON analytics_hourly (bucket_start);
CREATE INDEX analytics_daily_day ON analytics_daily (day);
CREATE INDEX analytics_quantiles_t ON analytics_quantiles (t);

-- The same refresh as 0018's, planned with its bounds as constants: as a SQL function its plan
-- kept `lo` a parameter and read every partition's histograms (40-55 ms against 4 ms for the same
-- statement with constants).
CREATE OR REPLACE FUNCTION analytics_quantiles_refresh(lo timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
  n bigint;
BEGIN
  IF lo IS NULL THEN
    RETURN 0;
  END IF;
  EXECUTE format($q$
      WITH del AS (DELETE FROM analytics_quantiles q
              WHERE (q.gran = 'hour' AND q.t >= %1$L::timestamptz)
                 OR (q.gran = 'day' AND q.t >= %2$L::timestamptz)),
      src AS (SELECT 'hour'::text AS gran, metric, dims, bucket_start AS t, value
              FROM analytics_hourly
              WHERE metric IN ('delivered_ms_hist', 'read_ms_hist', 'search_ms_hist')
                AND bucket_start >= %1$L::timestamptz
              UNION ALL
              SELECT 'day', metric, dims, day, value FROM analytics_daily
              WHERE metric IN ('delivered_ms_hist', 'read_ms_hist', 'search_ms_hist')
                AND day >= %2$L::timestamptz),
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
  $q$, date_trunc('hour', lo, 'UTC'), date_trunc('day', lo, 'UTC')) INTO n;
  RETURN n;
END
$fn$;
