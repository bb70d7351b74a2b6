#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Parley - CPU per PostgreSQL backend and pg_stat_statements over one measured window.
# Copyright (c) 2026 Parley developers
#
# For loadgen's --on-measure (./scripts/bench's BENCH_LOADGEN_FLAGS="--on-measure
# bench/pg_window.sh"): resets pg_stat_statements, reads utime+stime of every child of the bench
# cluster's postmaster, sleeps PG_WINDOW_S (6) seconds, reads them again and writes to
# PG_WINDOW_OUT (var/bench/pg_window.txt) the load average, the commits, the busiest backends
# with what they last ran, and the top statements (calls, rows, exec and plan ms). Needs
# shared_preload_libraries = 'pg_stat_statements' (and pg_stat_statements.track_planning = on)
# in var/bench/pg/data/postgresql.auto.conf; without it the statements part stays empty.
root=$(cd "$(dirname "$0")/.." && pwd)
data=${PARLEY_BENCH_DATA:-$root/var/bench}
dur=${PG_WINDOW_S:-6} out=${PG_WINDOW_OUT:-$data/pg_window.txt}
pgbin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
psql=("$pgbin/psql" -X -q -At -h "$data/pg/sock" -p "${PARLEY_PG_PORT:-5432}" -U parley -d "${PG_WINDOW_DB:-parley_bench}")
pm=$(head -n 1 "$data/pg/data/postmaster.pid")
"${psql[@]}" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
  -c "SELECT pg_stat_statements_reset()" >/dev/null 2>&1
snap() { for p in $(pgrep -P "$pm"); do awk -v p="$p" '{print p, $14 + $15}' "/proc/$p/stat" 2>/dev/null; done | sort; }
commits() { "${psql[@]}" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }
x0=$(commits)
a=$(snap)
sleep "$dur"
b=$(snap)
x1=$(commits)
{
  echo "load: $(cat /proc/loadavg)  window ${dur}s  commits $((x1 - x0))  (ticks are 1/$(getconf CLK_TCK) s)"
  join <(echo "$a") <(echo "$b") | awk '{d = $3 - $2; if (d > 0) print $1, d}' | sort -k2 -nr | head -n 8 |
    while read -r p d; do
      echo "pid $p ticks $d : $("${psql[@]}" -c "SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 70) FROM pg_stat_activity WHERE pid = $p")"
    done
  echo "total pg ticks: $(join <(echo "$a") <(echo "$b") | awk '{s += $3 - $2} END {print s}')"
  echo "calls | rows | exec_ms | plan_ms | plans | statement"
  "${psql[@]}" -F ' | ' -c "SELECT calls, rows, round(total_exec_time::numeric, 1),
    round(total_plan_time::numeric, 1), plans, left(regexp_replace(query, '\s+', ' ', 'g'), 70)
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    ORDER BY total_exec_time DESC LIMIT 25" 2>/dev/null
} >"$out"
