# SPDX-License-Identifier: MIT
# Parley - an S3-compatible server for the tests: Ceph's RADOS Gateway on a one-monitor,
# one-OSD cluster whose OSD keeps its objects in memory (memstore). Sourced by scripts/lib.sh.
# Copyright (c) 2026 Parley developers
#
# Why this shape: Debian 12's Ceph (16, Pacific) has no RGW backend without RADOS (dbstore came
# with 17), so RGW needs a monitor and an OSD. With auth off, pool size 1 and memstore, the
# three daemons start in ~15 s and use ~150 MB; everything lives under $PARLEY_DATA/s3 and goes
# at the next start. Two free TCP ports on 127.0.0.1 (monitor, gateway) are picked at random, so
# test runs in several checkouts do not collide.

PL_S3_KEY=PARLEYTESTKEY
PL_S3_SECRET=parleytestsecret

pl_s3_paths() {
  PL_S3_DIR=$PARLEY_DATA/s3
  PL_S3_CONF=$PL_S3_DIR/ceph.conf
}

# pl_s3_stop: stop our gateway, OSD and monitor (by their pid files), if they run.
pl_s3_stop() {
  pl_s3_paths
  local f pid
  for f in "$PL_S3_DIR"/run/client.rgw.pid "$PL_S3_DIR"/run/osd.0.pid "$PL_S3_DIR"/run/mon.a.pid; do
    pid=$(cat "$f" 2>/dev/null || true)
    rm -f "$f"
    [[ $pid =~ ^[0-9]+$ ]] || continue
    case $(cat "/proc/$pid/comm" 2>/dev/null || true) in
      ceph-mon | ceph-osd | radosgw)
        kill -TERM "$pid" 2>/dev/null || true
        pl_wait_gone "$pid" 10
        ;;
    esac
  done
}

# pl_s3_port START: print the first port from START on that nobody listens on, checking pairs.
pl_s3_port() {
  local p=$1 i
  for ((i = 0; i < 200; i++, p += 2)); do
    pl_port_busy "$p" || pl_port_busy "$((p + 1))" || {
      echo "$p"
      return 0
    }
  done
  return 1
}

pl_s3_conf() {
  cat >"$PL_S3_CONF" <<EOC
[global]
fsid = $1
mon host = v1:127.0.0.1:$2
auth cluster required = none
auth service required = none
auth client required = none
ms bind ipv6 = false
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon data avail warn = 1
mon data avail crit = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 1073741824
run dir = $PL_S3_DIR/run
admin socket = $PL_S3_DIR/run/\$name.asok
log file = $PL_S3_DIR/\$name.log
pid file = $PL_S3_DIR/run/\$name.pid
mon data = $PL_S3_DIR/mon
osd data = $PL_S3_DIR/osd
rgw frontends = beast endpoint=127.0.0.1:$3
EOC
}

# pl_s3_wait URL SECONDS: wait until something answers HTTP at URL.
pl_s3_wait() {
  local i code
  for ((i = 0; i < $2 * 4; i++)); do
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true)
    [[ $code != 000 && -n $code ]] && return 0
    sleep 0.25
  done
  return 1
}

# pl_s3_osd_new UUID: register the OSD, set id. The monitor refuses commands (EPERM) until it
# has formed its quorum of one, a second or so after it started.
pl_s3_osd_new() {
  local i
  for ((i = 0; i < 120; i++)); do
    id=$(timeout 10 ceph -c "$PL_S3_CONF" osd new "$1" 2>/dev/null) && return 0
    sleep 0.25
  done
  return 1
}

# pl_s3_start: start the cluster and gateway; set PL_S3_ENDPOINT (http://127.0.0.1:PORT), with a
# user whose keys are PL_S3_KEY / PL_S3_SECRET. Up to three tries on new ports (a port can be
# taken between the check and the bind). Returns non-zero, after saying why, on failure.
pl_s3_start() {
  local try
  for try in 1 2 3; do
    pl_s3_start_once && return 0
    pl_warn "the S3 server did not start (try $try of 3)"
  done
  pl_s3_stop
  return 1
}

pl_s3_start_once() {
  command -v radosgw >/dev/null 2>&1 || {
    pl_warn "radosgw is not installed (PL_APT_TEST_PKGS lists it)"
    return 1
  }
  pl_s3_stop
  pl_s3_paths
  rm -rf "$PL_S3_DIR"
  mkdir -p "$PL_S3_DIR"/mon "$PL_S3_DIR"/osd "$PL_S3_DIR"/run
  local base fsid uuid id
  # A new port pair each time: a daemon of an earlier cluster that is still shutting down (an
  # OSD writing out its memstore) must not be reached by the new one ('wrong fsid').
  # Below 32768, where Linux hands out no ephemeral ports.
  base=$((RANDOM % 6000 * 2 + 20000))
  base=$(pl_s3_port "$base") || {
    pl_warn "no free port pair for the S3 server"
    return 1
  }
  fsid=$(cat /proc/sys/kernel/random/uuid)
  uuid=$(cat /proc/sys/kernel/random/uuid)
  pl_s3_conf "$fsid" "$base" "$((base + 1))"
  local log=$PL_S3_DIR/start.log c=(-c "$PL_S3_CONF")
  {
    monmaptool --create --add a "v1:127.0.0.1:$base" --fsid "$fsid" "$PL_S3_DIR/monmap" &&
      ceph-mon "${c[@]}" --mkfs -i a --monmap "$PL_S3_DIR/monmap" &&
      ceph-mon "${c[@]}" -i a &&
      pl_s3_osd_new "$uuid" &&
      ceph-osd "${c[@]}" -i "$id" --mkfs --osd-uuid "$uuid"
  } >"$log" 2>&1 9>&- 8>&- || {
    pl_warn "the Ceph monitor or OSD did not start; see $log"
    return 1
  }
  # The OSD and the gateway stay in the foreground of a background job: ceph-osd's own
  # daemonizing exited 1 on this machine with nothing in its log.
  ceph-osd "${c[@]}" -i "$id" -f >>"$log" 2>&1 9>&- 8>&- </dev/null &
  echo $! >"$PL_S3_DIR/run/osd.0.pid"
  radosgw "${c[@]}" -n client.rgw -f >>"$log" 2>&1 9>&- 8>&- </dev/null &
  echo $! >"$PL_S3_DIR/run/client.rgw.pid"
  PL_S3_ENDPOINT=http://127.0.0.1:$((base + 1))
  pl_s3_wait "$PL_S3_ENDPOINT/" 120 || {
    pl_warn "the RADOS Gateway did not answer on $PL_S3_ENDPOINT; see $log and $PL_S3_DIR/*.log"
    return 1
  }
  timeout 60 radosgw-admin "${c[@]}" user create --uid=parley --display-name=parley \
    --access-key="$PL_S3_KEY" --secret-key="$PL_S3_SECRET" >>"$log" 2>&1 9>&- 8>&- || {
    pl_warn "radosgw-admin user create failed; see $log"
    return 1
  }
}
