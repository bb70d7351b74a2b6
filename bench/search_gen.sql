-- SPDX-License-Identifier: MIT
-- Parley - bench: a generated history for the search and archive benchmarks.
-- Copyright (c) 2026 Parley developers
--
-- psql variables: messages (how many), users, convs, bench_user (an existing
-- user, registered through the API so that it can log in, made a member of
-- every convs/40-th conversation: 40 conversations, busy and quiet, direct
-- and groups). Written straight into the tables (not through the API) so a
-- million messages take a minute, not an hour. The text is a word mix with a
-- Zipf-like frequency: 150 common English words, then 4850 made-up words of
-- falling frequency, so queries can hit common, middling and rare words.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE TEMP TABLE vocab (rank int PRIMARY KEY, word text NOT NULL);
INSERT INTO vocab
SELECT row_number() OVER (), w FROM unnest(string_to_array(
  'the be to of and a in that have i it for not on with he as you do at this but his by from '
  'they we say her she or an will my one all would there their what so up out if about who get '
  'which go me when make can like time no just him know take people into year your good some '
  'could them see other than then now look only come its over think also back after use two how '
  'our work first well way even new want because any these give day most us meeting lunch '
  'tomorrow tonight weekend coffee project deadline release review photo video call later thanks '
  'please sorry great sounds cool home office train flight hotel dinner party birthday game '
  'movie music book doctor school kids weather rain sunny running late early ready done soon '
  'monday friday', ' ')) AS w;
INSERT INTO vocab
SELECT r, (SELECT string_agg(substr('bcdfghjklmnprstvwz', 1 + (get_byte(h, k) % 18), 1) ||
                             substr('aeiou', 1 + (get_byte(h, k + 8) % 5), 1), '')
           FROM generate_series(0, 1 + r % 3) k)
FROM (SELECT r, decode(md5(r::text), 'hex') AS h FROM generate_series(151, 5000) r) x
ON CONFLICT DO NOTHING;

CREATE TEMP TABLE gu AS
WITH ins AS (
  INSERT INTO users (username, display_name, pwhash)
  SELECT 'gen_' || g || '_' || substr(md5(random()::text), 1, 6), 'Gen ' || g, 'generated'
  FROM generate_series(1, :users) g RETURNING id)
SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM ins;

CREATE TEMP TABLE gc AS
WITH ins AS (
  INSERT INTO conversations (kind, title, direct_key)
  SELECT CASE WHEN g % 5 = 0 THEN 'group' ELSE 'direct' END,
         CASE WHEN g % 5 = 0 THEN 'Group ' || g END,
         CASE WHEN g % 5 = 0 THEN NULL ELSE 'gen:' || g || ':' || md5(random()::text) END
  FROM generate_series(1, :convs) g RETURNING id, kind)
SELECT id, kind, row_number() OVER (ORDER BY id) - 1 AS k FROM ins;

-- Two members per direct conversation, 3 to 12 per group.
INSERT INTO members (conversation_id, user_id, role, joined_seq, joined_pos)
SELECT DISTINCT ON (gc.id, gu.id) gc.id, gu.id, 'member', 0, 0
FROM gc CROSS JOIN LATERAL generate_series(0, CASE WHEN gc.kind = 'direct' THEN 1 ELSE 2 + gc.k % 10 END) j
JOIN gu ON gu.k = (gc.k * 7 + j * 13) % :users;
INSERT INTO members (conversation_id, user_id, role, joined_seq, joined_pos)
SELECT gc.id, :bench_user, 'member', 0, 0 FROM gc WHERE gc.k % (:convs / 40) = 0
ON CONFLICT DO NOTHING;

CREATE TEMP TABLE cm AS
SELECT conversation_id, array_agg(user_id ORDER BY user_id) AS who
FROM members WHERE conversation_id IN (SELECT id FROM gc) GROUP BY conversation_id;

-- Messages: conversations picked with a skew (a few busy ones, many quiet
-- ones), spread over the last 60 days in id order, each 3 to 19 words.
SET jit = off;
CREATE TEMP TABLE gb AS
SELECT w.g, string_agg(v.word, ' ' ORDER BY w.k) AS body
FROM (SELECT g, k, least(5000, floor(exp(random() * ln(5001)))::int) AS r
      FROM generate_series(1, :messages) g
      CROSS JOIN LATERAL generate_series(1, 3 + (g * 7) % 17) k) w
JOIN vocab v ON v.rank = w.r GROUP BY w.g;
INSERT INTO messages (conversation_id, seq, id, sender_id, sender_device_id, client_msg_id, kind,
                      body, created_at)
SELECT c.conversation_id,
       row_number() OVER (PARTITION BY c.conversation_id ORDER BY g),
       base.m + g, c.who[1 + g % array_length(c.who, 1)], 0, 'gen-' || (base.m + g), 'text',
       gb.body, now() - interval '60 days' * (1 - g::float8 / :messages)
FROM gb AS gb(g, body)
CROSS JOIN (SELECT COALESCE(max(id), 0) + 1000000 AS m FROM messages) base
JOIN gc ON gc.k = floor(:convs * power(((g * 2654435761::bigint) % 1000003) / 1000003.0, 2))::int
JOIN cm c ON c.conversation_id = gc.id;

UPDATE conversations v SET last_seq = x.s, member_count = x.n
FROM (SELECT gc.id, (SELECT COALESCE(max(seq), 0) FROM messages m WHERE m.conversation_id = gc.id) s,
             (SELECT count(*) FROM members mb WHERE mb.conversation_id = gc.id) n FROM gc) x
WHERE v.id = x.id;
-- Their search terms (message_search, 0020), and those of anything else the
-- indexer has not reached, as the indexer would write them.
\ir search_catchup.sql
-- The ids are stream positions: the counter moves past them, and the search
-- indexer (0015) with it, since the terms were written above.
UPDATE stream_state SET pos = GREATEST(pos, (SELECT max(id) FROM messages)) WHERE id = 1;
UPDATE search_index_state SET pos = (SELECT pos FROM stream_state WHERE id = 1) WHERE id = 1;
ANALYZE;
