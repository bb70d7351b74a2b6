# SPDX-License-Identifier: MIT
# Parley - `scripts/cluster test`: the cluster phase of scripts/test (sourced by scripts/cluster).
# Copyright (c) 2026 Parley developers
#
# A cluster of its own (data dir $PARLEY_DATA/cluster, PostgreSQL primary + hot standby and Redis
# on Unix sockets, nodes and HAProxy on free loopback ports), then:
#   1. the integration tests written for several nodes (tests/integration/96-cluster-nodes,
#      97-cluster-standby, and 41-push-resume-concurrent, whose second case puts its writers on
#      different nodes) against this cluster's databases, with the standby configured;
#   2. kill -9 of one node under load: build/tests/chaos/chaos kill-node through HAProxy
#      (CLUSTER_STREAMS streams, CLUSTER_RATE messages/s, --kills cycles of CLUSTER_CYCLE_MS,
#      each killing the next node and starting it again): nothing acknowledged lost, nothing
#      doubled, every stream resumed.
# Prints one line per step and `cluster: N passed, N failed`.

kills=5
nodes=3
while (($#)); do
  case $1 in
    --kills) kills=${2:-} && shift ;;
    --nodes) nodes=${2:-} && shift ;;
    *) pl_die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
[[ $kills =~ ^[0-9]+$ && $nodes =~ ^[0-9]+$ ]] && ((nodes >= 2)) || pl_die "bad --kills / --nodes"
: "${CLUSTER_STREAMS:=1000}"
: "${CLUSTER_RATE:=500}"
: "${CLUSTER_CYCLE_MS:=8000}"

unset PARLEY_BIND PARLEY_PORT PARLEY_TLS_PORT PARLEY_TLS_CERT PARLEY_TLS_KEY PARLEY_PG \
  PARLEY_REDIS PARLEY_WORKERS PARLEY_QUEUE_MAX PARLEY_MAX_BODY PARLEY_CONN_RATE \
  PARLEY_CONN_BURST PARLEY_PWHASH_OPSLIMIT PARLEY_PWHASH_MEMLIMIT PARLEY_PORT_FILE PARLEY_CONFIG \
  PARLEY_ADMIN_PORT PARLEY_METRICS_TOKEN PARLEY_PG_STANDBY
# The nodes use a Redis Cluster of the phase's own (3 masters + 3 replicas); CLUSTER_REDIS=single
# runs them on the single Redis instead.
if [[ ${CLUSTER_REDIS:-cluster} == single ]]; then PARLEY_REDIS_CLUSTER=off; else
  PARLEY_REDIS_CLUSTER=auto
fi
: "${PARLEY_DATA:=$PL_ROOT/var}"
mkdir -p "$PARLEY_DATA"
PARLEY_DATA=$(cd "$PARLEY_DATA" && pwd -P)/cluster
export PARLEY_PG_FAST=1
pl_env
pl_lock cluster
pl_deps
if [[ $build_dir == build-san ]]; then
  pl_build build-san -Dsanitize=true -Dinsecure_test_kdf=true || pl_die "the build failed"
  export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
else
  pl_build "$build_dir" || pl_die "the build failed"
fi
rm -f "$PARLEY_DATA"/log/node*.log "$PARLEY_DATA/log/haproxy.log"

db=parley_cluster
# A fresh database each run (the standby follows: it is a copy of the whole cluster).
pl_pg_start && pl_pg_freshdb "$db" >/dev/null || pl_die "could not create the database $db"
trap cluster_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass=0 fail=0
result() { # NAME STATUS
  if (($2 == 0)); then
    pass=$((pass + 1))
    pl_say "cluster step $1: passed"
  else
    fail=$((fail + 1))
    pl_warn "cluster step $1 FAILED (logs in $PARLEY_DATA/log)"
  fi
}

hport=$(pl_free_port) || pl_die "no free port"
tport=$(pl_free_port "$hport") || pl_die "no free port"
# Node I on base+I, its admin listener on base+100+I: a block of 200 with all of them free, between
# the Redis Cluster's client ports (20000-22699) and its bus ports (30000-32699).
for ((try = 0; try < 50; try++)); do
  base=$((23000 + RANDOM % 34 * 200))
  busy=0
  for ((i = 1; i <= nodes; i++)); do
    if pl_port_busy $((base + i)) || pl_port_busy $((base + 100 + i)) ||
      ((base + i == hport || base + 100 + i == hport || base + i == tport ||
        base + 100 + i == tport)); then busy=1; fi
  done
  ((busy)) || break
done
((!busy)) || pl_die "no free block of ports for the nodes"
# Per-user quotas are off as in the chaos cases: the load sends far faster per user than people.
cluster_start "$nodes" "$hport" "$tport" "$base" --bind 127.0.0.1 --quota-streams 0 \
  --quota-sends-per-s 0 --quota-searches-per-s 0 --quota-groups-per-hour 0 \
  --quota-media-bytes-per-day 0 --pwhash-opslimit 1 --pwhash-memlimit 8192 --presence-timeout 10
pl_say "cluster: $nodes nodes on ports $((base + 1))..$((base + nodes)), HAProxy on $hport"

# 0. HAProxy speaks every protocol the nodes do: HTTP/1.1 and h2c on the cleartext port, h2 and
# HTTP/1.1 over TLS, and an event stream comes through each without being held back.
proto_check() { # NAME WANT_VERSION CURL_ARGS...
  local name=$1 want=$2 got
  shift 2
  got=$(curl -s -o /dev/null -m 5 -w '%{http_code} %{http_version}' "$@") || got="curl failed"
  if [[ $got == "200 $want" ]]; then pass=$((pass + 1)); else
    fail=$((fail + 1))
    pl_warn "HAProxy $name: got '$got', want '200 $want'"
  fi
}
ca=(--cacert "$PL_TLS_CERT")
proto_check "h1 /readyz" 1.1 "http://127.0.0.1:$hport/readyz"
proto_check "h2c /readyz" 2 --http2-prior-knowledge "http://127.0.0.1:$hport/readyz"
proto_check "h2 /readyz" 2 "${ca[@]}" --http2 "https://127.0.0.1:$tport/readyz"
proto_check "h1 over TLS /readyz" 1.1 "${ca[@]}" --http1.1 "https://127.0.0.1:$tport/readyz"
# The stream's first event (ready) arrives at once through HAProxy on every protocol; the stream
# itself stays open (curl is stopped after 2 s).
for p in "--http1.1 http://127.0.0.1:$hport" "--http2-prior-knowledge http://127.0.0.1:$hport" \
  "--http2 https://127.0.0.1:$tport" "--http1.1 https://127.0.0.1:$tport"; do
  # shellcheck disable=SC2086 # two words on purpose
  set -- $p
  tok=$(curl -s "${ca[@]}" "$2/v1/users" -H 'Content-Type: application/json' \
    -d "{\"username\":\"proto$RANDOM$RANDOM\",\"password\":\"cluster-proto-check\"}" |
    sed -n 's/.*"username":"\([^"]*\)".*/\1/p')
  tok=$(curl -s "${ca[@]}" "$2/v1/sessions" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$tok\",\"password\":\"cluster-proto-check\"}" |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  out=$(timeout 2 curl -sN "${ca[@]}" "$1" "$2/v1/events" -H "Authorization: Bearer $tok" \
    2>/dev/null || true)
  if grep -q '^event: ready' <<<"$out"; then pass=$((pass + 1)); else
    fail=$((fail + 1))
    pl_warn "HAProxy: no ready event on a stream over $1 $2"
  fi
done
pl_say "cluster step protocols through HAProxy: $pass passed, $fail failed"

# 1. The integration tests for several nodes, on this cluster's database and Redis. (Its own
# database would not do: the relay channel carries event positions, and the running nodes would
# take positions of another database's events as their own.)
pl_standby_wait_caught_up 30 || true
rc=0
PARLEY_TEST_PG=$PARLEY_PG PARLEY_TEST_PG_STANDBY=$PARLEY_PG_STANDBY \
  PARLEY_TEST_REDIS=$PARLEY_REDIS PARLEY_TEST_TLS_CERT=$PL_TLS_CERT PARLEY_TEST_TLS_KEY=$PL_TLS_KEY \
  PARLEY_TEST_SVC=$PL_ROOT/scripts/svc \
  meson test -C "$build_dir" --print-errorlogs --num-processes 1 96-cluster-nodes 97-cluster-standby \
  41-push-resume-concurrent 9>&- || rc=$?
# Every case counts (each test binary ends with `pltest: N passed, N failed, N skipped`).
while read -r _ p _ f _; do
  pass=$((pass + p))
  fail=$((fail + f))
done < <(grep -E '^pltest: [0-9]+ passed, [0-9]+ failed' "$build_dir/meson-logs/testlog.txt" || true)
((rc == 0)) || fail=$((fail + 1))
pl_say "cluster step integration (96-cluster-nodes, 97-cluster-standby, 41-push-resume-concurrent): exit $rc"

# 2. kill -9 of one node at a time under load, through HAProxy.
if ((kills > 0)); then
  rc=0
  pl_say "cluster step kill-node: $CLUSTER_STREAMS streams, $CLUSTER_RATE messages/s, $kills kills"
  "$build_dir/tests/chaos/chaos" kill-node --port "$hport" --node-cmd "$PL_ROOT/scripts/cluster node" \
    --nodes "$nodes" --rate "$CLUSTER_RATE" --users "$CLUSTER_STREAMS" --cycles "$kills" \
    --cycle-ms "$CLUSTER_CYCLE_MS" 9>&- 2>"$PARLEY_DATA/log/kill-node.driver.log" |
    tee "$PARLEY_DATA/log/kill-node.out" || rc=$?
  grep -q '^CHAOS kill-node: PASS' "$PARLEY_DATA/log/kill-node.out" || rc=1
  # HAProxy's share, for docs/scaling.md: its CPU seconds over the whole phase per message.
  hz=$(getconf CLK_TCK)
  read -r -a st <"/proc/$PL_HAPROXY_PID/stat" || st=()
  msgs=$(sed -n 's/^CHAOS kill-node: messages=\([0-9]*\).*/\1/p' "$PARLEY_DATA/log/kill-node.out")
  if ((${#st[@]} > 15)) && [[ -n $msgs ]] && ((msgs > 0)); then
    cpu_ms=$(((st[13] + st[14]) * 1000 / hz))
    rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$PL_HAPROXY_PID/status")
    echo "CLUSTER haproxy: cpu_ms=$cpu_ms messages=$msgs us_per_message=$((cpu_ms * 1000 / msgs))" \
      "rss_kib=$rss (after $CLUSTER_STREAMS streams; HAProxy keeps its pools)" |
      tee -a "$PARLEY_DATA/log/kill-node.out"
  fi
  ((rc == 0)) || tail -n 5 "$PARLEY_DATA/log/kill-node.driver.log" >&2
  result kill-node "$rc"
fi

cluster_stop
trap - EXIT
# A node that ended with a sanitizer report (build-san) or crashed on its own fails the phase.
if grep -lE 'AddressSanitizer|LeakSanitizer|runtime error|Segmentation' "$PARLEY_DATA"/log/node*.log \
  2>/dev/null; then
  pl_warn "a node's log above has a sanitizer report or a crash"
  fail=$((fail + 1))
fi
echo "cluster: $pass passed, $fail failed"
((fail == 0))
