-- SPDX-License-Identifier: MIT
-- Parley - edits, deletions, reactions and forwards of messages.
-- Copyright (c) 2026 Parley developers

-- Set when the sender edited the text (body then holds the new text; the
-- tsv trigger re-indexes it, so search sees only the new text).
ALTER TABLE messages ADD COLUMN edited_at timestamptz;
-- Set when the message was deleted for everyone: body is then '' and the
-- kind 'deleted', so neither text nor media reference nor search entry
-- remains. The row stays for seq continuity and receipts (ticks).
ALTER TABLE messages ADD COLUMN deleted_at timestamptz;
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
  CHECK (kind IN ('text', 'media', 'e2e', 'deleted'));

-- Archived messages deleted for everyone: archived_messages loses its
-- search entry and this overlay hides the segment's copy on read.
ALTER TABLE archived_messages ADD COLUMN deleted_at timestamptz;

-- "Delete for me": hidden from that user's history only.
CREATE TABLE message_hidden (
  conversation_id bigint NOT NULL REFERENCES conversations ON DELETE CASCADE,
  user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
  seq bigint NOT NULL,
  PRIMARY KEY (conversation_id, user_id, seq)
);

-- One reaction (a single emoji) per user per message.
CREATE TABLE reactions (
  conversation_id bigint NOT NULL REFERENCES conversations ON DELETE CASCADE,
  seq bigint NOT NULL,
  user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
  emoji text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, seq, user_id)
);

-- Forwarded copies are marked; their media references are the original's
-- (the media_refs trigger adds this message as one more reference).
ALTER TABLE messages ADD COLUMN forwarded boolean NOT NULL DEFAULT false;
