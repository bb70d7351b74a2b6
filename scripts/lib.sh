# SPDX-License-Identifier: MIT
# Parley - shell helpers shared by scripts/run, scripts/test and scripts/svc.
# Copyright (c) 2026 Parley developers
#
# Sourced, never executed. Every function is safe under `set -euo pipefail`: probes that may fail
# are guarded, and functions that can fail return non-zero instead of exiting, so callers decide.
# Functions return early with `|| return 1` because `set -e` is off inside a function that is
# called as an `if` condition.
#
# Layout of a data dir ($PARLEY_DATA, default <repo>/var; scripts/test uses $PARLEY_DATA/test):
#   pg/     PostgreSQL: data/ (the cluster), sock/, postgres.log; owned by the `parley` user
#   redis/  Redis working dir (nothing is persisted: --save '' --appendonly no)
#   run/    pid files, the Redis socket, locks, parleyd's port file
#   log/    redis.log and anything else our scripts log
#   tls/    cert.pem and key.pem, a self-signed certificate for localhost

PL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

# useradd and runuser live in /usr/sbin, which a non-login environment may lack.
case ":$PATH:" in
  *:/usr/sbin:*) ;;
  *) PATH="$PATH:/usr/sbin:/sbin" ;;
esac

pl_say() { printf '==> %s\n' "$*"; }
pl_warn() { printf 'warning: %s\n' "$*" >&2; }
pl_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# pl_env: normalise PARLEY_DATA to an absolute path and choose how PostgreSQL and Redis are
# reached. Call it after the caller has chosen PARLEY_DATA; it exports what it read, so
# scripts/svc and parleyd see the same values.
#
# By default both listen on Unix sockets in the data dir only (no TCP port at all, so nothing
# can collide with another program or with an outgoing connection's ephemeral port):
# pl_pg_conninfo and pl_redis_addr give parleyd the addresses. A caller that needs TCP (e.g. a
# peer benchmark on another host) sets PARLEY_PG_PORT and/or PARLEY_REDIS_PORT: the service then
# also listens on 127.0.0.1 at that port, which must be free of any use (pl_port_busy).
# PL_PG_PORT also names PostgreSQL's socket file (.s.PGSQL.<port>).
pl_env() {
  : "${PARLEY_DATA:=$PL_ROOT/var}"
  PL_PG_TCP=${PARLEY_PG_PORT:+1}
  PL_PG_PORT=${PARLEY_PG_PORT:-5432}
  PL_REDIS_TCP_PORT=${PARLEY_REDIS_PORT:-0}
  local p
  for p in "$PL_PG_PORT" "$PL_REDIS_TCP_PORT"; do
    if ! [[ $p =~ ^[0-9]+$ ]] || ((p > 65535)); then pl_die "bad port '$p'"; fi
  done
  ((PL_PG_PORT > 0)) || pl_die "bad port '$PL_PG_PORT'"
  mkdir -p "$PARLEY_DATA" || pl_die "cannot create PARLEY_DATA=$PARLEY_DATA"
  PARLEY_DATA=$(cd "$PARLEY_DATA" && pwd -P)
  export PARLEY_DATA
  [[ -z ${PARLEY_PG_PORT:-} ]] || export PARLEY_PG_PORT
  [[ -z ${PARLEY_REDIS_PORT:-} ]] || export PARLEY_REDIS_PORT
  mkdir -p "$PARLEY_DATA/run" "$PARLEY_DATA/log" "$PARLEY_DATA/redis"
  # A short directory of our own outside the data dir, named after it so that several checkouts
  # (and scripts/run next to scripts/test) never share one. See pl_pg_paths for why it exists.
  PL_SHORT=/var/tmp/parley-$(printf '%s' "$PARLEY_DATA" | sha256sum | cut -c1-12)
}

# pl_lock NAME: hold $PARLEY_DATA/run/NAME.lock for the rest of the script on fd 9, so that two
# scripts/run (or two scripts/test) on one data dir cannot stop each other's services. Daemons are
# started with `9>&-` so that they never inherit the lock.
pl_lock() {
  exec 9>"$PARLEY_DATA/run/$1.lock"
  flock -n 9 || pl_die "another scripts/$1 is using $PARLEY_DATA (lock $PARLEY_DATA/run/$1.lock)"
}

# ---------------------------------------------------------------------------------------------
# Dependencies and build

# postgresql-15-hll: the hll extension of analytics (migration 0014); 15 is Debian 12's PostgreSQL.
PL_APT_PKGS=(build-essential meson ninja-build pkg-config git
  libmicrohttpd-dev libnghttp2-dev libpq-dev libhiredis-dev libsodium-dev libbrotli-dev
  libyajl-dev libssl-dev libcurl4-openssl-dev libsqlite3-dev
  postgresql postgresql-15-hll redis-server curl nghttp2-client openssl clang-format haproxy)
# Only the test suite needs these (browser tests: Debian's Chromium and a colour emoji font, without
# which reactions are boxes in its screenshots; scripts/fuzz: clang and its libFuzzer runtime).
PL_APT_TEST_PKGS=(chromium fonts-noto-color-emoji clang libclang-rt-14-dev
  radosgw ceph-mon ceph-osd) # the S3 tests' server: scripts/lib_s3.sh

# pl_deps [EXTRA_PKGS...]: install only the Debian packages that are missing (PL_APT_PKGS and
# the extra ones). The system PostgreSQL and Redis services that the packages may start are left
# alone; ours run on other ports and data dirs.
pl_deps() {
  local pkgs=("${PL_APT_PKGS[@]}" "$@") missing=() p st
  # Node may come from elsewhere (nvm, NodeSource); only fall back to Debian's when absent.
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
  for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $st == "install ok installed" ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || pl_die "missing packages (need root): ${missing[*]}"
    sudo=(sudo)
  fi
  pl_say "installing missing packages: ${missing[*]}"
  local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y
    -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  "${apt[@]}" update || pl_die "apt-get update failed"
  "${apt[@]}" install --no-install-recommends "${missing[@]}" </dev/null ||
    pl_die "apt-get install failed: ${missing[*]}"
}

# pl_build_has DIR -Dname=value...: true when DIR is configured with every given option already.
# Saves the regeneration that even a no-op `meson configure` causes. (python3 is meson's own.)
pl_build_has() {
  local dir=$1
  shift
  meson introspect "$dir" --buildoptions 2>/dev/null | python3 -c '
import json, sys
have = {o["name"]: o["value"] for o in json.load(sys.stdin)}
def norm(v):
    return str(v).lower() if isinstance(v, bool) else str(v)
for arg in sys.argv[1:]:
    name, _, want = arg[2:].partition("=")
    if not arg.startswith("-D") or name not in have or norm(have[name]) != want:
        sys.exit(1)
' "$@"
}

# pl_build DIR [meson options...]: configure DIR (relative to the repo) once, apply options to an
# existing DIR, then build it. Returns non-zero, after saying so, if anything fails.
pl_build() {
  local dir=$1
  shift
  [[ $dir == /* ]] || dir=$PL_ROOT/$dir
  if [[ ! -f $dir/build.ninja ]]; then
    # A failed first `meson setup` leaves meson-private/ without build.ninja; start over.
    [[ -d $dir/meson-private ]] && rm -rf "$dir"
    pl_say "meson setup $dir $*"
    meson setup "$dir" "$PL_ROOT" "$@" || {
      pl_warn "BUILD FAILED: meson setup $dir (see the meson output above)"
      return 1
    }
  elif (($#)) && ! pl_build_has "$dir" "$@"; then
    meson configure "$dir" "$@" >/dev/null || {
      pl_warn "meson configure $dir failed; wiping and setting up again"
      meson setup --wipe "$dir" "$PL_ROOT" "$@" || {
        pl_warn "BUILD FAILED: meson setup --wipe $dir (see the meson output above)"
        return 1
      }
    }
  fi
  pl_say "ninja -C $dir"
  ninja -C "$dir" || {
    pl_warn "BUILD FAILED: ninja -C $dir (see the compiler output above)"
    return 1
  }
}

# pl_web_build: install the web client's pinned npm packages (web/package-lock.json) and build
# web/dist, which parleyd reads at startup. Returns non-zero, after saying so, when Node/npm or
# the build fail; parleyd still builds and runs without it (/ then answers 503).
pl_web_build() {
  local d=$PL_ROOT/web
  command -v npm >/dev/null 2>&1 || {
    pl_warn "npm not found: the web client is not built (parleyd serves 503 at /)"
    return 1
  }
  pl_say "web client: npm ci && node build.mjs"
  (cd "$d" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error &&
    node build.mjs) || {
    pl_warn "the web client did not build (see above); parleyd serves 503 at /"
    return 1
  }
}

# ---------------------------------------------------------------------------------------------
# Ports

# pl_port_busy PORT: true when PORT is in use on this machine: a listener on any address, or a
# live connection whose local port it is (an outgoing connection holding PORT as its ephemeral
# port makes a later bind fail just the same). Sockets that are only closing (FIN-WAIT,
# TIME-WAIT, ...) do not count: servers bind with SO_REUSEADDR past them, and a service killed a
# moment ago (scripts/chaos) leaves them behind.
pl_port_busy() {
  if command -v ss >/dev/null 2>&1; then
    [[ -n $(ss -Htan state listening state established state syn-sent state syn-recv \
      state close-wait "sport = :$1" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# pl_free_port [AVOID...]: print a port nobody listens on. The range stays below Linux's
# ephemeral range (32768-60999) so that outgoing connections cannot be holding it.
pl_free_port() {
  local i p a
  for ((i = 0; i < 500; i++)); do
    p=$((20000 + (RANDOM % 12700)))
    for a in "$@"; do [[ $p == "$a" ]] && continue 2; done
    pl_port_busy "$p" || {
      echo "$p"
      return 0
    }
  done
  pl_warn "no free port found in 20000-32699"
  return 1
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

# pl_as_pg CMD...: run CMD as the PostgreSQL owner. PostgreSQL refuses to run as root, so as root
# we use the unprivileged system user `parley`; as anyone else, the cluster belongs to that user.
# `cd /` avoids "could not change directory" noise when our cwd is private (e.g. under /root).
pl_as_pg() {
  if ((EUID == 0)); then
    (cd / && runuser -u parley -- "$@")
  else
    "$@"
  fi
}

pl_pg_user() {
  ((EUID == 0)) || return 0
  id -u parley >/dev/null 2>&1 && return 0
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin parley || {
    pl_warn "useradd parley failed"
    return 1
  }
}

# pl_pgbin: set PL_PGBIN to the newest /usr/lib/postgresql/*/bin.
pl_pgbin() {
  [[ -n ${PL_PGBIN:-} ]] && return 0
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [[ -n $d && -x $d/pg_ctl ]] || {
    pl_warn "no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)"
    return 1
  }
  PL_PGBIN=$d
}

# pl_own DIR...: make DIR belong to the PostgreSQL owner, re-owning its contents only when the top
# is wrong (e.g. the user was deleted and created again with another uid).
pl_own() {
  ((EUID == 0)) || return 0
  local d
  for d in "$@"; do
    [[ $(stat -c %U "$d") == parley ]] || chown -R parley:parley "$d"
  done
}

# pl_pg_paths: set PL_PG (the real cluster root), PL_PGDATA, PL_PGLOG and PL_PGSOCK.
#
# The cluster lives in $PARLEY_DATA/pg when the `parley` user can reach that directory. It cannot
# when the checkout sits under a directory closed to others, typically /root (mode 0700): the
# postgres processes run as `parley` and would fail on every path. Then the cluster lives in
# $PL_SHORT/pg (under /var/tmp, which survives reboots, unlike /tmp) and $PARLEY_DATA/pg is a
# symlink to it, so the layout looks the same from the checkout. We always hand PostgreSQL the
# resolved path, never the symlink, because resolving the symlink itself needs the traversal that
# `parley` lacks. (systemd-tmpfiles may age out /var/tmp after 30 days unused; the cluster is then
# simply created again.)
pl_pg_paths() {
  local link=$PARLEY_DATA/pg
  if [[ -L $link ]]; then
    PL_PG=$(readlink "$link")
  elif [[ -d $link ]]; then
    PL_PG=$link
    if ((EUID == 0)) && ! runuser -u parley -- test -x "$PL_PG" 2>/dev/null; then
      pl_warn "user parley cannot reach $PL_PG; move the data dir or remove $PL_PG"
      return 1
    fi
  elif ((EUID != 0)) || runuser -u parley -- test -x "$PARLEY_DATA" 2>/dev/null; then
    PL_PG=$link
  else
    PL_PG=$PL_SHORT/pg
    ln -s "$PL_PG" "$link"
  fi
  PL_PGDATA=$PL_PG/data
  PL_PGLOG=$PL_PG/postgres.log
  # A Unix socket path is limited to 107 bytes; deep checkouts fall back to the short dir.
  PL_PGSOCK=$PL_PG/sock
  ((${#PL_PGSOCK} + 18 <= 100)) || PL_PGSOCK=$PL_SHORT/pgsock
}

# pl_pg_mkdirs: create the directories pl_pg_paths chose, owned by the PostgreSQL owner.
pl_pg_mkdirs() {
  if [[ $PL_PG == "$PL_SHORT"/* || $PL_PGSOCK == "$PL_SHORT"/* ]]; then
    mkdir -p "$PL_SHORT"
    chmod 0700 "$PL_SHORT"
    pl_own "$PL_SHORT"
  fi
  mkdir -p "$PL_PG" "$PL_PGSOCK"
  chmod 0700 "$PL_PG"
  pl_own "$PL_PG" "$PL_PGSOCK"
}

# pl_pg_prepare: everything but starting: user, paths, initdb on first use, our settings file.
pl_pg_prepare() {
  pl_pgbin || return 1
  pl_pg_user || return 1
  pl_pg_paths || return 1
  pl_pg_mkdirs || return 1
  local major
  major=$(basename "$(dirname "$PL_PGBIN")")
  if [[ ! -f $PL_PGDATA/PG_VERSION ]]; then
    rm -rf "$PL_PGDATA" # a half-done initdb
    pl_say "initdb $PL_PGDATA (PostgreSQL $major)"
    # trust is safe here: the server listens on 127.0.0.1 and its own socket dir only, and
    # initdb's pg_hba.conf lists only local, 127.0.0.1/32 and ::1/128.
    pl_as_pg "$PL_PGBIN/initdb" -D "$PL_PGDATA" -U parley -A trust -E UTF8 --locale=C \
      ${PARLEY_PG_FAST:+--no-sync} >"$PL_PG/initdb.log" 2>&1 9>&- 8>&- || {
      pl_warn "initdb failed; see $PL_PG/initdb.log:"
      tail -n 20 "$PL_PG/initdb.log" >&2
      return 1
    }
    # Settings that change between runs (port, test speed-ups) go in parley.conf, rewritten at
    # every start, so scripts/svc restarts the server exactly as it was started.
    echo "include_if_exists = 'parley.conf'" >>"$PL_PGDATA/postgresql.conf"
  fi
  local have
  have=$(cat "$PL_PGDATA/PG_VERSION")
  if [[ $have != "$major" ]]; then
    pl_warn "cluster $PL_PGDATA is PostgreSQL $have but the server found is $major;" \
      "remove $PARLEY_DATA/pg to start afresh"
    return 1
  fi
  local sock=${PL_PGSOCK//\'/\'\'}
  {
    echo "# Written by scripts/lib.sh at every start; edits are lost."
    if [[ -n ${PL_PG_TCP:-} ]]; then
      echo "listen_addresses = '127.0.0.1'"
    else
      echo "listen_addresses = ''"
    fi
    echo "port = $PL_PG_PORT"
    echo "unix_socket_directories = '$sock'"
    echo "max_connections = 200"
    if [[ -n ${PARLEY_PG_FAST:-} ]]; then
      # Test clusters are thrown away: durability only costs time.
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
  } >"$PL_PGDATA/parley.conf"
  pl_own "$PL_PGDATA/parley.conf"
}

pl_pg_running() {
  [[ -f $PL_PGDATA/PG_VERSION ]] || return 1
  pl_as_pg "$PL_PGBIN/pg_ctl" -D "$PL_PGDATA" status >/dev/null 2>&1
}

# pl_psql ARGS...: psql as the superuser `parley` to our cluster, over its Unix socket.
pl_psql() {
  [[ -n ${PL_PGSOCK:-} ]] || pl_pg_paths || return 1 # a script that did not start the cluster
  PGCONNECT_TIMEOUT=5 PGOPTIONS="-c client_min_messages=warning" \
    "$PL_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PL_PGSOCK" -p "$PL_PG_PORT" -U parley "$@"
}

# pl_pg_conninfo DBNAME: the libpq connection string of database DBNAME on our cluster (its Unix
# socket; pl_pg_paths must have run, as pl_pg_start does).
pl_pg_conninfo() {
  echo "host='$PL_PGSOCK' port=$PL_PG_PORT user=parley dbname=$1"
}

# pl_redis_addr: the address parleyd's PARLEY_REDIS takes for our Redis (its socket path).
pl_redis_addr() {
  pl_redis_paths
  echo "$PL_REDIS_SOCK"
}

pl_pg_start() {
  pl_pg_prepare || return 1
  if pl_pg_running; then
    # Left over from a run that was killed; keep it if it listens where we want it now.
    pl_psql -d postgres -Atc 'SELECT 1' >/dev/null 2>&1 && return 0
    pl_pg_stop || return 1
  fi
  if [[ -n ${PL_PG_TCP:-} ]] && pl_port_busy "$PL_PG_PORT"; then
    pl_warn "port $PL_PG_PORT is in use by another program; set another PARLEY_PG_PORT (or" \
      "unset it: Unix socket only)"
    return 1
  fi
  pl_as_pg "$PL_PGBIN/pg_ctl" -D "$PL_PGDATA" -l "$PL_PGLOG" -w -t 60 start \
    >/dev/null 9>&- 8>&- || {
    pl_warn "PostgreSQL did not start; last lines of $PL_PGLOG:"
    tail -n 20 "$PL_PGLOG" >&2 || true
    return 1
  }
}

# pl_pg_up: true when our cluster runs. Creates nothing: without a server installed or a cluster
# made there is nothing running.
pl_pg_up() {
  pl_pgbin 2>/dev/null || return 1
  [[ -e $PARLEY_DATA/pg ]] || return 1
  pl_pg_paths || return 1
  pl_pg_running
}

pl_pg_stop() {
  pl_pg_up || return 0
  pl_as_pg "$PL_PGBIN/pg_ctl" -D "$PL_PGDATA" -m fast -w -t 60 stop >/dev/null || {
    pl_warn "pg_ctl stop failed; see $PL_PGLOG"
    return 1
  }
}

# pl_pg_kill: crash the cluster as a kill -9 would (immediate shutdown: no checkpoint, WAL
# replay at the next start), for scripts/chaos.
pl_pg_kill() {
  pl_pg_up || return 0
  pl_as_pg "$PL_PGBIN/pg_ctl" -D "$PL_PGDATA" -m immediate -w -t 60 stop >/dev/null || {
    pl_warn "pg_ctl stop -m immediate failed; see $PL_PGLOG"
    return 1
  }
}

# pl_pg_createdb NAME: create database NAME unless it exists.
pl_pg_createdb() {
  local have
  have=$(pl_psql -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$1'") || return 1
  [[ $have == 1 ]] && return 0
  pl_psql -d postgres -c "CREATE DATABASE \"$1\"" || return 1
}

# pl_pg_freshdb NAME: drop NAME (disconnecting its clients) and create it again, empty.
pl_pg_freshdb() {
  pl_psql -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" || return 1
  pl_psql -d postgres -c "CREATE DATABASE \"$1\"" || return 1
}

# ---------------------------------------------------------------------------------------------
# Redis (runs as the invoking user; it has no objection to root)

pl_redis_paths() {
  PL_REDIS_PIDFILE=$PARLEY_DATA/run/redis.pid
  PL_REDIS_SOCK=$PARLEY_DATA/run/redis.sock
  # A Unix socket path is limited to 107 bytes; deep checkouts use /var/tmp instead.
  ((${#PL_REDIS_SOCK} <= 100)) || PL_REDIS_SOCK=$PL_SHORT-redis.sock
}

# pl_redis_pid: print the pid of our redis-server, if it runs. The comm check guards against a
# stale pid file whose pid now belongs to something else.
pl_redis_pid() {
  pl_redis_paths
  local pid
  pid=$(cat "$PL_REDIS_PIDFILE" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null || true) == redis-server ]] || return 1
  pl_alive "$pid" || return 1
  echo "$pid"
}

pl_redis_ping() {
  pl_redis_paths
  [[ $(redis-cli -s "$PL_REDIS_SOCK" ping 2>/dev/null || true) == PONG ]]
}

# pl_redis_flush: empty every Redis database, so each test run starts from nothing.
pl_redis_flush() {
  pl_redis_paths
  redis-cli -s "$PL_REDIS_SOCK" flushall >/dev/null
}

pl_redis_start() {
  pl_redis_paths
  if pl_redis_pid >/dev/null; then
    pl_redis_ping && return 0
    pl_redis_stop || return 1
  fi
  if ((PL_REDIS_TCP_PORT)) && pl_port_busy "$PL_REDIS_TCP_PORT"; then
    pl_warn "port $PL_REDIS_TCP_PORT is in use by another program; set another" \
      "PARLEY_REDIS_PORT (or unset it: Unix socket only)"
    return 1
  fi
  rm -f "$PL_REDIS_PIDFILE"
  # --port 0: no TCP listener unless PARLEY_REDIS_PORT asked for one.
  redis-server --port "$PL_REDIS_TCP_PORT" --bind 127.0.0.1 \
    --unixsocket "$PL_REDIS_SOCK" --unixsocketperm 700 \
    --dir "$PARLEY_DATA/redis" --save '' --appendonly no \
    --daemonize yes --pidfile "$PL_REDIS_PIDFILE" --logfile "$PARLEY_DATA/log/redis.log" \
    >/dev/null 9>&- 8>&- || {
    pl_warn "redis-server failed; see $PARLEY_DATA/log/redis.log"
    return 1
  }
  local i
  for ((i = 0; i < 200; i++)); do
    pl_redis_ping && return 0
    sleep 0.05
  done
  pl_warn "Redis did not answer PING on $PL_REDIS_SOCK; last lines of its log:"
  tail -n 20 "$PARLEY_DATA/log/redis.log" >&2 || true
  return 1
}

# pl_alive PID: true while PID runs. A zombie counts as gone: daemons are re-parented to PID 1,
# which on some machines (containers, VMs with a minimal init) reaps them only now and then.
pl_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# pl_wait_gone PID SECONDS: wait for PID to exit; KILL it after SECONDS.
pl_wait_gone() {
  local pid=$1 i
  for ((i = 0; i < $2 * 20; i++)); do
    pl_alive "$pid" || return 0
    sleep 0.05
  done
  pl_warn "pid $pid did not exit within $2 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

pl_redis_kill() {
  local pid
  pid=$(pl_redis_pid) || return 0
  kill -KILL "$pid" 2>/dev/null || true
  pl_wait_gone "$pid" 10
  rm -f "$PL_REDIS_PIDFILE"
}

pl_redis_stop() {
  local pid
  pl_redis_paths
  pid=$(pl_redis_pid) || return 0
  # Through our own socket rather than the port, which could belong to another Redis by now.
  redis-cli -s "$PL_REDIS_SOCK" shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null ||
    true
  pl_wait_gone "$pid" 10
  rm -f "$PL_REDIS_PIDFILE"
}

# ---------------------------------------------------------------------------------------------
# Redis Cluster (issue 14): 3 masters and 3 replicas on loopback TCP ports, for parleyd's
# redis_cluster setting. A cluster needs TCP (its bus port is the client port + 10000), so the
# client ports are taken from 20000-22699: their bus ports 30000-32699 stay below Linux's
# ephemeral range too. Layout of DIR: ports (the six client ports, masters first at creation),
# node-PORT/ (nodes.conf, redis.pid, redis.log), create.log.

PL_REDIS_CLUSTER_NODES=6

# pl_redis_cluster_node_start DIR PORT: start one node of the cluster in DIR (again, after a
# crash: it rejoins with its nodes.conf). Waits for it to answer PING.
pl_redis_cluster_node_start() {
  local d=$1/node-$2 i
  mkdir -p "$d" || return 1
  # node-timeout 2 s: a dead master is failed over in about 3-4 s. validity-factor 0: any replica
  # may take over however long it was cut off. full-coverage no: the other shards keep serving
  # while one has no master.
  redis-server --port "$2" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file "$d/nodes.conf" --cluster-node-timeout 2000 \
    --cluster-replica-validity-factor 0 --cluster-require-full-coverage no \
    --cluster-allow-reads-when-down yes --dir "$d" --save '' --appendonly no \
    --daemonize yes --pidfile "$d/redis.pid" --logfile "$d/redis.log" >/dev/null 9>&- 8>&- || {
    pl_warn "redis-server (cluster node $2) failed; see $d/redis.log"
    return 1
  }
  for ((i = 0; i < 200; i++)); do
    [[ $(redis-cli -p "$2" ping 2>/dev/null || true) == PONG ]] && return 0
    sleep 0.05
  done
  pl_warn "cluster node $2 did not answer PING; see $d/redis.log"
  return 1
}

# pl_redis_cluster_node_pid DIR PORT: print the pid of that node, if it runs.
pl_redis_cluster_node_pid() {
  local pid
  pid=$(cat "$1/node-$2/redis.pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null || true) == redis-server ]] || return 1
  pl_alive "$pid" || return 1
  echo "$pid"
}

# pl_redis_cluster_seeds DIR: print the seed list parleyd's redis_cluster takes.
pl_redis_cluster_seeds() {
  local p out=
  for p in $(cat "$1/ports"); do out+=${out:+,}127.0.0.1:$p; done
  echo "$out"
}

# pl_redis_cluster_ok DIR: true when every node runs, every slot is served, and half the nodes
# say they are masters (a node restarted after a failover first comes back as a master, then
# turns into a replica of the one that took over).
pl_redis_cluster_ok() {
  local p info masters=0
  [[ -f $1/ports ]] || return 1
  for p in $(cat "$1/ports"); do
    info=$(redis-cli -p "$p" cluster info 2>/dev/null || true)
    [[ $info == *cluster_state:ok* && $info == *cluster_slots_ok:16384* ]] || return 1
    [[ $info == *"cluster_known_nodes:$PL_REDIS_CLUSTER_NODES"* ]] || return 1
    if [[ $(redis-cli -p "$p" role 2>/dev/null | head -n 1) == master ]]; then
      masters=$((masters + 1))
    else
      # A replica counts once it holds its master's data: a restarted node rejoins empty, and
      # a failover that promoted it before its first sync completed would lose that shard's keys
      # (94-chaos-redis-cluster-failover kills masters one after the other).
      info=$(redis-cli -p "$p" info replication 2>/dev/null || true)
      [[ $info == *master_link_status:up* && $info == *master_sync_in_progress:0* ]] || return 1
    fi
  done
  ((masters == PL_REDIS_CLUSTER_NODES / 2))
}

# pl_redis_cluster_wait DIR SECONDS: wait until pl_redis_cluster_ok.
pl_redis_cluster_wait() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    pl_redis_cluster_ok "$1" && return 0
    sleep 0.1
  done
  return 1
}

# pl_redis_cluster_start DIR: make sure a Redis Cluster runs in DIR (start the nodes that are
# down; create the cluster the first time) and print its seed list on stdout,
# "127.0.0.1:P1,...,127.0.0.1:P6". Everything else goes to stderr.
pl_redis_cluster_start() {
  local dir=$1 p ports=() base i
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd -P)
  if [[ -f $dir/ports ]]; then
    for p in $(cat "$dir/ports"); do
      pl_redis_cluster_node_pid "$dir" "$p" >/dev/null || pl_redis_cluster_node_start "$dir" "$p" >&2 ||
        return 1
    done
    if pl_redis_cluster_wait "$dir" 20; then
      pl_redis_cluster_seeds "$dir"
      return 0
    fi
    pl_warn "the Redis Cluster in $dir did not recover; creating a new one"
    pl_redis_cluster_stop "$dir"
  fi
  rm -rf "$dir"/node-* "$dir/ports"
  for ((i = 0; i < 50; i++)); do
    base=$((20000 + RANDOM % 2690))
    ports=()
    for ((p = base; p < base + PL_REDIS_CLUSTER_NODES; p++)); do
      pl_port_busy "$p" || pl_port_busy $((p + 10000)) || ports+=("$p")
    done
    ((${#ports[@]} == PL_REDIS_CLUSTER_NODES)) && break
  done
  ((${#ports[@]} == PL_REDIS_CLUSTER_NODES)) || {
    pl_warn "no free ports for a Redis Cluster"
    return 1
  }
  for p in "${ports[@]}"; do
    pl_redis_cluster_node_start "$dir" "$p" >&2 || return 1
  done
  local addrs=()
  for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
    >"$dir/create.log" 2>&1 9>&- 8>&- || {
    pl_warn "redis-cli --cluster create failed; see $dir/create.log"
    return 1
  }
  echo "${ports[*]}" >"$dir/ports"
  pl_redis_cluster_wait "$dir" 30 || {
    pl_warn "the Redis Cluster in $dir did not reach cluster_state:ok"
    return 1
  }
  pl_redis_cluster_seeds "$dir"
}

# pl_redis_cluster_flush DIR: empty every master (replicas refuse FLUSHALL and follow).
pl_redis_cluster_flush() {
  local p
  [[ -f $1/ports ]] || return 0
  for p in $(cat "$1/ports"); do
    if [[ $(redis-cli -p "$p" role 2>/dev/null | head -n 1) == master ]]; then
      redis-cli -p "$p" flushall >/dev/null || return 1
    fi
  done
}

# pl_redis_cluster_synced PORT SECONDS: wait until a replica of the master on PORT has
# acknowledged every write that master took so far. Replication is asynchronous, and a replica
# that has just finished its full sync gets nothing streamed until its first REPLCONF ACK (sent
# once a second), so a master killed right after a write can take it with it: the failover tests
# mean to test parleyd across a failover, not Redis losing acknowledged writes.
pl_redis_cluster_synced() {
  local info want= got i
  for ((i = 0; i < $2 * 20; i++)); do
    info=$(redis-cli -p "$1" info replication 2>/dev/null | tr -d '\r')
    # The offset when we first looked: later writes need not wait.
    [[ -n $want ]] || want=$(sed -n 's/^master_repl_offset://p' <<<"$info")
    [[ -n $want ]] || return 1
    # slave0:ip=...,port=...,state=online,offset=N,lag=0
    got=$(sed -n 's/^slave[0-9]*:.*state=online,offset=\([0-9]*\).*/\1/p' <<<"$info" | sort -n | tail -n 1)
    [[ -n $got ]] && ((got >= want)) && return 0
    sleep 0.05
  done
  return 1
}

# pl_redis_cluster_kill_master DIR KEY: SIGKILL the master that serves KEY's slot (a crash:
# its replica takes over) and print its port.
pl_redis_cluster_kill_master() {
  local dir=$1 slot p q= pid
  for p in $(cat "$dir/ports"); do
    pl_redis_cluster_node_pid "$dir" "$p" >/dev/null && q=$p && break
  done
  [[ -n $q ]] || return 1
  slot=$(redis-cli -p "$q" cluster keyslot "$2") || return 1
  # CLUSTER NODES: id ip:port@bus flags master ... then the slot ranges from field 9 on.
  p=$(redis-cli -p "$q" cluster nodes | awk -v s="$slot" '
    $3 ~ /master/ && $3 !~ /fail/ {
      for (i = 9; i <= NF; i++) {
        n = split($i, r, "-"); lo = r[1]; hi = (n > 1) ? r[2] : r[1]
        if (s >= lo + 0 && s <= hi + 0) { split($2, a, "[:@]"); print a[2]; exit }
      }
    }')
  [[ -n $p ]] || return 1
  pid=$(pl_redis_cluster_node_pid "$dir" "$p") || return 1
  pl_redis_cluster_synced "$p" 5 || pl_warn "the replica of $p has not acknowledged its writes"
  kill -KILL "$pid"
  pl_wait_gone "$pid" 10
  echo "$p"
}

# pl_redis_cluster_stop DIR: stop every node (nothing is persisted but nodes.conf).
pl_redis_cluster_stop() {
  local p pid
  [[ -f $1/ports ]] || return 0
  for p in $(cat "$1/ports"); do
    pid=$(pl_redis_cluster_node_pid "$1" "$p") || continue
    redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    pl_wait_gone "$pid" 10
  done
}

# ---------------------------------------------------------------------------------------------
# TLS

# pl_cert: make sure $PARLEY_DATA/tls holds a self-signed certificate for localhost and 127.0.0.1
# valid for at least another day; set PL_TLS_CERT and PL_TLS_KEY.
pl_cert() {
  local dir=$PARLEY_DATA/tls
  PL_TLS_CERT=$dir/cert.pem
  PL_TLS_KEY=$dir/key.pem
  if [[ -f $PL_TLS_CERT && -f $PL_TLS_KEY ]] &&
    openssl x509 -checkend 86400 -noout -in "$PL_TLS_CERT" >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$dir"
  pl_say "generating a self-signed TLS certificate in $dir"
  (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 825 \
    -nodes -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$dir/key.pem.tmp" -out "$dir/cert.pem.tmp" >/dev/null 2>&1) || {
    pl_warn "openssl req failed"
    return 1
  }
  chmod 0644 "$dir/cert.pem.tmp"
  mv -f "$dir/key.pem.tmp" "$PL_TLS_KEY"
  mv -f "$dir/cert.pem.tmp" "$PL_TLS_CERT"
}

# ---------------------------------------------------------------------------------------------
# parleyd and shutdown

# pl_parleyd_stop: stop the parleyd we started (PL_PARLEYD_PID), if it still runs.
pl_parleyd_stop() {
  local pid=${PL_PARLEYD_PID:-}
  [[ -n $pid ]] || return 0
  if pl_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    pl_wait_gone "$pid" 10
  fi
  wait "$pid" 2>/dev/null || true
  PL_PARLEYD_PID=
}

# pl_stop_all: stop parleyd (if ours), PostgreSQL and Redis. Idempotent and quiet when there is
# nothing to do, so it can run from an EXIT trap after the last line a script prints.
pl_stop_all() {
  pl_parleyd_stop || true
  pl_standby_stop || true
  pl_pg_stop || true
  pl_redis_stop || true
  pl_redis_cluster_stop "$PARLEY_DATA/rcluster" || true
  pl_s3_stop || true
}

# shellcheck source=scripts/lib_s3.sh
. "$PL_ROOT/scripts/lib_s3.sh"
# ---------------------------------------------------------------------------------------------
# PostgreSQL streaming hot standby (scripts/run --nodes N > 1, scripts/cluster, scripts/svc
# standby)
#
# A physical copy of our cluster taken with pg_basebackup (-R: standby.signal and
# primary_conninfo over the primary's Unix socket), in $PL_PG/standby, run by the same
# unprivileged owner, on port PL_PG_STANDBY_PORT (PARLEY_PG_STANDBY_PORT, default the primary's
# port + 1; with PARLEY_PG_PORT set it also listens on 127.0.0.1 there). Its own parley.conf is
# rewritten at every start like the primary's. The copy is kept between runs while it belongs to
# the same primary (same system identifier) and taken again otherwise.

pl_standby_paths() {
  pl_pg_paths || return 1
  PL_SBDATA=$PL_PG/standby
  PL_SBLOG=$PL_PG/standby.log
  PL_PG_STANDBY_PORT=${PARLEY_PG_STANDBY_PORT:-$((PL_PG_PORT + 1))}
}

# pl_sysid DATADIR: the cluster's system identifier (pg_controldata).
pl_sysid() {
  pl_as_pg "$PL_PGBIN/pg_controldata" "$1" 2>/dev/null | sed -n 's/^Database system identifier: *//p'
}

pl_standby_running() {
  [[ -f $PL_SBDATA/PG_VERSION ]] || return 1
  pl_as_pg "$PL_PGBIN/pg_ctl" -D "$PL_SBDATA" status >/dev/null 2>&1
}

# pl_standby_conninfo DBNAME: the libpq connection string of DBNAME on the standby.
pl_standby_conninfo() {
  pl_standby_paths || return 1
  echo "host='$PL_PGSOCK' port=$PL_PG_STANDBY_PORT user=parley dbname=$1"
}

# pl_standby_start: the primary must run (pl_pg_start). Takes the base backup when needed and
# starts the standby; returns when it accepts read-only connections.
pl_standby_start() {
  pl_pgbin || return 1
  pl_standby_paths || return 1
  pl_standby_running && return 0
  local want have
  want=$(pl_sysid "$PL_PGDATA")
  have=$(pl_sysid "$PL_SBDATA")
  if [[ -z $want || $want != "$have" || ! -f $PL_SBDATA/standby.signal ]]; then
    rm -rf "$PL_SBDATA"
    pl_say "pg_basebackup: standby in $PL_SBDATA (port $PL_PG_STANDBY_PORT)"
    pl_as_pg "$PL_PGBIN/pg_basebackup" -h "$PL_PGSOCK" -p "$PL_PG_PORT" -U parley \
      -D "$PL_SBDATA" -R -X stream -c fast ${PARLEY_PG_FAST:+--no-sync} \
      >"$PL_PG/basebackup.log" 2>&1 9>&- 8>&- || {
      pl_warn "pg_basebackup failed; see $PL_PG/basebackup.log:"
      tail -n 20 "$PL_PG/basebackup.log" >&2
      return 1
    }
  fi
  if [[ -n ${PL_PG_TCP:-} ]] && pl_port_busy "$PL_PG_STANDBY_PORT"; then
    pl_warn "port $PL_PG_STANDBY_PORT (the standby) is in use; set PARLEY_PG_STANDBY_PORT"
    return 1
  fi
  # The copy carries the primary's parley.conf: same socket dir, its own port.
  sed -e "s/^port = .*/port = $PL_PG_STANDBY_PORT/" "$PL_PGDATA/parley.conf" >"$PL_SBDATA/parley.conf"
  echo "hot_standby_feedback = on" >>"$PL_SBDATA/parley.conf"
  pl_own "$PL_SBDATA/parley.conf"
  pl_as_pg "$PL_PGBIN/pg_ctl" -D "$PL_SBDATA" -l "$PL_SBLOG" -w -t 60 start \
    >/dev/null 9>&- 8>&- || {
    pl_warn "the standby did not start; last lines of $PL_SBLOG:"
    tail -n 20 "$PL_SBLOG" >&2 || true
    return 1
  }
}

pl_standby_up() {
  pl_pgbin 2>/dev/null || return 1
  [[ -e $PARLEY_DATA/pg ]] || return 1
  pl_standby_paths || return 1
  pl_standby_running
}

pl_standby_stop() {
  pl_standby_up || return 0
  pl_as_pg "$PL_PGBIN/pg_ctl" -D "$PL_SBDATA" -m fast -w -t 60 stop >/dev/null || {
    pl_warn "pg_ctl stop (standby) failed; see $PL_SBLOG"
    return 1
  }
}

pl_standby_kill() {
  pl_standby_up || return 0
  pl_as_pg "$PL_PGBIN/pg_ctl" -D "$PL_SBDATA" -m immediate -w -t 60 stop >/dev/null || return 1
}

# pl_standby_wait_caught_up SECONDS: wait until the standby has replayed everything the primary
# had written when this was called.
pl_standby_wait_caught_up() {
  local lsn i
  lsn=$(pl_psql -d postgres -Atc 'SELECT pg_current_wal_insert_lsn()') || return 1
  for ((i = 0; i < $1 * 10; i++)); do
    [[ $(PGCONNECT_TIMEOUT=5 "$PL_PGBIN/psql" -X -q -h "$PL_PGSOCK" -p "$PL_PG_STANDBY_PORT" \
      -U parley -d postgres -Atc "SELECT pg_last_wal_replay_lsn() >= '$lsn'" 2>/dev/null) == t ]] &&
      return 0
    sleep 0.1
  done
  pl_warn "the standby did not reach $lsn within $1 s"
  return 1
}

# ---------------------------------------------------------------------------------------------
# Several nodes behind HAProxy (scripts/run --nodes N, scripts/cluster)

# pl_haproxy_cfg FILE PORT TLS_PORT CERT_PEM NODES...: write an HAProxy configuration to FILE.
# NODES are "name:port" of the nodes' cleartext ports (HTTP/1.1 and h2c each). PORT takes
# HTTP/1.1 and h2c (HAProxy tells them apart by the h2 preface), TLS_PORT (0: none) terminates
# TLS with ALPN h2,http/1.1 (CERT_PEM holds the certificate and key). See docs/scaling.md for
# why TLS ends here and why requests are balanced by bearer token.
pl_haproxy_cfg() {
  local file=$1 port=$2 tls_port=$3 pem=$4 n
  shift 4
  {
    cat <<CFG
# Written by scripts/lib.sh (pl_haproxy_cfg); edits are lost.
global
  # No maxconn: HAProxy derives it from the descriptor limit it runs with (two per proxied
  # connection). Raise \`ulimit -n\` before scripts/run for more streams than that allows.
  log stderr format short local0 notice

defaults
  mode http
  log global
  option httplog
  option dontlognull
  timeout connect 2s
  timeout client 75s
  timeout server 75s
  # An event stream is one long response: the keep-alives parleyd sends (sse_keepalive_ms,
  # 25 s by default) keep both sides of the tunnel inside these.
  timeout tunnel 1h
  timeout http-request 10s
  timeout http-keep-alive 75s
  timeout client-fin 5s
  timeout queue 5s
  # A node that died mid-request: a request that never reached it goes to another node.
  retries 2
  option redispatch 1
  # HAProxy never buffers responses to compress or inspect them; an SSE event goes out as soon
  # as the node writes it.
  option http-no-delay

frontend parley
  # Cleartext: HTTP/1.1, and h2c with prior knowledge (HAProxy recognises the h2 preface).
  bind 127.0.0.1:$port
CFG
    if ((tls_port)); then
      echo "  bind 127.0.0.1:$tls_port ssl crt $pem alpn h2,http/1.1"
    fi
    cat <<CFG
  default_backend nodes

backend nodes
  # One device (bearer token, or the web client's cookie / access_token) sticks to one node
  # while it is up: that node has seen its writes (read-your-writes on the standby) and its
  # keep-alive connections. Requests without a token are spread by the same hash of nothing.
  balance hdr(Authorization)
  hash-type consistent
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
  timeout check 1s
CFG
    for n in "$@"; do
      echo "  server ${n%%:*} 127.0.0.1:${n##*:} check"
    done
  } >"$file"
}

# pl_haproxy_start FILE PIDFILE LOG: start HAProxy in the foreground mode (-db) as a background
# child of this shell; PL_HAPROXY_PID is its pid. Fails when the configuration is invalid.
pl_haproxy_start() {
  haproxy -c -q -f "$1" >"$3" 2>&1 || {
    pl_warn "haproxy rejected $1:"
    cat "$3" >&2
    return 1
  }
  haproxy -f "$1" -p "$2" -db >>"$3" 2>&1 9>&- 8>&- &
  PL_HAPROXY_PID=$!
}
