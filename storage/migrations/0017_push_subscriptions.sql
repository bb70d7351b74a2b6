-- SPDX-License-Identifier: MIT
-- Parley - migration 0017: Web Push subscriptions (issue 12), one set per device.
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c; no BEGIN/COMMIT
-- here. Never edit this file once released: add NNNN_name.sql instead.

-- A browser's PushSubscription (endpoint and keys) registered by one
-- logged-in device. The keys are stored as the client sent them,
-- base64url without padding, after the API checked their decoded length
-- (65-byte P-256 point, 16-byte auth secret).
CREATE TABLE push_subscriptions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
  device_id bigint NOT NULL REFERENCES devices ON DELETE CASCADE,
  endpoint text NOT NULL CHECK (length(endpoint) BETWEEN 8 AND 2048),
  p256dh text NOT NULL CHECK (length(p256dh) = 87),
  auth text NOT NULL CHECK (length(auth) = 22),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (device_id, endpoint)
);

-- The push dispatcher looks subscriptions up by recipient.
CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id);

-- A revoked session (logout, another session revoked, a password change)
-- loses its subscriptions in the same transaction, whatever path revoked
-- it: a browser that logged out must not keep receiving the account's
-- notifications.
CREATE FUNCTION push_subscriptions_revoke() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM push_subscriptions WHERE device_id = NEW.id;
  RETURN NEW;
END $$;

CREATE TRIGGER devices_push_revoke AFTER UPDATE OF revoked_at ON devices
  FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION push_subscriptions_revoke();
