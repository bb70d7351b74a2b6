-- SPDX-License-Identifier: MIT
-- Parley - migration 0012: analytics rollups, their checkpoint, admins.
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c.

-- Hourly rollups of metadata-only metrics (analytics/aggregator.c). One
-- row per (metric, dims, hour); dims is '' for the plain series. The
-- primary key serves every dashboard query: one metric, a time range.
-- Not partitioned yet: one b-tree range scan per query.
CREATE TABLE analytics_hourly (
  metric text NOT NULL,
  dims text NOT NULL DEFAULT '',
  bucket_start timestamptz NOT NULL,
  value bigint NOT NULL,
  PRIMARY KEY (metric, dims, bucket_start)
);

-- Exact distinct active users per UTC day (DAU; WAU and MAU are distinct
-- counts over 7 and 30 of these days).
CREATE TABLE analytics_daily_users (
  day date NOT NULL,
  user_id bigint NOT NULL,
  PRIMARY KEY (day, user_id)
);

-- The aggregator's checkpoint: every event position <= pos is in the
-- rollups. It moves in the same transaction as the rollups it covers, so
-- a crash neither loses nor double-counts. Registrations are recomputed
-- (idempotently) from users.created_at for the hours since reg_until
-- minus one hour.
CREATE TABLE analytics_checkpoint (
  id int PRIMARY KEY CHECK (id = 1),
  pos bigint NOT NULL,
  reg_until timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO analytics_checkpoint VALUES (1, 0, '-infinity', now());

CREATE INDEX users_by_created_at ON users (created_at);

-- Users granted admin with `parleyd admin grant USER` (the admins setting
-- names more).
CREATE TABLE admins (
  user_id bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
  granted_at timestamptz NOT NULL DEFAULT now()
);
