#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Parley - bench: the web client in headless Chromium (issue 10), web/bench/web-bench.mjs.
# Copyright (c) 2026 Parley developers
#
# Sourced by scripts/bench for `--only web`; uses its variables and functions (bin, fresh_db,
# PARLEY_PG, PARLEY_REDIS, PARLEY_DATA, results, commands, ...). Builds the shipped web client
# (MODERATE argon2id, as users get it), then runs the bench BENCH_WEB_RUNS times (default 3), each
# against a fresh database and its own parleyd, and prints the median and spread of each number.
# Sizes: BENCH_MESSAGES (10,000), BENCH_SENDS (200), BENCH_WEB_ONLY (load,scroll,send: a subset).

run_web_bench() {
  local runs=${BENCH_WEB_RUNS:-3} i json
  pl_deps chromium fonts-noto-color-emoji
  pl_web_build || pl_die "the web client did not build"
  pl_cert || pl_die "could not make the TLS certificate"
  local cmd=(env PARLEY_TEST_BIN="$bin" PARLEY_TEST_PG="$PARLEY_PG" PARLEY_TEST_REDIS="$PARLEY_REDIS"
    PARLEY_TEST_TLS_CERT="$PL_TLS_CERT" PARLEY_TEST_TLS_KEY="$PL_TLS_KEY"
    PARLEY_WEB_DIST="${BENCH_WEB_DIST:-$PL_ROOT/web/dist}" BENCH_MESSAGES="${BENCH_MESSAGES:-10000}"
    BENCH_SENDS="${BENCH_SENDS:-200}" BENCH_WEB_ONLY="${BENCH_WEB_ONLY:-}"
    node "$PL_ROOT/web/bench/web-bench.mjs")
  commands+=("${cmd[*]}")
  local jsonl=$PARLEY_DATA/web-results.jsonl
  : >"$jsonl"
  for ((i = 1; i <= runs; i++)); do
    fresh_db
    pl_say "web bench run $i/$runs (load average $(cut -d' ' -f1-3 /proc/loadavg)): ${cmd[*]}"
    "${cmd[@]}" | tee "$PARLEY_DATA/web-run-$i.log" || pl_die "web-bench.mjs failed (run $i)"
    json=$(grep '^{' "$PARLEY_DATA/web-run-$i.log" | tail -n 1)
    [[ -n $json ]] || pl_die "web-bench.mjs printed no JSON summary (run $i)"
    printf '%s\n' "$json" >>"$jsonl"
    echo "RESULT scenario=web run=$i $json" >>"$results"
  done
  # Median and spread (min-max) of every numeric field over the runs.
  node - "$jsonl" <<'EOF'
const fs = require('fs');
const runs = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const keys = [...new Set(runs.flatMap((r) => Object.keys(r)))];
console.log(`\nweb client, ${runs.length} runs: median (min-max)`);
for (const k of keys) {
  const v = runs.map((r) => r[k]).filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (!v.length) continue;
  const med = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  console.log(`  ${k.padEnd(34)} ${String(med).padStart(10)}  (${v[0]}-${v[v.length - 1]})`);
}
EOF
}
