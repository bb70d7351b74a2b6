-- SPDX-License-Identifier: MIT
-- Parley - message requests, blocks, pin/mute and disappearing messages.
-- Copyright (c) 2026 Parley developers

-- A user's blocks: blocked_id may not message user_id in a direct
-- conversation, open one, add user_id to a group, or see user_id's
-- presence, last seen and typing. The index by blocked_id serves the
-- send check, which asks "did anyone in this chat block the sender".
CREATE TABLE blocks (
  user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
  blocked_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, blocked_id),
  CHECK (user_id <> blocked_id)
);
CREATE INDEX blocks_by_blocked ON blocks (blocked_id, user_id);

-- Message requests: set while this member has not accepted a conversation
-- that request_from (a user it had no accepted conversation with) opened
-- or added it to; NULL once accepted (and for every member before 0013).
ALTER TABLE members ADD COLUMN request_from bigint;
CREATE INDEX members_requests ON members (user_id) WHERE request_from IS NOT NULL;

-- Pin and mute are the member's own settings.
ALTER TABLE members ADD COLUMN pinned_at timestamptz;
ALTER TABLE members ADD COLUMN muted_until timestamptz;

-- Disappearing messages: the conversation's timer in seconds (NULL: off);
-- a message sent while it is set expires at created_at + expire_after, and
-- the sweeper (server/expiry.c) erases it within a minute of that.
ALTER TABLE conversations ADD COLUMN expire_after int
  CHECK (expire_after IN (3600, 86400, 604800, 7776000));
-- What sends add to created_at, in milliseconds: expire_after times the
-- expire_unit_ms setting (1000; tests shrink it) when the timer was set.
ALTER TABLE conversations ADD COLUMN expire_ms bigint;
ALTER TABLE messages ADD COLUMN expires_at timestamptz;
CREATE INDEX messages_expiring ON messages (expires_at) WHERE expires_at IS NOT NULL;
ALTER TABLE archived_messages ADD COLUMN expires_at timestamptz;
CREATE INDEX archived_messages_expiring ON archived_messages (expires_at)
  WHERE expires_at IS NOT NULL;
