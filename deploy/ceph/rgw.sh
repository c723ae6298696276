#!/usr/bin/env bash
# A single-node Ceph cluster with a RADOS Gateway: a real S3 server with Object Lock on 127.0.0.1,
# for Capstone's tests and benchmarks. Not a production cluster (one OSD, no redundancy, no auth
# between daemons). Debian packages: ceph-mon ceph-osd ceph-common radosgw.
#
#   deploy/ceph/rgw.sh start DIR [PORT]   create (first time) or restart the cluster kept in DIR and
#                                         print `export AWS_...` lines for its S3 endpoint
#   deploy/ceph/rgw.sh stop DIR           stop its daemons (TERM, then KILL)
#   deploy/ceph/rgw.sh status DIR         say whether it answers
#
# Everything (config, data, logs, sockets, pid files) lives under DIR. COMPLIANCE-locked objects can
# only be removed by deleting DIR after `stop`.
set -euo pipefail

ACCESS_KEY=${CAPSTONE_TEST_S3_ACCESS_KEY:-capstonetestaccess}
SECRET_KEY=${CAPSTONE_TEST_S3_SECRET_KEY:-capstonetestsecret0123456789}
REGION=${CAPSTONE_TEST_S3_REGION:-us-east-1}
MON_PORT=${CAPSTONE_TEST_CEPH_MON_PORT:-3300}
MON_V1_PORT=${CAPSTONE_TEST_CEPH_MON_V1_PORT:-6789}

die() { echo "rgw.sh: $*" >&2; exit 1; }
usage() { die "usage: rgw.sh start|stop|status DIR [PORT]"; }

[ $# -ge 2 ] || usage
cmd=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
port=${3:-$(cat "$dir/port" 2>/dev/null || echo 7480)}
conf=$dir/ceph.conf
endpoint=http://127.0.0.1:$port

for tool in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool ceph; do
  command -v "$tool" >/dev/null || die "$tool not found: install the Debian packages ceph-mon ceph-osd ceph-common radosgw"
done

answers() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$endpoint/" 2>/dev/null | grep -q '^[2-4]'; }

print_exports() {
  echo "export AWS_ENDPOINT_URL=$endpoint"
  echo "export AWS_ACCESS_KEY_ID=$ACCESS_KEY"
  echo "export AWS_SECRET_ACCESS_KEY=$SECRET_KEY"
  echo "export AWS_DEFAULT_REGION=$REGION"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() {  # wait_for SECONDS DESCRIPTION LOG COMMAND...
  local seconds=$1 what=$2 log=$3; shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what did not come up within ${seconds}s; see $log"
    sleep 0.5
  done
}

write_conf() {
  local fsid=$1
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_V1_PORT]
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
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
run dir = $dir/run
admin socket = $dir/run/\$cluster-\$name.asok
log file = $dir/log/\$cluster-\$name.log
pid file = $dir/run/\$cluster-\$name.pid
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
keyring = $dir/keyring
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 21474836480
bluestore fsck on mount = false
osd memory target = 1073741824
ms mon client mode = crc secure

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw data = $dir/rgw
rgw dns name = 127.0.0.1
ms mon client mode = crc secure
EOF
}

start_daemons() {
  pid_alive "$dir/run/ceph-mon.a.pid" || ceph-mon -c "$conf" -i a
  wait_for 30 "ceph-mon" "$dir/log/ceph-mon.a.log" ceph -c "$conf" --connect-timeout 5 mon stat
  pid_alive "$dir/run/ceph-osd.0.pid" || ceph-osd -c "$conf" -i 0 2>/dev/null
  wait_for 60 "ceph-osd" "$dir/log/ceph-osd.0.log" bash -c "ceph -c '$conf' --connect-timeout 5 osd stat | grep -q '1 up'"
  pid_alive "$dir/run/ceph-client.rgw.a.pid" || radosgw -c "$conf" -n client.rgw.a
}

create_cluster() {
  local fsid osd_uuid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  mkdir -p "$dir/run" "$dir/log" "$dir/mon/ceph-a" "$dir/osd/ceph-0" "$dir/rgw"
  write_conf "$fsid"
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_V1_PORT]" "$dir/monmap" >/dev/null
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" >/dev/null 2>&1 \
    || die "ceph-mon --mkfs failed; see $dir/log/ceph-mon.a.log"
  ceph-mon -c "$conf" -i a
  wait_for 30 "ceph-mon" "$dir/log/ceph-mon.a.log" ceph -c "$conf" --connect-timeout 5 mon stat
  ceph -c "$conf" osd new "$osd_uuid" >/dev/null
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" --no-mon-config >/dev/null 2>&1 \
    || die "ceph-osd --mkfs failed; see $dir/log/ceph-osd.0.log"
  echo "$port" >"$dir/port"
  start_daemons
  wait_for 90 "radosgw user creation" "$dir/log/ceph-client.rgw.a.log" \
    radosgw-admin -c "$conf" -n client.rgw.a user create --uid=capstone-test --display-name="Capstone tests" \
      --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY"
  touch "$dir/ready"
}

case $cmd in
  start)
    if [ -f "$dir/ready" ] && answers; then print_exports; exit 0; fi
    if [ -f "$dir/ready" ]; then
      start_daemons
    else
      # A half-made cluster (interrupted first start) is started over.
      for pid in "$dir"/run/*.pid; do [ -f "$pid" ] && kill -9 "$(cat "$pid")" 2>/dev/null || true; done
      rm -rf "${dir:?}"/{run,log,mon,osd,rgw,monmap,keyring,ceph.conf,port}
      create_cluster
    fi
    wait_for 60 "radosgw" "$dir/log/ceph-client.rgw.a.log" answers
    print_exports
    ;;
  stop)
    for name in client.rgw.a osd.0 mon.a; do
      pid_file=$dir/run/ceph-$name.pid
      if pid_alive "$pid_file"; then
        pid=$(cat "$pid_file")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    ;;
  status)
    if answers; then echo "running: $endpoint"; else echo "not running"; exit 1; fi
    ;;
  *) usage ;;
esac
