-- SPDX-License-Identifier: MIT
-- Parley - migration 0021: messages without foreign keys on the insert path.
-- Copyright (c) 2026 Parley developers
--
-- Runs inside a transaction opened by storage/pg_migrate.c.
--
-- Every message row paid two referential checks when it was inserted: one SPI query per row
-- against conversations and one against users, and the second took a FOR KEY SHARE lock on the
-- sender's row, which writes that row's xmax and a WAL record again for every message. Measured
-- at h2c saturation (bench/README.md "Messages without foreign keys"), the writer's INSERT cost
-- 22-25 us per message with them and 15 us without, and it runs inside the serial section that
-- holds the stream position lock.
--
-- What the checks guarded still holds without them:
--  * on insert: only the writer inserts messages (storage/pg_messages.c, SEND_INSERT), and only
--    for sends whose check (SEND_CHECK) found the sender a member of the conversation, under the
--    conversation's row lock (SEND_LOCK) held to the commit. members references both users and
--    conversations, so the sender and the conversation exist and stay for the transaction;
--  * on delete: nothing deletes users (an account is closed by clearing the row, 0016) or
--    conversations today. Should something, the triggers below keep the old behaviour: a
--    conversation's messages go with it (the cascade), and a user who sent messages cannot be
--    deleted (the old NO ACTION check, same error code). Both are statement-level, a cost on
--    the rare path instead of a check on every insert, like the search terms' trigger of 0020.

ALTER TABLE messages DROP CONSTRAINT messages_conversation_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_sender_id_fkey;

-- Fires before conversations_search_gone (triggers of an event fire in name order); the
-- e2e_ciphertexts rows go by their own cascade from messages.
CREATE FUNCTION messages_conversation_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM messages m USING gone g WHERE m.conversation_id = g.id;
  RETURN NULL;
END
$$;
CREATE TRIGGER conversations_messages_gone AFTER DELETE ON conversations
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
  EXECUTE FUNCTION messages_conversation_gone();

CREATE FUNCTION messages_sender_gone() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  who bigint;
BEGIN
  SELECT m.sender_id INTO who FROM messages m JOIN gone g ON g.id = m.sender_id LIMIT 1;
  IF FOUND THEN
    RAISE foreign_key_violation USING
      MESSAGE = format('user %s is still the sender of messages', who),
      TABLE = 'messages', CONSTRAINT = 'messages_sender_id_fkey';
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER users_messages_sender AFTER DELETE ON users
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
  EXECUTE FUNCTION messages_sender_gone();
