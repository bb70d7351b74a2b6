-- SPDX-License-Identifier: MIT
-- Parley - migration 0007: last seen kept durably, and the username prefix index.
-- Copyright (c) 2026 Parley developers
--
-- Redis keeps no data, so a user's last heartbeat there is lost when Redis
-- restarts. parleyd copies it here when the user comes online or goes
-- offline, and at most once a minute while online; GET
-- /v1/users/{id}/presence falls back to it when Redis does not know the user.
ALTER TABLE users ADD COLUMN last_seen_at timestamptz;

-- GET /v1/users?prefix= matches usernames by prefix: text_pattern_ops makes
-- `username LIKE 'ab%'` an index range scan whatever the collation.
CREATE INDEX users_username_prefix ON users (username text_pattern_ops);
