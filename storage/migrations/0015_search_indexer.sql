-- SPDX-License-Identifier: MIT
-- Parley - migration 0015: full-text indexing off the send's commit path; room for HOT updates.
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c.

-- Until now a BEFORE INSERT trigger computed messages.tsv inside the
-- writer's transaction, and the GIN index took the entries there too:
-- measured at 60-90 us of the writer's backend per message (bench/README.md,
-- issue 13), more than everything else of a send. Now every node runs an
-- indexer (server/indexer.c) that fills tsv for the messages committed since
-- the position below, in position order, and advances the position in the
-- same transaction: each message is indexed exactly once, whichever node
-- does it (the row lock serializes the nodes). Positions commit in order
-- (stream_state), so the messages above the position that a snapshot sees
-- are always a gap-free run. Search sees a message once the indexer caught
-- up with it (well under a second).
CREATE TABLE search_index_state (
  id int PRIMARY KEY CHECK (id = 1),
  pos bigint NOT NULL
);
INSERT INTO search_index_state SELECT 1, pos FROM stream_state;

-- Edits still re-index at once, in their own transaction (rare and small).
-- The indexer's UPDATE of a row being edited waits for the edit's row lock
-- and then re-reads the row, so it indexes the edited text.
DROP TRIGGER messages_tsv ON messages;
CREATE TRIGGER messages_tsv BEFORE UPDATE OF kind, body ON messages
  FOR EACH ROW EXECUTE FUNCTION messages_tsv();

-- The watermark rows every send or receipt updates: with free room on
-- their page the new version stays on it (a HOT update, no index entries;
-- none of the updated columns is indexed). Applies to pages written from
-- now on.
ALTER TABLE conversations SET (fillfactor = 70);
ALTER TABLE members SET (fillfactor = 80);
ALTER TABLE stream_state SET (fillfactor = 10);
ALTER TABLE search_index_state SET (fillfactor = 10);
