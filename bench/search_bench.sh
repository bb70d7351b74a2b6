#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Parley - bench: search latency over a generated history, then the archive of that history.
# Copyright (c) 2026 Parley developers
#
# Sourced by scripts/bench for `--only search` (and `archive`); uses its variables and functions
# (bin, parleyd_start, PARLEY_PG, PL_PGBIN, results, ...). Sizes: BENCH_SEARCH_MESSAGES
# (default 1,000,000; --quick 100,000), BENCH_SEARCH_ROUNDS (passes over the query list).

# bench_psql ARGS...: psql on the bench database.
bench_psql() {
  "$PL_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PL_PGSOCK" -p "$PL_PG_PORT" -U parley \
    -d parley_bench "$@"
}

# search_latency LABEL: every query of $queries, BENCH_SEARCH_ROUNDS times, over one keep-alive
# connection (curl reuses it across the URLs of one invocation); prints p50/p95/max in ms.
search_latency() {
  local label=$1 port urls=() q r
  read -r port _ <"$port_file"
  # -o applies to one URL each, hence the pairs.
  for ((r = 0; r < BENCH_SEARCH_ROUNDS; r++)); do
    for q in "${queries[@]}"; do urls+=(-o /dev/null "http://127.0.0.1:$port/v1/search?$q"); done
  done
  # First pass warms the caches and the prepared statements; not counted.
  curl -s -H "Authorization: Bearer $search_token" "${urls[@]:0:$((3 * ${#queries[@]}))}"
  local times
  times=$(curl -s -w '%{http_code} %{time_total}\n' \
    -H "Authorization: Bearer $search_token" "${urls[@]}")
  local bad
  bad=$(awk '$1 != 200' <<<"$times" | wc -l)
  awk '{ print $2 * 1000 }' <<<"$times" | sort -n | awk -v label="$label" -v bad="$bad" '
    { v[NR] = $1 }
    END {
      p50 = v[int(NR * 0.50 + 0.5)]; p95 = v[int(NR * 0.95 + 0.5)]
      printf "RESULT scenario=search phase=%s requests=%d p50_ms=%.1f p95_ms=%.1f max_ms=%.1f errors=%d\n",
        label, NR, p50, p95, v[NR], bad
    }' | tee -a "$results"
}

run_search_bench() {
  local n=$BENCH_SEARCH_MESSAGES data=$PARLEY_DATA/search-data
  rm -rf "$data"
  mkdir -p "$data"
  parleyd_flags+=(--data-dir "$data" --archive-interval 0)
  parleyd_start
  local port
  read -r port _ <"$port_file"
  local name="searchbench_$RANDOM"
  curl -sf -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"username\":\"$name\",\"password\":\"correct horse battery\"}" \
    "http://127.0.0.1:$port/v1/users" || pl_die "could not register the search user"
  search_token=$(curl -sf -H 'Content-Type: application/json' \
    -d "{\"username\":\"$name\",\"password\":\"correct horse battery\"}" \
    "http://127.0.0.1:$port/v1/sessions" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  [[ -n $search_token ]] || pl_die "could not log the search user in"
  local uid
  uid=$(bench_psql -Atc "SELECT id FROM users WHERE username = '$name'")
  pl_say "generating $n messages in SQL (bench/search_gen.sql)"
  local t0=$SECONDS
  bench_psql -v messages="$n" -v users=10000 -v convs=20000 -v bench_user="$uid" \
    -f "$PL_ROOT/bench/search_gen.sql" || pl_die "generating the history failed"
  bench_psql -c 'VACUUM ANALYZE'
  pl_say "generated in $((SECONDS - t0)) s; $(bench_psql -Atc "SELECT count(*) FROM messages \
JOIN members USING (conversation_id) WHERE user_id = $uid") messages visible to the search user"
  # Words of the search user's own history at three frequencies, and common ones.
  local w_hi w_mid w_lo busy
  w_hi=$(bench_psql -Atc "SELECT word FROM ts_stat('SELECT tsv FROM message_search m \
JOIN members mb USING (conversation_id) WHERE mb.user_id = $uid') \
ORDER BY ndoc DESC OFFSET 20 LIMIT 1")
  w_mid=$(bench_psql -Atc "SELECT word FROM ts_stat('SELECT tsv FROM message_search m \
JOIN members mb USING (conversation_id) WHERE mb.user_id = $uid') \
WHERE ndoc BETWEEN 20 AND 40 LIMIT 1")
  w_lo=$(bench_psql -Atc "SELECT word FROM ts_stat('SELECT tsv FROM message_search m \
JOIN members mb USING (conversation_id) WHERE mb.user_id = $uid') WHERE ndoc = 1 LIMIT 1")
  busy=$(bench_psql -Atc "SELECT conversation_id FROM members mb JOIN conversations c \
ON c.id = mb.conversation_id WHERE mb.user_id = $uid ORDER BY c.last_seq DESC LIMIT 1")
  queries=("q=the" "q=meeting" "q=coffee+or+lunch" "q=%22in+the%22" "q=the+-coffee"
    "q=$w_hi" "q=$w_mid" "q=$w_lo" "q=$w_hi+$w_mid" "q=zzzznotaword" "q=the&limit=100"
    "q=the&conversation_id=$busy" "q=meeting&conversation_id=$busy")
  pl_say "search queries: ${queries[*]}"
  search_latency hot
  bench_psql -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT m.id FROM members mb \
JOIN message_search m ON m.conversation_id = mb.conversation_id AND m.seq > mb.joined_seq \
WHERE mb.user_id = $uid AND m.tsv @@ websearch_to_tsquery('simple', 'the') \
ORDER BY ln(ts_rank_cd(m.tsv, websearch_to_tsquery('simple', 'the')) + 1e-6) \
+ extract(epoch FROM m.created_at)::float8 / 2592000 DESC LIMIT 21" >"$PARLEY_DATA/search-explain.txt"
  pl_parleyd_stop

  [[ ,$only, == *,archive,* ]] || return 0
  local before_msgs before_all
  before_msgs=$(bench_psql -Atc "SELECT pg_total_relation_size('messages')")
  before_all=$(bench_psql -Atc "SELECT pg_database_size('parley_bench')")
  pl_say "archiving everything but each conversation's last message: parleyd archive"
  t0=$SECONDS
  local out
  out=$("$bin" archive --data-dir "$data" --archive-after 0 --log warn 9>&-) ||
    pl_die "parleyd archive failed"
  local secs=$((SECONDS - t0))
  bench_psql -c 'VACUUM FULL messages' -c 'ANALYZE'
  local after_msgs after_idx raw stored blob_du after_all
  after_msgs=$(bench_psql -Atc "SELECT pg_total_relation_size('messages')")
  after_idx=$(bench_psql -Atc "SELECT pg_total_relation_size('archived_messages') + \
pg_total_relation_size('archive_segments')")
  after_all=$(bench_psql -Atc "SELECT pg_database_size('parley_bench')")
  raw=$(bench_psql -Atc "SELECT COALESCE(sum(raw_bytes), 0) FROM archive_segments")
  stored=$(bench_psql -Atc "SELECT COALESCE(sum(stored_bytes), 0) FROM archive_segments")
  blob_du=$(du -sb "$data/blobs/a" | cut -f1)
  echo "RESULT scenario=archive $out" | tr -d '\n' | tee -a "$results"
  echo " seconds=$secs messages_table_before=$before_msgs messages_table_after=$after_msgs \
archive_index_tables=$after_idx db_before=$before_all db_after=$after_all raw_bytes=$raw \
stored_bytes=$stored blob_dir_bytes=$blob_du ratio=$(awk -v r="$raw" -v s="$stored" \
'BEGIN { printf "%.2f", s ? r / s : 0 }')" | tee -a "$results"
  parleyd_start
  search_latency archived
  pl_parleyd_stop
}
