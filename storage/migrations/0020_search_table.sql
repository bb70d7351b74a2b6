-- SPDX-License-Identifier: MIT
-- Parley - migration 0020: the search terms of hot messages in an insert-only table of their own.
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c.
--
-- Since 0015 the search indexer filled messages.tsv with an UPDATE of every message row a moment
-- after the writer inserted it. tsv is in a GIN index, so that UPDATE was never HOT: every
-- message was written twice (the whole row, body included, into the heap and the WAL), got a
-- second entry in every btree index of messages, and left a dead tuple for vacuum (issue 13,
-- bench/README.md "Search indexer"). Now the indexer only inserts into message_search, and the
-- message row is written once.
--
-- A row per message of kind text or media (e2e messages are never indexed), keyed like the
-- message. created_at and id are copies (both immutable) so that a search ranks and pages its
-- hits from this table and its GIN index alone and reads the messages rows of one page only.
-- tsv NULL is a tombstone: the message has no search text any more (deleted for everyone).
--
-- No foreign key, on purpose: the RI check of every insert would take a FOR KEY SHARE lock on
-- the referenced row, which writes to that row again (the very cost removed here). Instead
-- every statement that deletes messages rows deletes their terms too (storage/pg_archive.c,
-- storage/pg_expiry.c, and the trigger on conversations below), and it deletes only messages
-- the indexer has already passed, so the indexer can never insert terms for a message that is
-- gone (docs/architecture.md, "Search and archive").
-- Nothing may write messages between the copy below and the new trigger: an edit would be lost,
-- and a node still running the old indexer could move search_index_state past messages whose
-- vectors the copy did not see. Reads go on; writers wait for this transaction (they would wait
-- for the DROPs at its end anyway), and an old indexer's step then fails (no messages.tsv) until
-- its node runs this version.
LOCK TABLE messages IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE message_search (
  conversation_id bigint NOT NULL,
  seq bigint NOT NULL,
  id bigint NOT NULL,
  created_at timestamptz NOT NULL,
  tsv tsvector,
  PRIMARY KEY (conversation_id, seq)
);

-- What the indexer has done so far moves over as it is; the messages above its position get
-- their row from the indexer's next step.
INSERT INTO message_search (conversation_id, seq, id, created_at, tsv)
SELECT conversation_id, seq, id, created_at, tsv FROM messages
WHERE tsv IS NOT NULL ORDER BY id;

CREATE INDEX message_search_tsv ON message_search USING gin (conversation_id, tsv)
  WHERE tsv IS NOT NULL;

-- Edits and deletions for everyone (kind 'deleted', no search text) always *upsert* the row,
-- never update or delete it, and the indexer inserts with ON CONFLICT DO NOTHING. So whichever
-- of an edit and the indexer's step comes last, the edited text (or the tombstone) wins:
--  * the upsert of a key whose row another transaction is inserting waits for that transaction
--    (the unique index's check), then updates the row it committed;
--  * in READ COMMITTED, ON CONFLICT looks at the latest committed row, not the statement's
--    snapshot: the indexer's insert does nothing when an edit's row exists, even if its
--    snapshot still saw the old body, and DO UPDATE updates a row no snapshot of the edit sees
--    (PostgreSQL documentation, "Read Committed Isolation Level" and INSERT "ON CONFLICT").
-- A DELETE instead of the tombstone would miss the indexer's uncommitted row, and that row would
-- then bring the deleted text back. Only kinds that have or had search text fire it (an e2e
-- message deleted for everyone needs no row).
CREATE FUNCTION message_search_upsert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO message_search AS s (conversation_id, seq, id, created_at, tsv)
  VALUES (NEW.conversation_id, NEW.seq, NEW.id, NEW.created_at,
          to_tsvector((SELECT config FROM search_settings WHERE id = 1),
                      message_search_text(NEW.kind, NEW.body)))
  ON CONFLICT (conversation_id, seq) DO UPDATE SET tsv = EXCLUDED.tsv;
  RETURN NULL;
END
$$;

DROP TRIGGER messages_tsv ON messages;
DROP FUNCTION messages_tsv();
CREATE TRIGGER messages_search_upsert AFTER UPDATE OF kind, body ON messages
  FOR EACH ROW WHEN (OLD.kind IN ('text', 'media') OR NEW.kind IN ('text', 'media'))
  EXECUTE FUNCTION message_search_upsert();

-- No code deletes conversations today; should one, its messages go by cascade and their terms
-- with them here (a statement-level cost on a rare path instead of a foreign key on every
-- insert).
CREATE FUNCTION message_search_conversation_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM message_search s USING gone g WHERE s.conversation_id = g.id;
  RETURN NULL;
END
$$;
CREATE TRIGGER conversations_search_gone AFTER DELETE ON conversations
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
  EXECUTE FUNCTION message_search_conversation_gone();

DROP INDEX messages_search;
ALTER TABLE messages DROP COLUMN tsv;
