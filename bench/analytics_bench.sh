#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Parley - bench: analytics. Dashboard queries over 365 days of hourly rollups, and the
# aggregator's lag under the 1:1 open-loop load.
# Copyright (c) 2026 Parley developers
#
# Sourced by scripts/bench for `--only analytics`; uses its variables and functions (bin, lg,
# run_lg, parleyd_start, fresh_db, PARLEY_PG, PL_PGBIN, results, ...). Sizes:
# BENCH_ANALYTICS_USERS (distinct users per day in the generated sketches, default 20,000),
# BENCH_ANALYTICS_ROUNDS (requests per metric and granularity, default 20),
# BENCH_ANALYTICS_RATE (messages/s of the lag run, default 5000).

an_psql() {
  "$PL_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PL_PGSOCK" -p "$PL_PG_PORT" -U parley \
    -d parley_bench "$@"
}

# The series the dashboard draws (web/src/admin/main.js).
an_metrics=(dau wau mau stickiness registrations messages messages_direct messages_group messages_media
  messages_e2e active_groups delivery_p50_ms delivery_p95_ms delivery_p99_ms read_p50_ms
  read_p95_ms read_p99_ms media_uploads media_bytes media_downloads peak_streams stream_opens_h1
  stream_opens_h2c stream_opens_h2 reconnects searches search_p50_ms search_p95_ms)

# 365 days of hourly rollups for every series (latency histograms with 40 buckets each), a
# daily HyperLogLog sketch of BENCH_ANALYTICS_USERS users, active groups.
an_fill() {
  an_psql <<SQL
SELECT analytics_partitions_ensure(now() - interval '366 days', now());
INSERT INTO analytics_hourly (metric, dims, bucket_start, value)
SELECT m, d, h, (random() * 1000)::bigint
FROM unnest(ARRAY['registrations', 'messages', 'messages_direct', 'messages_group',
  'messages_media', 'messages_e2e', 'media_uploads', 'media_bytes', 'media_downloads',
  'peak_streams', 'reconnects', 'searches']) AS m,
  (VALUES ('')) AS x(d),
  generate_series(date_trunc('hour', now() - interval '365 days'), now(), interval '1 hour') AS h
UNION ALL
SELECT 'stream_opens', p, h, (random() * 1000)::bigint
FROM unnest(ARRAY['', 'h1', 'h2c', 'h2']) AS p,
  generate_series(date_trunc('hour', now() - interval '365 days'), now(), interval '1 hour') AS h
UNION ALL
SELECT m, k || ':' || lpad(b::text, 3, '0'), h, (random() * 100)::bigint
FROM unnest(ARRAY['delivered_ms_hist', 'read_ms_hist', 'search_ms_hist']) AS m,
  unnest(ARRAY['direct', 'group', 'all']) AS k, generate_series(20, 59) AS b,
  generate_series(date_trunc('hour', now() - interval '365 days'), now(), interval '1 hour') AS h
WHERE (m = 'search_ms_hist') = (k = 'all')
ON CONFLICT DO NOTHING;
INSERT INTO analytics_daily_hll (day, users)
SELECT d::date, hll_add_agg(hll_hash_bigint((d::date - date '2000-01-01') * 7 + u), 14, 5)
FROM generate_series(now() - interval '365 days', now(), interval '1 day') AS d,
  generate_series(1, ${BENCH_ANALYTICS_USERS:-20000}) AS u GROUP BY 1
ON CONFLICT (day) DO UPDATE SET users = EXCLUDED.users;
INSERT INTO analytics_daily_groups
SELECT d::date, g FROM generate_series(now() - interval '365 days', now(), interval '1 day') AS d,
  generate_series(1, 200) AS g ON CONFLICT DO NOTHING;
-- What the aggregator's steps keep next to the hours: every rollup by day, DAU/WAU/MAU and active
-- groups per day, the quantiles of every hour and day (migration 0018).
INSERT INTO analytics_daily (metric, dims, day, value)
SELECT metric, dims, date_trunc('day', bucket_start, 'UTC'),
  CASE WHEN metric = 'peak_streams' THEN max(value) ELSE sum(value) END FROM analytics_hourly
GROUP BY 1, 2, 3 ON CONFLICT DO NOTHING;
SELECT analytics_active_refresh((now() - interval '365 days')::date, now()::date);
SELECT analytics_quantiles_refresh('-infinity');
-- As if the aggregator had run: with reg_until still '-infinity' (a fresh database) its first pass
-- recomputes the derived tables of the whole generated year, which exceeds the statement timeout,
-- rolls back and starts again every second, burning a CPU through the dashboard timings.
UPDATE analytics_checkpoint SET reg_until = now() WHERE id = 1;
VACUUM ANALYZE;
SQL
}

# an_latency GRAN DAYS: every series over the last DAYS days at granularity GRAN, BENCH_ANALYTICS_ROUNDS
# times each over one keep-alive connection; one RESULT line with p50/p95/max in ms (and the
# slowest series by its median).
an_latency() {
  local gran=$1 days=$2 port urls=() m r from to
  read -r port _ <"$port_file"
  from=$(date -u -d "$days days ago" +%Y-%m-%d)
  to=$(date -u -d tomorrow +%Y-%m-%d)
  for ((r = 0; r < BENCH_ANALYTICS_ROUNDS; r++)); do
    for m in "${an_metrics[@]}"; do
      local g=$gran
      [[ $m == dau || $m == wau || $m == mau || $m == stickiness || $m == active_groups ]] && g=day
      urls+=(-o /dev/null "http://127.0.0.1:$port/v1/admin/analytics/$m?from=$from&to=$to&granularity=$g")
    done
  done
  curl -s -H "Authorization: Bearer $an_token" "${urls[@]:0:$((2 * ${#an_metrics[@]}))}"
  local times bad
  times=$(curl -s -w '%{http_code} %{time_total} %{url_effective}\n' \
    -H "Authorization: Bearer $an_token" "${urls[@]}")
  bad=$(awk '$1 != 200' <<<"$times" | wc -l)
  local slow
  slow=$(awk '{ split($3, a, "/analytics/"); split(a[2], b, "?"); print b[1], $2 * 1000 }' \
    <<<"$times" | sort -k1,1 -k2,2n | awk '
      { n[$1]++; v[$1, n[$1]] = $2 }
      END { for (m in n) { med = v[m, int(n[m] / 2 + 1)]; if (med > best) { best = med; name = m } }
            printf "%s=%.1f", name, best }')
  awk '{ print $2 * 1000 }' <<<"$times" | sort -n | awk -v days="$days" -v gran="$gran" -v bad="$bad" -v slow="$slow" '
    { v[NR] = $1 }
    END {
      printf "RESULT scenario=analytics-dashboard days=%s granularity=%s requests=%d p50_ms=%.1f p95_ms=%.1f max_ms=%.1f slowest_median_ms:%s errors=%d\n",
        days, gran, NR, v[int(NR * 0.50 + 0.5)], v[int(NR * 0.95 + 0.5)], v[NR], slow, bad
    }' | tee -a "$results"
}

run_analytics_bench() {
  : "${BENCH_ANALYTICS_ROUNDS:=20}" "${BENCH_ANALYTICS_RATE:=5000}"
  fresh_db
  parleyd_start
  local port name="analyticsbench_$RANDOM"
  read -r port _ <"$port_file"
  curl -sf -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"username\":\"$name\",\"password\":\"correct horse battery\"}" \
    "http://127.0.0.1:$port/v1/users" || pl_die "could not register the analytics user"
  an_token=$(curl -sf -H 'Content-Type: application/json' \
    -d "{\"username\":\"$name\",\"password\":\"correct horse battery\"}" \
    "http://127.0.0.1:$port/v1/sessions" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  [[ -n $an_token ]] || pl_die "could not log the analytics user in"
  "$bin" admin grant "$name" 9>&- >/dev/null || pl_die "parleyd admin grant failed"
  pl_say "filling 365 days of hourly rollups (bench/analytics_bench.sh)"
  local t0=$SECONDS
  an_fill || pl_die "filling the rollups failed"
  pl_say "filled in $((SECONDS - t0)) s: $(an_psql -Atc 'SELECT count(*) FROM analytics_hourly') \
hourly rows, $(an_psql -Atc "SELECT pg_size_pretty(pg_total_relation_size('analytics_daily_hll'))") of sketches"
  an_latency day 365
  an_latency hour 30
  an_latency hour 365
  pl_parleyd_stop
  ((${BENCH_ANALYTICS_LAG:-1})) || return 0

  # Lag: the 1:1 scenario at BENCH_ANALYTICS_RATE messages/s, open loop, over h2c; the sampler
  # starts with the measured window and runs through it and the drain.
  local conn
  conn="host=$PL_PGSOCK port=$PL_PG_PORT user=parley dbname=parley_bench"
  run_lg analytics-lag h2c --scenario 1:1 --users "$BENCH_USERS" --rate "$BENCH_ANALYTICS_RATE" \
    --on-measure "PSQL=$PL_PGBIN/psql $PL_ROOT/bench/analytics_lag.sh '$conn' $((BENCH_DURATION + BENCH_DRAIN)) \
$results rate=$BENCH_ANALYTICS_RATE"
}
