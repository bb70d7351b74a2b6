-- SPDX-License-Identifier: MIT
-- Parley - migration 0016: account deletion (tombstoned users) and data exports.
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c.

-- DELETE /v1/me keeps the users row as a tombstone: messages the user sent
-- stay in other members' history and reference it (messages.sender_id has
-- no cascade on purpose). The profile is overwritten: display_name becomes
-- "Deleted account", the password hash an unverifiable "!", and the
-- username "~<id>", which the API's username pattern never accepts, so the
-- old name is free for anyone to register again (as Signal and WhatsApp do)
-- and the tombstone can never be logged into or looked up by name.
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
ALTER TABLE users DROP CONSTRAINT users_username_check;
ALTER TABLE users ADD CONSTRAINT users_username_check CHECK (
  username ~ '^[a-z0-9_.]{3,32}$' OR (deleted_at IS NOT NULL AND username ~ '^~[0-9]+$'));

-- POST /v1/me/export: one row per requested export. A background job on a
-- worker writes the brotli-compressed JSON archive to the blob store under
-- blob_key and marks the row ready. At most one export per user runs at a
-- time (the partial unique index; a second request gets 409). Only the
-- newest export is kept: starting one drops the finished ones and their
-- blobs, and account deletion drops them all.
CREATE TABLE exports (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
  state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'ready', 'failed')),
  blob_key text,
  size bigint,
  messages bigint,
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  ready_at timestamptz
);
CREATE UNIQUE INDEX exports_one_running ON exports (user_id) WHERE state = 'running';
CREATE INDEX exports_by_user ON exports (user_id, id);
