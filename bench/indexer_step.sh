#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Parley - bench: the search indexer's cost per message, before and after migration 0020 (issue 13).
# Copyright (c) 2026 Parley developers
#
# Usage: bench/indexer_step.sh [N [RUNS [BEFORE_REV]]]   (defaults 50000 3 a14248e)
#
# Measures the indexer alone, without parleyd: on a PostgreSQL cluster of its own
# ($PARLEY_DATA/bench-indexer, durable settings), for each variant RUNS times, alternating, a
# fresh database gets the schema (BEFORE_REV's migrations for "before", this tree's for "after"),
# 1,000 direct conversations and N text messages with the search position left at 0 (as if the
# indexer had been stopped), then one session runs the indexer's step (the SQL of INDEX_STEP in
# storage/pg_search.c, prepared with a generic plan like parleyd's indexer connection) with 1,000
# messages per step until it has caught up, then VACUUM messages (the dead tuples the step
# left). Prints the session backend's CPU (utime + stime from /proc), the elapsed time and the
# WAL it wrote, per 1,000 messages, and once per variant EXPLAIN (ANALYZE, BUFFERS, WAL) of one
# 500-message step. Run it on a quiet machine: CPU is the figure that counts.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$PL_ROOT"

n=${1:-50000} runs=${2:-3} rev=${3:-a14248e}
: "${PARLEY_DATA:=$PL_ROOT/var}"
mkdir -p "$PARLEY_DATA"
PARLEY_DATA=$(cd "$PARLEY_DATA" && pwd -P)/bench-indexer
pl_env
trap pl_stop_all EXIT
pl_pg_start || pl_die "PostgreSQL did not start"
tmp=$(mktemp -d)
db=parley_indexer_bench

# The step before 0020: an UPDATE of messages.tsv.
step_before="WITH st AS (SELECT pos FROM search_index_state WHERE id = 1 FOR UPDATE),
 due AS (SELECT m.conversation_id, m.seq, m.id FROM messages m
   WHERE m.id > (SELECT pos FROM st) ORDER BY m.id LIMIT \$1::int),
 upd AS (UPDATE messages m SET tsv = to_tsvector(c.config, message_search_text(m.kind, m.body))
   FROM due, search_settings c WHERE c.id = 1
   AND m.conversation_id = due.conversation_id AND m.seq = due.seq
   AND m.kind IN ('text', 'media') RETURNING 1),
 nx AS (SELECT CASE WHEN (SELECT count(*) FROM due) = \$1::int THEN (SELECT max(id) FROM due)
   ELSE (SELECT pos FROM stream_state WHERE id = 1) END AS pos),
 mv AS (UPDATE search_index_state x SET pos = nx.pos FROM nx
   WHERE x.id = 1 AND nx.pos > x.pos RETURNING 1)
 SELECT (SELECT count(*) FROM due), (SELECT count(*) FROM upd), (SELECT count(*) FROM mv)"
# The step of 0020: an insert into message_search.
step_after="WITH st AS (SELECT pos FROM search_index_state WHERE id = 1 FOR UPDATE),
 due AS (SELECT m.conversation_id, m.seq, m.id, m.created_at, m.kind, m.body FROM messages m
   WHERE m.id > (SELECT pos FROM st) ORDER BY m.id LIMIT \$1::int),
 ins AS (INSERT INTO message_search (conversation_id, seq, id, created_at, tsv)
   SELECT due.conversation_id, due.seq, due.id, due.created_at,
   to_tsvector(c.config, message_search_text(due.kind, due.body))
   FROM due, search_settings c WHERE c.id = 1 AND due.kind IN ('text', 'media') ORDER BY due.id
   ON CONFLICT (conversation_id, seq) DO NOTHING RETURNING 1),
 nx AS (SELECT CASE WHEN (SELECT count(*) FROM due) = \$1::int THEN (SELECT max(id) FROM due)
   ELSE (SELECT pos FROM stream_state WHERE id = 1) END AS pos),
 mv AS (UPDATE search_index_state x SET pos = nx.pos FROM nx
   WHERE x.id = 1 AND nx.pos > x.pos RETURNING 1)
 SELECT (SELECT count(*) FROM due), (SELECT count(*) FROM ins), (SELECT count(*) FROM mv)"

# schema VARIANT: a fresh database with that variant's migrations.
schema() {
  pl_pg_freshdb "$db" >/dev/null
  local f
  if [[ $1 == before ]]; then
    for f in $(git ls-tree --name-only "$rev" storage/migrations/ | sort); do
      git show "$rev:$f" | pl_psql -d "$db" -1 -f - >/dev/null
    done
  else
    for f in storage/migrations/*.sql; do
      pl_psql -d "$db" -1 -f "$f" >/dev/null
    done
  fi
}

# The same history for both: N messages round-robin over 1,000 direct conversations, 5 to 13
# words each from a 100-word vocabulary plus a number, positions 1..N; search position 0.
gen() {
  pl_psql -d "$db" -v n="$n" >/dev/null <<'SQL'
SET jit = off;
INSERT INTO users (username, display_name, pwhash)
SELECT 'user' || g, 'U', '!' FROM generate_series(1, 2000) g;
INSERT INTO conversations (kind, direct_key, member_count)
SELECT 'direct', (2 * g - 1) || ':' || (2 * g), 2 FROM generate_series(1, 1000) g;
INSERT INTO members (conversation_id, user_id, role, joined_seq, joined_pos)
SELECT c.id, c.id * 2 - k, 'member', 0, 0 FROM conversations c, generate_series(0, 1) k;
WITH v AS (SELECT string_to_array('the be to of and a in that have it for not on with he as you '
  'do at this but his by from they we say her she or an will my one all would there their what so '
  'up out if about who get which go me when make can like time no just him know take people into '
  'year your good some could them see other than then now look only come its over think also back '
  'meeting lunch tomorrow tonight weekend coffee project deadline release review photo video',
  ' ') AS w)
INSERT INTO messages (conversation_id, seq, id, sender_id, sender_device_id, client_msg_id, kind,
                      body, created_at)
SELECT 1 + (g - 1) % 1000, 1 + (g - 1) / 1000, g, 2 * (1 + (g - 1) % 1000) - g % 2, 0, 'b-' || g,
       'text', (SELECT string_agg(v.w[1 + (g * 7 + j * 31 + j * j * g) % array_length(v.w, 1)], ' ')
                FROM generate_series(0, 4 + g % 9) j) || ' ' || g,
       now() - interval '1 ms' * (:n - g)
FROM generate_series(1, :n) g, v ORDER BY g;
UPDATE conversations c SET last_seq = (SELECT max(seq) FROM messages m WHERE m.conversation_id = c.id);
UPDATE stream_state SET pos = :n;
UPDATE search_index_state SET pos = 0;
ANALYZE;
SQL
}

# measure VARIANT RUN: the catch-up, then VACUUM messages; one result line.
measure() {
  local v=$1 sql steps=$((n / 1000 + 2)) i
  [[ $v == before ]] && sql=$step_before || sql=$step_after
  {
    echo "SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan;"
    echo "PREPARE step(int) AS $sql;"
    echo "SELECT pg_backend_pid() AS pid, pg_current_wal_lsn() AS l0, extract(epoch FROM clock_timestamp()) AS t0 \\gset"
    echo "\\setenv PID :pid"
    echo "\\! awk '{print \$14 + \$15}' /proc/\$PID/stat > $tmp/c0"
    for ((i = 0; i < steps; i++)); do echo "EXECUTE step(1000);"; done
    echo "\\! awk '{print \$14 + \$15}' /proc/\$PID/stat > $tmp/c1"
    echo "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :'l0') AS wal, round((extract(epoch FROM clock_timestamp()) - :t0) * 1000) AS ms, pg_current_wal_lsn() AS l1, extract(epoch FROM clock_timestamp()) AS t1 \\gset"
    echo "VACUUM messages;"
    echo "\\! awk '{print \$14 + \$15}' /proc/\$PID/stat > $tmp/c2"
    echo "SELECT :wal, :ms, pg_wal_lsn_diff(pg_current_wal_lsn(), :'l1'), round((extract(epoch FROM clock_timestamp()) - :t1) * 1000), (SELECT pos FROM search_index_state) \\g $tmp/out"
  } >"$tmp/run.sql"
  pl_psql -d "$db" -At -F ' ' -f "$tmp/run.sql" >/dev/null
  local c0 c1 c2 wal ms vwal vms pos
  c0=$(cat "$tmp/c0") c1=$(cat "$tmp/c1") c2=$(cat "$tmp/c2")
  read -r wal ms vwal vms pos <"$tmp/out"
  [[ $pos == "$n" ]] || pl_die "$v: the indexer stopped at $pos of $n"
  awk -v v="$v" -v r="$2" -v n="$n" -v cpu=$(((c1 - c0) * 10)) -v ms="$ms" -v wal="$wal" \
    -v vcpu=$(((c2 - c1) * 10)) -v vms="$vms" -v vwal="$vwal" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
    'BEGIN { k = n / 1000; printf "%-6s run %d: steps %6.1f ms CPU %6.1f ms elapsed %8.0f WAL B | vacuum %5.1f ms CPU %8.0f WAL B | per 1,000 messages; load %s\n", v, r, cpu / k, ms / k, wal / k, vcpu / k, vwal / k, load }'
}

explain() {
  local v=$1 sql
  [[ $v == before ]] && sql=$step_before || sql=$step_after
  pl_psql -d "$db" <<SQL
SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan;
PREPARE step(int) AS $sql;
EXPLAIN (ANALYZE, BUFFERS, WAL, COSTS OFF, TIMING OFF) EXECUTE step(500);
SQL
}

pl_say "indexer step: $n messages, $runs runs per variant, before = $rev's migrations"
for ((r = 1; r <= runs; r++)); do
  for v in before after; do
    schema "$v"
    gen
    measure "$v" "$r"
  done
done
for v in before after; do
  schema "$v"
  gen
  pl_say "$v: EXPLAIN of one 500-message step"
  explain "$v"
done
rm -rf "$tmp"
