#!/usr/bin/env bash
# A single-node Ceph cluster with a RADOS Gateway: a real S3 server with Object Lock on 127.0.0.1,
# for Capstone's tests and benchmarks. Not a production cluster (one OSD, no redundancy, no
# authentication between the daemons, which therefore listen on 127.0.0.1 only).
# Debian packages: ceph-mon ceph-osd ceph-common radosgw (and curl). No ceph-mgr: S3 does not need it.
#
#   deploy/ceph/rgw.sh start DIR [PORT]   create (first time) or restart the cluster kept in DIR and
#                                         print `export AWS_...` lines for its S3 endpoint
#   deploy/ceph/rgw.sh stop DIR           stop its daemons by their pid files (TERM, then KILL)
#   deploy/ceph/rgw.sh status DIR         say whether it answers; list its daemons
#
# Everything (config, data, logs, sockets, pid files) lives under DIR. COMPLIANCE-locked objects can
# only be removed by deleting DIR after `stop`. The S3 port (default 7480) is remembered in DIR.
# A second cluster on the same machine (another checkout) needs other ports: when a new cluster is
# created, a default port that is taken is replaced by a free one the system picks (or set
# CAPSTONE_TEST_CEPH_MON_PORT, default 3300, CAPSTONE_TEST_CEPH_MON_V1_PORT, default 6789, and PORT);
# an existing cluster whose remembered S3 port is taken moves to a free one. A running cluster is
# reused only when its daemons are provably DIR's (their pid files and command lines name DIR's
# config) and its gateway answers.
set -euo pipefail

ACCESS_KEY=${CAPSTONE_TEST_S3_ACCESS_KEY:-capstonetestaccess}
SECRET_KEY=${CAPSTONE_TEST_S3_SECRET_KEY:-capstonetestsecret0123456789}
REGION=${CAPSTONE_TEST_S3_REGION:-us-east-1}
MON_PORT=${CAPSTONE_TEST_CEPH_MON_PORT:-}
MON_V1_PORT=${CAPSTONE_TEST_CEPH_MON_V1_PORT:-}

die() { echo "rgw.sh: $*" >&2; exit 1; }
usage() { die "usage: rgw.sh start DIR [PORT] | stop DIR | status DIR"; }

[ $# -ge 2 ] || usage
cmd=$1
case $cmd in start | stop | status) ;; *) usage ;; esac
dir=$(mkdir -p "$2" && cd "$2" && pwd)
conf=$dir/ceph.conf
run=$dir/run
log=$dir/log
saved_port=$(cat "$dir/port" 2>/dev/null || true)
port_arg=${3:-}
port=${3:-${saved_port:-7480}}
[[ $port =~ ^[0-9]+$ ]] || die "not a port number: $port"
endpoint=http://127.0.0.1:$port

# name of each daemon, in start order: pid file run/ceph-NAME.pid, log log/ceph-NAME.log
DAEMONS=(mon.a osd.0 client.rgw.a)

pid_file() { echo "$run/ceph-$1.pid"; }
log_file() { echo "$log/ceph-$1.log"; }
pid_of() { cat "$(pid_file "$1")" 2>/dev/null || true; }
# A process that runs (not a zombie: its command line is empty) with this cluster's config file: a pid
# file may outlive its daemon (SIGKILL) and its pid be reused.
running() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF -- "-c $conf "; }
alive() { local pid; pid=$(pid_of "$1"); [ -n "$pid" ] && running "$pid"; }

answers() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$endpoint/" 2>/dev/null | grep -q '^[2-4]'; }
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# pick_port DEFAULT: DEFAULT when it is free, else a free port the system picks.
pick_port() { if port_taken "$1"; then free_port; else echo "$1"; fi; }

print_exports() {
  echo "export AWS_ENDPOINT_URL=$endpoint"
  echo "export AWS_ACCESS_KEY_ID=$ACCESS_KEY"
  echo "export AWS_SECRET_ACCESS_KEY=$SECRET_KEY"
  echo "export AWS_DEFAULT_REGION=$REGION"
}

# wait_for SECONDS NAME DESCRIPTION COMMAND...: poll COMMAND until it succeeds; fail early, naming the
# log, if the daemon NAME exits meanwhile (its pid file names a dead process for 2 s: a starting daemon
# writes the pid of its parent first, then forks and writes its own).
wait_for() {
  local seconds=$1 name=$2 what=$3
  shift 3
  local deadline=$((SECONDS + seconds)) dead=0
  until "$@" >/dev/null 2>&1; do
    if [ -f "$(pid_file "$name")" ] && ! alive "$name"; then
      dead=$((dead + 1))
      [ $dead -lt 4 ] || die "$what failed: ceph-$name exited; see $(log_file "$name")"
    else
      dead=0
    fi
    [ $SECONDS -lt $deadline ] || die "$what did not succeed within ${seconds}s; see $(log_file "$name")"
    sleep 0.5
  done
}

ceph_cli() { timeout 20 ceph -c "$conf" --connect-timeout 5 "$@"; }
mon_up() { ceph_cli mon stat; }
osd_up() { ceph_cli osd stat | grep -q '1 up'; }

# start_daemon NAME COMMAND...: start a daemon (it forks and writes its pid file) unless it runs.
start_daemon() {
  local name=$1
  shift
  alive "$name" && return 0
  rm -f "$(pid_file "$name")"
  "$@" >>"$log/start.log" 2>&1 || die "ceph-$name did not start; see $(log_file "$name") and $log/start.log"
}

write_conf() {
  cat >"$conf" <<EOF
[global]
fsid = $1
mon host = [v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_V1_PORT]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = false
mon warn on pool no redundancy = false
mon osd full ratio = 0.97
mon osd nearfull ratio = 0.95
run dir = $run
admin socket = $run/\$cluster-\$name.asok
log file = $log/\$cluster-\$name.log
pid file = $run/\$cluster-\$name.pid
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
keyring = $dir/keyring
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 21474836480
bluestore fsck on mount = false
osd memory target = 1073741824

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw data = $dir/rgw
rgw dns name = 127.0.0.1
# radosgw's built-in default (secure) cannot talk to monitors without authentication
ms mon client mode = crc secure
EOF
}

check_ports_free() {
  local p
  for p in "$@"; do
    ! port_taken "$p" || die "port $p on 127.0.0.1 is in use by another program (another cluster?): \
choose other ports (rgw.sh start DIR PORT; CAPSTONE_TEST_CEPH_MON_PORT / _MON_V1_PORT for a new DIR)"
  done
}

start_cluster() {
  if ! alive mon.a; then
    local mon_ports
    mon_ports=$(sed -n 's/^mon host = .*:\([0-9]*\),v1:127.0.0.1:\([0-9]*\)]$/\1 \2/p' "$conf")
    # shellcheck disable=SC2086
    check_ports_free $mon_ports
  fi
  start_daemon mon.a ceph-mon -c "$conf" -i a
  wait_for 30 mon.a "ceph-mon" mon_up
  start_daemon osd.0 ceph-osd -c "$conf" -i 0
  wait_for 60 osd.0 "ceph-osd" osd_up
  if ! alive client.rgw.a; then
    check_ports_free "$port"
  fi
  start_daemon client.rgw.a radosgw -c "$conf" -n client.rgw.a
}

create_cluster() {
  local fsid osd_uuid
  # Ports asked for explicitly are used as given (and refused below when taken); defaults that are
  # taken (another checkout's cluster) give way to free ports.
  [ -n "$MON_PORT" ] || MON_PORT=$(pick_port 3300)
  [ -n "$MON_V1_PORT" ] || MON_V1_PORT=$(pick_port 6789)
  [ "$MON_V1_PORT" != "$MON_PORT" ] || MON_V1_PORT=$(free_port)
  if [ -z "$port_arg" ]; then port=$(pick_port "$port"); fi
  endpoint=http://127.0.0.1:$port
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  mkdir -p "$run" "$log" "$dir/mon/ceph-a" "$dir/osd/ceph-0" "$dir/rgw"
  write_conf "$fsid"
  echo "$port" >"$dir/port"
  check_ports_free "$MON_PORT" "$MON_V1_PORT" "$port"
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_V1_PORT]" \
    "$dir/monmap" >>"$log/start.log" 2>&1 || die "monmaptool failed; see $log/start.log"
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >>"$log/start.log" 2>&1 \
    || die "ceph-authtool failed; see $log/start.log"
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" >>"$log/start.log" 2>&1 \
    || die "ceph-mon --mkfs failed; see $(log_file mon.a)"
  start_daemon mon.a ceph-mon -c "$conf" -i a
  wait_for 30 mon.a "ceph-mon" mon_up
  ceph_cli osd new "$osd_uuid" >>"$log/start.log" 2>&1 || die "ceph osd new failed; see $log/start.log"
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" --no-mon-config >>"$log/start.log" 2>&1 \
    || die "ceph-osd --mkfs failed; see $(log_file osd.0)"
  start_cluster
  # radosgw creates its pools on first start; the user can be created once they exist.
  wait_for 90 client.rgw.a "creating the S3 user" make_user
  touch "$dir/ready"
}

make_user() {
  local admin=(timeout 30 radosgw-admin -c "$conf" -n client.rgw.a)
  "${admin[@]}" user info --uid=capstone-test >/dev/null 2>&1 \
    || "${admin[@]}" user create --uid=capstone-test --display-name="Capstone tests" \
      --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY"
}

stop_cluster() {
  local i name pid
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do # reverse order: gateway, osd, monitor
    name=${DAEMONS[i]}
    alive "$name" || { rm -f "$(pid_file "$name")"; continue; }
    pid=$(pid_of "$name")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      running "$pid" || break
      sleep 0.25
    done
    if running "$pid"; then
      echo "rgw.sh: ceph-$name (pid $pid) ignored TERM for 15s: killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$(pid_file "$name")"
  done
}

case $cmd in
  start)
    for tool in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool ceph curl; do
      command -v "$tool" >/dev/null \
        || die "$tool not found: install the Debian packages ceph-mon ceph-osd ceph-common radosgw curl"
    done
    if [ -f "$dir/ready" ]; then
      if alive client.rgw.a && alive osd.0 && alive mon.a && answers; then
        print_exports
        exit 0
      fi
      if [ -z "$port_arg" ] && ! alive client.rgw.a && port_taken "$port"; then
        port=$(free_port) # its remembered S3 port is taken meanwhile (another checkout's gateway)
        endpoint=http://127.0.0.1:$port
      fi
      if [ "$port" != "$saved_port" ]; then # started before on another port
        alive client.rgw.a && die "the gateway of $dir runs on port $saved_port: stop it first"
        sed -i "s/^rgw frontends = .*/rgw frontends = beast endpoint=127.0.0.1:$port/" "$conf"
        echo "$port" >"$dir/port"
      fi
      start_cluster
    else
      # A half-made cluster (an interrupted first start) is made again from nothing.
      stop_cluster
      rm -rf "${dir:?}"/{run,log,mon,osd,rgw,monmap,keyring,ceph.conf,port}
      create_cluster
    fi
    wait_for 60 client.rgw.a "radosgw on $endpoint" answers
    print_exports
    ;;
  stop)
    stop_cluster
    ;;
  status)
    for name in "${DAEMONS[@]}"; do
      if alive "$name"; then
        pid=$(pid_of "$name")
        echo "ceph-$name: pid $pid, $(awk '/^VmRSS/ {print $2 " " $3}' "/proc/$pid/status" 2>/dev/null) RSS"
      else
        echo "ceph-$name: not running"
      fi
    done
    if alive client.rgw.a && answers; then echo "S3 endpoint: $endpoint"; else
      echo "S3 endpoint $endpoint: not answering"
      exit 1
    fi
    ;;
esac
