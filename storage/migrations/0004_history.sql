-- SPDX-License-Identifier: MIT
-- Parley - migration 0004: full-text search over message history.
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c.

-- btree_gin lets one GIN index hold (conversation_id, tsv): a search then
-- reads only the posting lists of the caller's conversations instead of
-- every match in the deployment and filtering afterwards. It is a trusted
-- extension (PostgreSQL 13+), so the database owner may create it.
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- The text search configuration of the deployment ('simple' by default,
-- 'english' for stemming and stop words). parleyd writes its search_config
-- setting here at startup (storage/pg_search.c) and, when it changed,
-- recomputes the stored vectors in the same transaction, so the index and
-- the queries always use the same configuration.
CREATE TABLE search_settings (
  id int PRIMARY KEY CHECK (id = 1),
  config regconfig NOT NULL
);
INSERT INTO search_settings VALUES (1, 'simple');

-- NULL for messages that are not indexed: kind 'e2e' (the server holds
-- only ciphertext).
ALTER TABLE messages ADD COLUMN tsv tsvector;

-- The searchable text of a message: the text of kind 'text', the caption
-- of kind 'media' (its body is the Media JSON document), nothing for 'e2e'.
-- Also what search snippets are cut from.
CREATE FUNCTION message_search_text(kind text, body text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE kind WHEN 'text' THEN body
                   WHEN 'media' THEN COALESCE(body::jsonb ->> 'caption', '')
                   ELSE NULL END
$$;

-- A trigger rather than a generated column: a generated column may only
-- use immutable expressions, so it could not follow search_settings.
-- The writer's group commit stays unchanged: the vector is computed by
-- PostgreSQL as the rows are inserted.
CREATE FUNCTION messages_tsv() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.tsv := to_tsvector((SELECT config FROM search_settings WHERE id = 1),
                         message_search_text(NEW.kind, NEW.body));
  RETURN NEW;
END
$$;
CREATE TRIGGER messages_tsv BEFORE INSERT OR UPDATE OF kind, body ON messages
  FOR EACH ROW EXECUTE FUNCTION messages_tsv();

CREATE INDEX messages_search ON messages USING gin (conversation_id, tsv)
  WHERE tsv IS NOT NULL;

-- ---- Archive ----------------------------------------------------------------
-- Old messages are packed per conversation into brotli-compressed segments
-- of JSON lines in blob storage ("a/" keys; server/archive.c). Each
-- segment is recorded here in the same transaction that moves its
-- messages from messages to archived_messages, so a message is always in
-- exactly one of the two.
CREATE TABLE archive_segments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id bigint NOT NULL REFERENCES conversations ON DELETE CASCADE,
  first_seq bigint NOT NULL,
  last_seq bigint NOT NULL,
  message_count int NOT NULL CHECK (message_count > 0),
  blob_key text NOT NULL UNIQUE,
  raw_bytes bigint NOT NULL,
  stored_bytes bigint NOT NULL,
  sha256 bytea NOT NULL CHECK (length(sha256) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (first_seq <= last_seq)
);
CREATE INDEX archive_segments_by_conversation ON archive_segments (conversation_id, first_seq);

-- What stays in PostgreSQL of an archived message: what permissions, ticks,
-- ordering and search need. The rest (text, client ids, reply_to) is read
-- from the segment.
CREATE TABLE archived_messages (
  conversation_id bigint NOT NULL,
  seq bigint NOT NULL,
  id bigint NOT NULL UNIQUE,
  sender_id bigint NOT NULL,
  created_at timestamptz NOT NULL,
  segment_id bigint NOT NULL REFERENCES archive_segments ON DELETE CASCADE,
  tsv tsvector,
  PRIMARY KEY (conversation_id, seq)
);
CREATE INDEX archived_messages_search ON archived_messages USING gin (conversation_id, tsv)
  WHERE tsv IS NOT NULL;
CREATE INDEX archived_messages_segment ON archived_messages (segment_id);
