#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Parley - bench: the analytics aggregator's lag, sampled every 100 ms for SECONDS seconds: the
# age of the oldest event position the checkpoint has not covered yet (0 when caught up).
# Copyright (c) 2026 Parley developers
#
# Usage: bench/analytics_lag.sh PSQL_CONNINFO SECONDS RESULTS_FILE LABEL
# Started by loadgen's --on-measure in `./scripts/bench --only analytics`.
set -u
conn=$1 secs=$2 out=$3 label=$4
end=$((SECONDS + secs))
samples=$(mktemp)
while ((SECONDS < end)); do
  "${PSQL:-psql}" -X -Atq "$conn" -c "SELECT COALESCE(round(extract(epoch FROM now() - e.created_at) * 1000),
0) FROM analytics_checkpoint c LEFT JOIN events e ON e.pos = c.pos + 1" >>"$samples" 2>/dev/null
  sleep 0.1
done
sort -n "$samples" | awk -v label="$label" '
  { v[NR] = $1 }
  END {
    if (!NR) { print "RESULT scenario=analytics-lag phase=" label " samples=0"; exit }
    printf "RESULT scenario=analytics-lag phase=%s samples=%d p50_ms=%d p95_ms=%d max_ms=%d\n",
      label, NR, v[int(NR * 0.5 + 0.5)], v[int(NR * 0.95 + 0.5)], v[NR]
  }' | tee -a "$out"
rm -f "$samples"
