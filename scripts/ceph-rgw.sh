#!/usr/bin/env bash
# A throwaway single-node Ceph cluster (1 monitor, 1 in-memory "memstore" OSD, RGW) that
# answers S3 on 127.0.0.1, for the tests of the S3 blob backend. No authentication between
# the daemons; everything lives in DIR and in memory. Needs Debian's ceph-mon, ceph-osd,
# radosgw, ceph-common, uuid-runtime and curl (scripts/install-system.sh installs them).
#
#   scripts/ceph-rgw.sh start DIR MON_PORT RGW_PORT   # prints the endpoint when RGW answers
#   scripts/ceph-rgw.sh stop DIR                      # kills the daemons by their pid files
#
# Distinct DIR and ports let several clusters run side by side (one per pytest-xdist worker).
# S3 keys: $CEPH_RGW_ACCESS_KEY / $CEPH_RGW_SECRET_KEY (default AKTEST / SKTEST).
set -Eeuo pipefail
trap 'echo "ceph-rgw.sh: line $LINENO: \"$BASH_COMMAND\" failed with exit status $?" >&2' ERR

# A command that talks to the monitor, tried again while the monitor is still starting.
retry() {
  local i
  for i in $(seq 40); do
    "$@" && return 0
    sleep 0.5
  done
  "$@"
}

usage() { echo "usage: $0 start DIR MON_PORT RGW_PORT | stop DIR" >&2; exit 2; }

stop() {
  local dir=$1 pidfile pid
  shopt -s nullglob
  for pidfile in "$dir"/run/*.pid; do
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for _ in $(seq 50); do  # up to 5 s for a clean exit, then SIGKILL
    local alive=0
    for pidfile in "$dir"/run/*.pid; do
      pid=$(cat "$pidfile" 2>/dev/null || true)
      [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ $alive -eq 0 ] && return 0
    sleep 0.1
  done
  for pidfile in "$dir"/run/*.pid; do
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
}

start() {
  local dir=$1 mon_port=$2 rgw_port=$3
  local access=${CEPH_RGW_ACCESS_KEY:-AKTEST} secret=${CEPH_RGW_SECRET_KEY:-SKTEST}
  rm -rf "$dir"
  mkdir -p "$dir"/{mon,osd/osd.0,run,log}
  local fsid
  fsid=$(uuidgen)
  cat > "$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon max pg per osd = 2000
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
run dir = $dir/run
log file = $dir/log/\$name.log
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
keyring = $dir/keyring
[mon]
mon data = $dir/mon/\$name
[osd]
osd data = $dir/osd/\$name
osd objectstore = memstore
memstore device bytes = 2147483648
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
CONF
  local c=(-c "$dir/ceph.conf")
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' \
    --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  monmaptool --create --add a "v1:127.0.0.1:$mon_port" --fsid "$fsid" "$dir/monmap" >/dev/null
  ceph-mon "${c[@]}" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring"
  ceph-mon "${c[@]}" -i a
  retry ceph "${c[@]}" --connect-timeout 10 osd create >/dev/null
  ceph-osd "${c[@]}" -i 0 --mkfs 2>"$dir/log/osd-mkfs.err"
  retry ceph-osd "${c[@]}" -i 0 2>>"$dir/log/osd-start.err"
  radosgw "${c[@]}" -n client.rgw.a
  local url="http://127.0.0.1:$rgw_port"
  for _ in $(seq 120); do
    curl -sf -o /dev/null "$url/" && break
    sleep 0.25
  done
  curl -sf -o /dev/null "$url/" || { echo "RGW did not answer at $url" >&2; exit 1; }
  retry radosgw-admin "${c[@]}" user create --uid=test --display-name=test \
    --access-key="$access" --secret="$secret" >/dev/null
  echo "$url"
}

case "${1:-}" in
  start) [ $# -eq 4 ] || usage; start "$2" "$3" "$4" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  *) usage ;;
esac
