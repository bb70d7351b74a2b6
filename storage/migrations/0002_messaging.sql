-- SPDX-License-Identifier: MIT
-- Parley - migration 0002: conversations, members, messages, receipts, events.
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c.

-- The stream position counter. Every transaction that persists events
-- advances it with UPDATE ... RETURNING just before inserting them; the row
-- lock is held until commit, so positions are dense and commit-ordered on
-- every node: a client that resumed from position P can never later find an
-- event below P committing behind its back.
CREATE TABLE stream_state (
  id int PRIMARY KEY CHECK (id = 1),
  pos bigint NOT NULL
);
INSERT INTO stream_state VALUES (1, 0);

CREATE TABLE conversations (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('direct', 'group')),
  title text,
  encryption text NOT NULL DEFAULT 'none' CHECK (encryption IN ('none', 'e2e')),
  -- "<smaller user id>:<larger user id>" for direct conversations: the
  -- unique index makes creating the pair's conversation idempotent.
  direct_key text UNIQUE,
  created_by bigint REFERENCES users,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_seq bigint NOT NULL DEFAULT 0,
  last_activity_at timestamptz NOT NULL DEFAULT now(),
  member_count int NOT NULL DEFAULT 0
);

-- A removed member's row is deleted; re-adding creates a fresh one, so what
-- a member may see always starts at its current joined_seq / joined_pos.
CREATE TABLE members (
  conversation_id bigint NOT NULL REFERENCES conversations ON DELETE CASCADE,
  user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('admin', 'member')),
  joined_at timestamptz NOT NULL DEFAULT now(),
  joined_seq bigint NOT NULL,      -- sees messages with seq > joined_seq
  joined_pos bigint NOT NULL,      -- sees events with pos > joined_pos
  delivered_seq bigint NOT NULL DEFAULT 0,
  read_seq bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (conversation_id, user_id),
  CHECK (read_seq <= delivered_seq)
);
CREATE INDEX members_by_user ON members (user_id, conversation_id);

CREATE TABLE messages (
  conversation_id bigint NOT NULL REFERENCES conversations ON DELETE CASCADE,
  seq bigint NOT NULL,
  -- The stream position of the message's message.created event: unique
  -- across the deployment and ordered like the stream.
  id bigint NOT NULL UNIQUE,
  sender_id bigint NOT NULL REFERENCES users,
  sender_device_id bigint NOT NULL,
  client_msg_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('text', 'media', 'e2e')),
  -- The text for kind 'text'; a JSON document for the kinds added later.
  body text NOT NULL,
  reply_to bigint,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, seq),
  UNIQUE (sender_device_id, client_msg_id)
);

-- Receipts are watermarks on members; this log keeps one row per move so
-- "when did each member read message N" can be answered without a row per
-- message per member.
CREATE TABLE receipt_log (
  conversation_id bigint NOT NULL REFERENCES conversations ON DELETE CASCADE,
  user_id bigint NOT NULL,
  type text NOT NULL CHECK (type IN ('delivered', 'read')),
  up_to_seq bigint NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX receipt_log_lookup ON receipt_log (conversation_id, user_id, up_to_seq);

-- Persisted events, replayed to streams that resume. The audience is
-- target_user_id when set, else the conversation's members that joined
-- before the event (members.joined_pos < pos).
CREATE TABLE events (
  pos bigint PRIMARY KEY,
  conversation_id bigint,
  target_user_id bigint,
  type text NOT NULL,
  payload text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_by_conversation ON events (conversation_id, pos);
CREATE INDEX events_by_target ON events (target_user_id, pos) WHERE target_user_id IS NOT NULL;
