# SPDX-License-Identifier: MIT
# Parley - `scripts/cluster bench`: send -> receive latency on one node vs across nodes.
# Copyright (c) 2026 Parley developers
#
# Issue 14 asks that a stream on node A gets a message sent through node B "within the same
# latency bound as on one node". This starts a cluster of two nodes (release build, durable
# PostgreSQL primary + hot standby, a Redis Cluster of 3 masters + 3 replicas unless
# CLUSTER_REDIS=single) and runs the load generator's 1:1 scenario against it twice per protocol,
# with the same users, conversations and rates:
#   same-node   every event stream on node1, every send through node1: the hub delivers locally;
#   cross-node  every event stream on node1, every send through node2: node2 commits, publishes
#               on the relay (SPUBLISH on the Redis Cluster), node1's subscriber hands the event
#               to its hub.
#   both-nodes  every event stream on node1, the send connections alternating between node1 and
#               node2: node1's hub merges its own writer's events with node2's relayed ones,
#               whose positions interleave (an event that arrives before an earlier position
#               waits for it, up to server/live.c's GAP_WAIT_MS).
# The paths alternate (same, cross, both, same, ...) so that load from elsewhere on the machine
# lands on all alike. Prints one table; RESULT lines stay in
# $PARLEY_DATA/cluster-bench/results.txt.
#
# Sizes: CBENCH_USERS (2000), CBENCH_RATES (500,2000 messages/s), CBENCH_PROTOS (h1,h2c),
# CBENCH_PATHS (same-node,cross-node,both-nodes), CBENCH_ROUNDS (2: runs of every path per
# protocol), BENCH_WARMUP/BENCH_DURATION/BENCH_DRAIN (2/10/5 s).

(($# == 0)) || pl_die "scripts/cluster bench takes no arguments (sizes come from CBENCH_*)"
: "${CBENCH_USERS:=2000}" "${CBENCH_RATES:=500,2000}" "${CBENCH_PROTOS:=h1,h2c}"
: "${CBENCH_ROUNDS:=2}" "${CBENCH_PATHS:=same-node,cross-node,both-nodes}" "${BENCH_WARMUP:=2}" "${BENCH_DURATION:=10}" "${BENCH_DRAIN:=5}"

unset PARLEY_BIND PARLEY_PORT PARLEY_TLS_PORT PARLEY_TLS_CERT PARLEY_TLS_KEY PARLEY_PG \
  PARLEY_REDIS PARLEY_WORKERS PARLEY_QUEUE_MAX PARLEY_MAX_BODY PARLEY_CONN_RATE \
  PARLEY_CONN_BURST PARLEY_PWHASH_OPSLIMIT PARLEY_PWHASH_MEMLIMIT PARLEY_PORT_FILE PARLEY_CONFIG \
  PARLEY_ADMIN_PORT PARLEY_METRICS_TOKEN PARLEY_PG_STANDBY PARLEY_PG_FAST PARLEY_LOG
if [[ ${CLUSTER_REDIS:-cluster} == single ]]; then PARLEY_REDIS_CLUSTER=off; else
  PARLEY_REDIS_CLUSTER=auto
fi
: "${PARLEY_DATA:=$PL_ROOT/var}"
mkdir -p "$PARLEY_DATA"
PARLEY_DATA=$(cd "$PARLEY_DATA" && pwd -P)/cluster-bench
pl_env
pl_lock cluster-bench
pl_deps
# The release build scripts/bench uses, so the figures compare with bench/README.md's.
build_dir=build-bench
bin=$PL_ROOT/$build_dir/server/parleyd
pl_build "$build_dir" -Dbuildtype=release -Dtests=false || pl_die "the build failed"
lg=$PL_ROOT/$build_dir/bench/loadgen
[[ -x $bin && -x $lg ]] || pl_die "the build produced no parleyd or loadgen"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
rm -f "$PARLEY_DATA"/log/node*.log "$PARLEY_DATA/log/haproxy.log"

db=parley_cbench
pl_pg_start && pl_pg_freshdb "$db" >/dev/null || pl_die "could not create the database $db"
trap cluster_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

hport=$(pl_free_port) || pl_die "no free port"
tport=$(pl_free_port "$hport") || pl_die "no free port"
for ((try = 0; try < 50; try++)); do
  base=$((23000 + RANDOM % 34 * 200))
  pl_port_busy $((base + 1)) || pl_port_busy $((base + 2)) || pl_port_busy $((base + 101)) ||
    pl_port_busy $((base + 102)) || ((base + 1 == hport || base + 2 == hport ||
    base + 1 == tport || base + 2 == tport)) || break
done
# The flags scripts/bench gives its parleyd (cheap hashing for the setup, no per-user quotas or
# per-connection limit: the load generator multiplexes many users).
cluster_start 2 "$hport" "$tport" "$base" --bind 127.0.0.1 --pwhash-opslimit 1 \
  --pwhash-memlimit 8192 --group-max-members 100000 --conn-rate 0 --log warn \
  --quota-streams 0 --quota-sends-per-s 0 --quota-searches-per-s 0 --quota-groups-per-hour 0 \
  --quota-media-bytes-per-day 0 --keys-fetch-per-min 0 --keys-target-per-min 0
n1=$((base + 1)) n2=$((base + 2))
pl_say "cluster bench: node1 on $n1, node2 on $n2, Redis ${PARLEY_REDIS_CLUSTER:+Cluster $PARLEY_REDIS_CLUSTER}"

results=$PARLEY_DATA/results.txt
: >"$results"
commands=()
IFS=, read -r -a protos <<<"$CBENCH_PROTOS"
IFS=, read -r -a paths <<<"$CBENCH_PATHS"
for proto in "${protos[@]}"; do
  for ((round = 1; round <= CBENCH_ROUNDS; round++)); do
    for path in "${paths[@]}"; do
      case $path in
        same-node) send=$n1 ;;
        cross-node) send=$n2 ;;
        both-nodes) send=$n1,$n2 ;;
        *) pl_die "CBENCH_PATHS: unknown path '$path'" ;;
      esac
      # The same users every run (a taken name is logged in), so both paths carry the same
      # conversations; each run opens its own streams and sessions.
      cmd=("$lg" --port "$n1" --send-port "$send" --proto "$proto" --scenario 1:1
        --users "$CBENCH_USERS" --rate "$CBENCH_RATES" --prefix cbench --warmup "$BENCH_WARMUP"
        --duration "$BENCH_DURATION" --drain "$BENCH_DRAIN")
      commands+=("${cmd[*]}")
      pl_say "$proto $path (round $round): ${cmd[*]}"
      "${cmd[@]}" 2>>"$PARLEY_DATA/log/loadgen.log" | sed "s/^RESULT /RESULT path=$path round=$round /" |
        tee -a "$results" || pl_warn "loadgen $proto $path exited with status $?"
    done
  done
done

cluster_stop
trap - EXIT
echo
echo "cluster bench: 2 nodes, streams on node1; sends through node1 (same-node), node2 (cross-node)" \
  "or both in turn (both-nodes)"
printf '%-6s %-11s %-6s %8s %12s %8s %8s %8s %6s %5s\n' proto path offered stored/s deliveries/s \
  p50_ms p99_ms max_ms lost errors
awk '/^RESULT/ {
  delete v
  for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  printf "%-6s %-11s %-6s %8s %12s %8s %8s %8s %6s %5s\n", v["proto"], v["path"], v["offered"],
    v["stored_per_s"], v["deliveries_per_s"], v["p50_ms"], v["p99_ms"], v["max_ms"], v["lost"],
    v["errors"]
}' "$results"
echo
echo "commands (node1 = $n1, node2 = $n2):"
printf '  %s\n' "${commands[@]}"
