-- SPDX-License-Identifier: MIT
-- Parley - migration 0006: sessions you can list, expire and revoke.
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c.

-- What GET /v1/sessions shows about each login besides its name: the
-- client that logged in (User-Agent, truncated) and over which protocol.
-- NULL for sessions created before this migration.
ALTER TABLE devices ADD COLUMN user_agent text;
ALTER TABLE devices ADD COLUMN protocol text;

-- Listing a user's live sessions and counting them against max_devices
-- reads only the live rows of one user.
CREATE INDEX devices_live_by_user ON devices (user_id, last_active_at)
  WHERE revoked_at IS NULL;
