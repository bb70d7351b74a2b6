#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Parley - one 1:1 run with compare.sh's load generator and flags, plus parleyd's own counters.
# Copyright (c) 2026 Parley developers
#
# Usage (from the project root): bench/compare_probe.sh RATE
# Starts the stack of ../shared/peer-bench/parley.sh (fresh database, 10,000 users in 1:1
# conversations) unless PROBE_NOSETUP=1, runs ssebench exactly as compare.sh's 1:1 phase does
# (-n 10000 -W 3 -d 10 -D 5 -P 128 -q 1 -O -j 2), and prints its result fields and the change of
# parleyd's writer and relay counters and of the send route's duration histogram over the run.
# The stack is stopped at the end unless PROBE_KEEP=1. PROBE_HOOK is run PROBE_HOOK_AT (6) s into the run (for
# perf or top). parleyd must have been started with --metrics-token $PROBE_TOKEN; parley.sh passes
# PARLEY_PEER_FLAGS, which this sets unless PROBE_NOSETUP=1. Nothing but the benchmark may run.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
peer=${PEER_BENCH:-$root/../shared/peer-bench}
export PARLEY_SRC=$root PARLEY_PEER_DATA=${PARLEY_PEER_DATA:-/tmp/peer-bench/parley}
W=${PEER_WORK:-/tmp/peer-bench} P=$peer/parley.sh SB=${PEER_WORK:-/tmp/peer-bench}/ssebench
token=${PROBE_TOKEN:-probe-metrics-token-0123456789}
rate=${1:?usage: bench/compare_probe.sh RATE} tag=p$RANDOM$RANDOM
[ -x "$SB" ] || gcc -O2 -Wall -o "$SB" "$peer/ssebench.c" || exit 1
ulimit -n "$(ulimit -Hn)"
if [ -z "${PROBE_NOSETUP:-}" ]; then
  export PARLEY_PEER_FLAGS="${PARLEY_PEER_FLAGS:-} --metrics-token $token"
  "$P" start >"$W/probe-start.log" 2>&1 || { echo "start failed: $W/probe-start.log" >&2; exit 1; }
  "$P" fresh >/dev/null 2>&1 && "$P" setup 1to1 10000 "$W/1to1" >/dev/null || exit 1
fi
metrics() { curl -s -H "Authorization: Bearer $token" http://127.0.0.1:19091/metrics; }
pid=$("$P" pid) pg=$(head -1 "$PARLEY_PEER_DATA/pg/data/postmaster.pid")
metrics >"$W/m0.txt"
[ -n "${PROBE_HOOK:-}" ] && (sleep "${PROBE_HOOK_AT:-6}"; eval "$PROBE_HOOK") &
timeout 90 "$SB" -p 19091 -u /v1/events -T "$W/1to1/streams.txt" -H 'Authorization: Bearer %k' \
  -U '/v1/conversations/%K/messages' -K "$W/1to1/senders.txt" -J 'Authorization: Bearer %k' \
  -C application/json -b '{"client_msg_id":"'"$tag"'-%s","kind":"text","text":"%t"}' -e '"text":"' \
  -x "$pid" -x "$pg" -n 10000 -r "$rate" -W 3 -d 10 -D 5 -P 128 -q 1 -O -j 2 2>&1 |
  grep '^RESULT' | tr ' ' '\n' | grep -E '^(deliv_s|p50_ms|p99_ms|srv_cpu|lg_cpu|busy)=' | tr '\n' ' '
echo
metrics >"$W/m1.txt"
wait
# counters and the send route's histogram: after minus before
awk 'NR == FNR { if ($1 !~ /^#/) a[$1] = $2; next }
     $1 ~ /^parley_(writer_(batches|sends|held)_total|relay_(skipped|replayed)_total|token_cache_(hits|misses)_total|loop_answered_total)$/ ||
     $1 ~ /^parley_http_request_duration_seconds_(bucket|sum|count)\{route="\/v1\/conversations\/\{id\}\/messages"/ {
       printf "%s %g\n", $1, $2 - a[$1] }' "$W/m0.txt" "$W/m1.txt"
[ -n "${PROBE_KEEP:-}" ] || "$P" stop >/dev/null 2>&1
