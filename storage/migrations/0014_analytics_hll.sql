-- SPDX-License-Identifier: MIT
-- Parley - migration 0014: HyperLogLog daily sketches, monthly partitions.
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c. Needs the hll
-- extension (Debian postgresql-15-hll) and a role that may create it.

CREATE EXTENSION IF NOT EXISTS hll;

-- One sketch of the users active on each UTC day. DAU is one sketch's
-- cardinality; WAU and MAU are the cardinality of the union of 7 or 30
-- sketches. log2m 14 (16,384 registers of 5 bits, 10 kB a day at most):
-- standard error 1.04 / sqrt(16384) = 0.8 %; small sets stay exact (the
-- explicit representation). Every writer uses the same parameters
-- (hll_add_agg(..., 14, 5)): sketches only union with their own kind.
CREATE TABLE analytics_daily_hll (
  day date PRIMARY KEY,
  users hll(14, 5) NOT NULL
);
INSERT INTO analytics_daily_hll (day, users)
SELECT day, hll_add_agg(hll_hash_bigint(user_id), 14, 5) FROM analytics_daily_users GROUP BY day;

-- DAU, WAU and MAU of each day, computed from the sketches when a step
-- changed one of the days they cover: a year of MAU is then 365 rows to
-- read, not 10,950 sketch unions per request.
CREATE TABLE analytics_daily_active (
  day date PRIMARY KEY,
  dau bigint NOT NULL,
  wau bigint NOT NULL,
  mau bigint NOT NULL
);

-- Recomputes the days lo..hi of analytics_daily_active (a day's WAU and
-- MAU cover the 7 and 30 days ending on it); returns how many.
CREATE FUNCTION analytics_active_refresh(lo date, hi date) RETURNS bigint
LANGUAGE sql AS $$
  WITH ins AS (
    INSERT INTO analytics_daily_active (day, dau, wau, mau)
    SELECT d::date,
      COALESCE((SELECT round(hll_cardinality(users)) FROM analytics_daily_hll WHERE day = d::date), 0),
      COALESCE((SELECT round(hll_cardinality(hll_union_agg(users))) FROM analytics_daily_hll
                WHERE day > d::date - 7 AND day <= d::date), 0),
      COALESCE((SELECT round(hll_cardinality(hll_union_agg(users))) FROM analytics_daily_hll
                WHERE day > d::date - 30 AND day <= d::date), 0)
    FROM generate_series(lo, hi, interval '1 day') AS d
    ON CONFLICT (day) DO UPDATE SET dau = EXCLUDED.dau, wau = EXCLUDED.wau, mau = EXCLUDED.mau
    RETURNING 1)
  SELECT count(*) FROM ins
$$;

-- The rollups, partitioned by month: a dashboard query touches only the
-- months of its range, and retention (analytics_retention) drops whole
-- months instead of deleting rows. Partitions are created on demand by
-- analytics_partitions_ensure(), named analytics_hourly_YYYYMM and
-- analytics_daily_users_YYYYMM (UTC months).
ALTER TABLE analytics_hourly RENAME TO analytics_hourly_0012;
ALTER TABLE analytics_daily_users RENAME TO analytics_daily_users_0012;

CREATE TABLE analytics_hourly (
  metric text NOT NULL,
  dims text NOT NULL DEFAULT '',
  bucket_start timestamptz NOT NULL,
  value bigint NOT NULL,
  PRIMARY KEY (metric, dims, bucket_start)
) PARTITION BY RANGE (bucket_start);

-- Exact active users per day: the source of the retention cohorts (which
-- need to know who, not how many).
CREATE TABLE analytics_daily_users (
  day date NOT NULL,
  user_id bigint NOT NULL,
  PRIMARY KEY (day, user_id)
) PARTITION BY RANGE (day);

-- The latency histograms (metrics *_ms_hist) again by UTC day, rolled up
-- from the hourly rows of the days a step touched: a quantile over a year
-- by day reads 365 rows per bucket instead of 8,760.
CREATE TABLE analytics_daily (
  metric text NOT NULL,
  dims text NOT NULL,
  day timestamptz NOT NULL,
  value bigint NOT NULL,
  PRIMARY KEY (metric, dims, day)
);

-- Media rollups recount the uploads completed in the last hours.
CREATE INDEX media_ready_at ON media (ready_at) WHERE state = 'ready';

-- The group conversations with at least one message on each UTC day
-- (active groups).
CREATE TABLE analytics_daily_groups (
  day date NOT NULL,
  conversation_id bigint NOT NULL,
  PRIMARY KEY (day, conversation_id)
);

-- Creates the monthly partitions of both tables covering [lo, hi] that do
-- not exist yet; returns how many it created. NULL bounds: nothing. The
-- callers hold the aggregation lock, so two never race on one month.
CREATE FUNCTION analytics_partitions_ensure(lo timestamptz, hi timestamptz) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  m timestamp := date_trunc('month', lo AT TIME ZONE 'UTC');
  last timestamp := date_trunc('month', hi AT TIME ZONE 'UTC');
  n int := 0;
  suffix text;
BEGIN
  IF NOT isfinite(lo) OR NOT isfinite(hi) THEN
    RETURN 0;
  END IF;
  WHILE m IS NOT NULL AND m <= last LOOP
    suffix := to_char(m, 'YYYYMM');
    IF to_regclass('analytics_hourly_' || suffix) IS NULL THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF analytics_hourly FOR VALUES FROM (%L) TO (%L)',
                     'analytics_hourly_' || suffix, m AT TIME ZONE 'UTC',
                     (m + interval '1 month') AT TIME ZONE 'UTC');
      n := n + 1;
    END IF;
    IF to_regclass('analytics_daily_users_' || suffix) IS NULL THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF analytics_daily_users'
                     ' FOR VALUES FROM (%L) TO (%L)', 'analytics_daily_users_' || suffix,
                     m::date, (m + interval '1 month')::date);
      n := n + 1;
    END IF;
    m := m + interval '1 month';
  END LOOP;
  RETURN n;
END
$$;

-- What only one node sees, sampled by each node every 10 seconds
-- (analytics/samples.h): open event streams (now, and the most at once in
-- the slot), stream opens by protocol, resumes (reconnects), searches and
-- their latency histogram (bucket floor(4 log2(ms)), index 1 = bucket 0),
-- media downloads (presigned URLs handed out).
-- The rollups sum the nodes per slot: several nodes, one number.
CREATE TABLE analytics_node_samples (
  node text NOT NULL,
  slot timestamptz NOT NULL,
  streams bigint NOT NULL,
  peak bigint NOT NULL,
  opens_h1 bigint NOT NULL,
  opens_h2c bigint NOT NULL,
  opens_h2 bigint NOT NULL,
  resumes bigint NOT NULL,
  searches bigint NOT NULL,
  search_hist bigint[] NOT NULL,
  downloads bigint NOT NULL,
  PRIMARY KEY (slot, node)
);

-- Retention: drops the monthly partitions that ended at least keep_days
-- ago and the daily sketches older than that; returns how many partitions
-- it dropped. keep_days 0 keeps everything.
CREATE FUNCTION analytics_retention_apply(keep_days int) RETURNS int
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
  DELETE FROM analytics_node_samples WHERE slot < cutoff AT TIME ZONE 'UTC';
  RETURN n;
END
$$;

SELECT analytics_partitions_ensure(
  (SELECT min(t) FROM (SELECT min(bucket_start) AS t FROM analytics_hourly_0012
                       UNION ALL SELECT min(day)::timestamp AT TIME ZONE 'UTC'
                       FROM analytics_daily_users_0012) x),
  now() + interval '1 month');
INSERT INTO analytics_hourly SELECT * FROM analytics_hourly_0012;
INSERT INTO analytics_daily_users SELECT * FROM analytics_daily_users_0012;
DROP TABLE analytics_hourly_0012;
DROP TABLE analytics_daily_users_0012;
