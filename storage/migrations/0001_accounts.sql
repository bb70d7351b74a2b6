-- SPDX-License-Identifier: MIT
-- Parley - migration 0001: accounts (users and their logged-in devices).
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c; no BEGIN/COMMIT
-- here. Never edit this file once released: add NNNN_name.sql instead.

CREATE TABLE users (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The API validates the same pattern; the CHECK keeps every writer honest.
  username text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9_.]{3,32}$'),
  display_name text NOT NULL,
  -- An argon2id string from crypto_password_hash(), cost and salt included.
  pwhash text NOT NULL,
  last_seen_visibility text NOT NULL DEFAULT 'everyone'
      CHECK (last_seen_visibility IN ('everyone', 'contacts', 'nobody')),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per login (POST /v1/sessions). The bearer token itself is never
-- stored, only its BLAKE2b-256 hash, so reading this table grants nothing.
CREATE TABLE devices (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
  name text NOT NULL,
  -- UNIQUE also gives the index every authenticated request looks up.
  token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_active_at timestamptz NOT NULL DEFAULT now(),
  -- NULL while the session is live; set by DELETE /v1/sessions/current.
  revoked_at timestamptz
);

CREATE INDEX devices_user_id_idx ON devices (user_id);
