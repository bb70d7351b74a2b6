#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Parley - compare.sh's 1:1 load on a database that already holds N messages (issue 13).
# Copyright (c) 2026 Parley developers
#
# Usage (from the project root): [HISTORY=10000000] [RATES="5000 5000 5000 10000"] bench/compare_history.sh
# compare.sh recreates its database on every invocation, so the history cannot be put under it.
# This sets up the same stack (../shared/peer-bench/parley.sh: 10,000 users in 1:1
# conversations), stops parleyd, writes HISTORY messages into those conversations with
# bench/history_gen.sql, runs VACUUM ANALYZE, starts parleyd again on the same database (autovacuum
# on, as in production) and runs bench/compare_probe.sh once per rate. With HISTORY=0 it reuses
# the database left by an earlier run (the stack must be stopped) instead of making one.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
peer=${PEER_BENCH:-$root/../shared/peer-bench}
export PARLEY_SRC=$root PARLEY_PEER_DATA=${PARLEY_PEER_DATA:-/tmp/peer-bench/parley}
export PARLEY_DATA=$PARLEY_PEER_DATA PARLEY_PG_PORT=${PARLEY_PG_PORT:-55532} PARLEY_REDIS_PORT=${PARLEY_REDIS_PORT:-56479}
P=$peer/parley.sh W=${PEER_WORK:-/tmp/peer-bench}
history=${HISTORY:-10000000} token=${PROBE_TOKEN:-probe-metrics-token-0123456789}
. scripts/lib.sh
pl_env
pl_pgbin
psqlc() { "$PL_PGBIN/psql" -X -q -h 127.0.0.1 -p "$PARLEY_PG_PORT" -U parley -d parley_peer "$@"; }
mkdir -p "$W"
if [ "$history" -gt 0 ]; then
  "$P" start >"$W/probe-start.log" 2>&1 || { echo "start failed: $W/probe-start.log" >&2; exit 1; }
  "$P" fresh >/dev/null 2>&1 && "$P" setup 1to1 10000 "$W/1to1" >/dev/null || exit 1
  kill "$("$P" pid)"; sleep 2 # nothing may send while the history is written
  echo "history: $history messages ($(date -u +%T))"
  psqlc -v messages="$history" -f bench/history_gen.sql >/dev/null || exit 1
  psqlc -c 'VACUUM ANALYZE' || exit 1
  echo "written and analyzed ($(date -u +%T))"
else
  pl_pg_start >/dev/null && pl_redis_start >/dev/null || exit 1
fi
psqlc -At -c "SELECT 'messages ' || count(*) FROM messages" \
  -c "SELECT 'database ' || pg_size_pretty(pg_database_size('parley_peer'))"
export PARLEY_PG="host=127.0.0.1 port=$PARLEY_PG_PORT user=parley dbname=parley_peer"
export PARLEY_REDIS="127.0.0.1:$PARLEY_REDIS_PORT" PARLEY_QUOTA_SENDS_PER_S=${PARLEY_QUOTA_SENDS_PER_S:-0}
ulimit -n "$(ulimit -Hn)"
# parley.sh's start_parleyd, without its `fresh`
setsid "$root/build-bench/server/parleyd" --port 19091 --tls-port 0 --pwhash-opslimit 1 \
  --pwhash-memlimit 8192 --group-max-members 100000 --conn-rate 0 --log warn \
  --metrics-token "$token" ${PARLEY_PEER_FLAGS:-} >>"$PARLEY_PEER_DATA/parleyd.log" 2>&1 </dev/null &
echo $! >"$PARLEY_PEER_DATA/parleyd.pid"
for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:19091/healthz 2>/dev/null && break; sleep 0.1; done
# The history is written straight into the tables, so the analytics aggregator (0012) and the
# search indexer (0015) meet it as a backlog of HISTORY messages, which real traffic never leaves:
# the first runs then measure their catch-up as well (a full CPU for minutes). Wait for both.
lag() {
  psqlc -At -c "SELECT (s.pos - c.pos) + (s.pos - i.pos) FROM stream_state s, analytics_checkpoint c,
    search_index_state i WHERE s.id = 1 AND c.id = 1 AND i.id = 1"
}
t0=$(date +%s)
while [ "$(lag)" -gt 0 ]; do sleep 5; done
echo "analytics and search caught up after $(($(date +%s) - t0)) s"
for r in ${RATES:-5000 5000 5000 10000}; do
  echo "=== $r/s ($(date -u +%T), load $(cut -d' ' -f1 /proc/loadavg))"
  PROBE_NOSETUP=1 PROBE_KEEP=1 bench/compare_probe.sh "$r" | grep -v '_bucket'
done
psqlc -At -F ' ' -c "SELECT relname, n_dead_tup, autovacuum_count FROM pg_stat_user_tables
  WHERE relname IN ('messages', 'events', 'message_search', 'conversations') ORDER BY relname"
"$P" stop >/dev/null 2>&1
