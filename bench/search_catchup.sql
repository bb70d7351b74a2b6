-- SPDX-License-Identifier: MIT
-- Parley - bench: the search terms of every message the indexer has not reached, as its step
-- (storage/pg_search.c, INDEX_STEP) writes them. Included by history_gen.sql and search_gen.sql
-- (\ir) before they move search_index_state past what they generated.
-- Copyright (c) 2026 Parley developers
INSERT INTO message_search (conversation_id, seq, id, created_at, tsv)
SELECT m.conversation_id, m.seq, m.id, m.created_at,
       to_tsvector(c.config, message_search_text(m.kind, m.body))
FROM messages m, search_settings c WHERE c.id = 1 AND m.kind IN ('text', 'media')
  AND m.id > (SELECT pos FROM search_index_state WHERE id = 1)
ORDER BY m.id ON CONFLICT (conversation_id, seq) DO NOTHING;
