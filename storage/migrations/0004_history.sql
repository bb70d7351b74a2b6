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
