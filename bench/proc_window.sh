#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Parley - CPU of every parleyd thread and every PostgreSQL backend over one window.
# Copyright (c) 2026 Parley developers
#
# Usage: bench/proc_window.sh PARLEYD_PID POSTMASTER_PID OUT
# Reads utime+stime of each thread of parleyd (/proc/PID/task/*), of each child of the
# postmaster and of redis-server and ssebench, sleeps PROC_WINDOW_S (5) seconds, reads them again
# and writes to OUT one line per process or thread that used CPU, busiest first, as % of one CPU,
# then the machine's busy share and, when PROC_WINDOW_PSQL is set (a psql command line), what each
# backend last ran (pg_stat_activity), to tell the writer, the indexer and the workers apart.
# Made for bench/compare_probe.sh's PROBE_HOOK, e.g. (compare.sh's stack):
#   PROC_WINDOW_S=10 PROBE_HOOK_AT=5 PROBE_HOOK='bench/proc_window.sh $pid $pg /tmp/procs.txt' \
#     PROC_WINDOW_PSQL="/usr/lib/postgresql/15/bin/psql -X -h 127.0.0.1 -p 55532 -U parley -d parley_peer" \
#     PARLEY_QUOTA_SENDS_PER_S=0 bench/compare_probe.sh 5000
set -u
pid=${1:?parleyd pid} pm=${2:?postmaster pid} out=${3:?output file}
dur=${PROC_WINDOW_S:-5} hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "$1" 2>/dev/null; }
snap() { # "label id ticks": the id (thread or process id) is the key, the label is for reading
  local t p
  for t in /proc/"$pid"/task/*; do echo "parleyd/$(cat "$t/comm") ${t##*/} $(ticks "$t/stat")"; done
  for p in $(pgrep -P "$pm") "$pm"; do
    echo "pg/$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60 | tr ' ' '_') $p $(ticks "/proc/$p/stat")"
  done
  for p in $(pgrep -x redis-server) $(pgrep -x ssebench); do
    echo "other/$(cat "/proc/$p/comm") $p $(ticks "/proc/$p/stat")"
  done
  echo "machine 0 $(awk '/^cpu /{print $2 + $3 + $4 + $6 + $7 + $8, $5}' /proc/stat)"
}
a=$(snap)
sleep "$dur"
b=$(snap)
{
  awk -v d="$dur" -v hz="$hz" 'NR == FNR { t[$2] = $3; idle[$2] = $4; next }
    $1 == "machine" { busy = $3 - t[0]; printf "machine busy %.1f%%\n", 100 * busy / (busy + $4 - idle[0]); next }
    ($2 in t) && $3 > t[$2] { printf "%-64s %7s %5.1f%%\n", $1, $2, 100 * ($3 - t[$2]) / hz / d }' \
    <(echo "$a") <(echo "$b") | sort -k3 -nr
  if [ -n "${PROC_WINDOW_PSQL:-}" ]; then
    echo "backend | application | last statement"
    $PROC_WINDOW_PSQL -Atc "SELECT pid, application_name, left(regexp_replace(query, '\s+', ' ', 'g'), 70)
      FROM pg_stat_activity WHERE datname = current_database()"
  fi
} >"$out"
