#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Parley - bench: the send path's cost of analytics. The 1:1 saturation phase of ./scripts/bench,
# the same command with `--analytics on` and `--analytics off`, alternated (on, off, on, off, ...)
# so that a change in the machine's load hits both sides alike; prints each run's stored/s with
# the load average before it, and the mean of each side and their ratio; and the CPU time parleyd
# and PostgreSQL spent per stored message in the measured window (cpu_parleyd + cpu_pg, percent
# of one CPU, over stored/s: microseconds per message), the figure that load from elsewhere on the
# machine disturbs least.
# Copyright (c) 2026 Parley developers
#
# Usage: bench/analytics_sendpath.sh [RUNS]   (RUNS per side, default 3)
# Environment: BENCH_SENDPATH_PROTO (h2c), BENCH_SENDPATH_SATURATE (256), BENCH_SENDPATH_QUICK
# (1: ./scripts/bench --quick sizes, 1,000 users; 0: the full 10,000), BENCH_DURATION (8 s),
# BENCH_SENDPATH_BINS (space-separated parleyd binaries to compare, e.g. a build of the commit
# before a change and one after it; each run then goes through every binary, on and off, in turn;
# default: ./scripts/bench's own build-bench/server/parleyd), BENCH_SENDPATH_WARMUP (1: one run
# first, analytics on, printed and not counted: the first run after a build or an idle spell was
# the slowest of every series whatever its setting, e.g. 16,932/s against 17,580-19,820/s).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-3}
proto=${BENCH_SENDPATH_PROTO:-h2c}
sat=${BENCH_SENDPATH_SATURATE:-256}
quick=()
((${BENCH_SENDPATH_QUICK:-1})) && quick=(--quick)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
read -r -a bins <<<"${BENCH_SENDPATH_BINS:-default}"
# one_run MODE BIN: the saturation phase's RESULT line with analytics MODE, on BIN (default:
# scripts/bench's own build).
one_run() {
  local binenv=()
  [[ $2 == default ]] || binenv=(BENCH_PARLEYD_BIN="$2")
  env "${binenv[@]}" BENCH_RATES=0 BENCH_SATURATE="$sat" BENCH_DURATION="${BENCH_DURATION:-8}" \
    BENCH_PARLEYD_FLAGS="--analytics $1" \
    "$root/scripts/bench" "${quick[@]}" --only 1:1 --protos "$proto" 2>/dev/null |
    grep -m1 '^RESULT scenario=1:1 .*mode=saturate' || true
}
stored_of() { sed -n 's/.* stored_per_s=\([0-9]*\).*/\1/p' <<<"$1"; }
if ((${BENCH_SENDPATH_WARMUP:-1})); then
  echo "warm-up (not counted): stored/s=$(stored_of "$(one_run on "${bins[0]}")")"
fi
# Odd runs go on, off; even runs off, on (ABBA): a drift in the machine over the runs (the first
# runs after a build are slower, see bench/README.md) then weighs on both sides alike.
for ((i = 1; i <= runs; i++)); do
  modes=(on off)
  ((i % 2)) || modes=(off on)
  for b in "${bins[@]}"; do
    for mode in "${modes[@]}"; do
      load=$(cut -d' ' -f1-3 /proc/loadavg)
      line=$(one_run "$mode" "$b")
      stored=$(stored_of "$line")
      cpu=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
        END { if (f["stored_per_s"] > 0) printf "%.0f", (f["cpu_parleyd"] + f["cpu_pg"]) * 1e4 / f["stored_per_s"] }' <<<"$line")
      echo "run $i analytics=$mode@$b load=[$load] stored/s=${stored:-?} cpu_us/msg=${cpu:-?} :: $line" |
        tee -a "$out"
    done
  done
done
awk '
  { split($3, m, "="); split($7, s, "="); split($8, c, "=")
    if (s[2] ~ /^[0-9]+$/) { sum[m[2]] += s[2]; n[m[2]]++; cpu[m[2]] += c[2] } }
  END {
    for (k in n) {
      split(k, kb, "@"); other = (kb[1] == "on" ? "off" : "on") "@" kb[2]
      if (kb[1] != "on" || !n[other]) continue
      on = sum[k] / n[k]; off = sum[other] / n[other]
      printf "RESULT scenario=analytics-sendpath bin=%s runs=%d mean_on=%.0f mean_off=%.0f on/off=%.1f%% cpu_us_per_msg_on=%.0f cpu_us_per_msg_off=%.0f\n",
        kb[2], n[k], on, off, 100 * on / off, cpu[k] / n[k], cpu[other] / n[other]
      done++
    }
    if (!done) print "RESULT scenario=analytics-sendpath incomplete"
  }' "$out"
