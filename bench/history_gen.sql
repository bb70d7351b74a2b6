-- SPDX-License-Identifier: MIT
-- Parley - bench: N messages of history in the existing direct conversations (issue 13).
-- Copyright (c) 2026 Parley developers
--
-- psql variable: messages (how many). Spreads them round-robin over every
-- direct conversation already there (the 1:1 bench's, made through the API),
-- sent by its members in turn over the last 60 days, with the stream
-- positions, per-conversation seqs, search terms (message_search) and (for the last 7
-- days, the default event_retention) the message.created events a real send
-- leaves, so that what a send then touches - the indexes of messages and
-- events, the GIN search index, the conversations' rows - is as big as
-- after that much traffic. Written straight into the tables: 1,000,000
-- messages take about a minute on an idle machine. Run it while nothing
-- sends: it takes the positions as one block and moves the search indexer
-- past them (0015).

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET jit = off;
BEGIN;
-- Held to the end: a send (or an indexer step) waits instead of
-- interleaving with the block.
SELECT pos FROM stream_state WHERE id = 1 FOR UPDATE;
SELECT pos FROM search_index_state WHERE id = 1 FOR UPDATE;
-- What the indexer has not reached yet, so that moving it past the block
-- below skips nothing.
\ir search_catchup.sql

CREATE TEMP TABLE hc AS
SELECT v.id, v.last_seq, row_number() OVER (ORDER BY v.id) - 1 AS k,
       (SELECT array_agg(mb.user_id ORDER BY mb.user_id) FROM members mb
        WHERE mb.conversation_id = v.id) AS who
FROM conversations v WHERE v.kind = 'direct';
CREATE UNIQUE INDEX ON hc (k);
SELECT count(*) AS n_convs FROM hc \gset
SELECT pos AS base FROM stream_state WHERE id = 1 \gset

CREATE TEMP TABLE hw (i int PRIMARY KEY, w text NOT NULL);
INSERT INTO hw SELECT row_number() OVER () - 1, w FROM unnest(string_to_array(
  'the be to of and a in that have it for not on with he as you do at this but his by from they '
  'we say her she or an will my one all would there their what so up out if about who get which '
  'go me when make can like time no just him know take people into year your good some could '
  'them see other than then now look only come its over think also back after use two how our '
  'work first well way even new want because any these give day most us meeting lunch tomorrow '
  'tonight weekend coffee project deadline release review photo video call later thanks please '
  'sorry great sounds cool home office train flight hotel dinner party birthday game movie music',
  ' ')) AS w;

CREATE TEMP TABLE hm AS
SELECT :base + g AS id, c.id AS conversation_id, c.last_seq + 1 + (g - 1) / :n_convs AS seq,
       c.who[1 + ((g - 1) / :n_convs) % 2] AS sender_id,
       (SELECT string_agg(hw.w, ' ') FROM generate_series(0, 4 + g % 9) j
        JOIN hw ON hw.i = (g * 7 + j * 31 + j * j * g) % 180) || ' ' || g AS body,
       now() - interval '60 days' * (1 - g::float8 / :messages) AS created_at
FROM generate_series(1, :messages) g JOIN hc c ON c.k = (g - 1) % :n_convs;

INSERT INTO messages (conversation_id, seq, id, sender_id, sender_device_id, client_msg_id, kind,
                      body, created_at)
SELECT conversation_id, seq, id, sender_id, 0, 'hist-' || id, 'text', body, created_at
FROM hm ORDER BY id;
INSERT INTO message_search (conversation_id, seq, id, created_at, tsv)
SELECT conversation_id, seq, id, created_at,
       to_tsvector((SELECT config FROM search_settings WHERE id = 1), body)
FROM hm ORDER BY id;

INSERT INTO events (pos, conversation_id, type, payload, created_at)
SELECT id, conversation_id, 'message.created',
       json_build_object('conversation_id', conversation_id, 'message', json_build_object(
         'id', id, 'conversation_id', conversation_id, 'seq', seq, 'sender', sender_id,
         'kind', 'text', 'text', body, 'status', 'sent'))::text, created_at
FROM hm WHERE created_at > now() - interval '7 days' ORDER BY id;

UPDATE conversations v SET last_seq = x.s, last_activity_at = now()
FROM (SELECT conversation_id, max(seq) AS s FROM hm GROUP BY 1) x WHERE v.id = x.conversation_id;
UPDATE stream_state SET pos = pos + :messages WHERE id = 1;
UPDATE search_index_state SET pos = (SELECT pos FROM stream_state WHERE id = 1) WHERE id = 1;
COMMIT;
