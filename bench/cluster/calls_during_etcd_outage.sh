#!/usr/bin/env bash
# Calls through instance B of a two-instance cluster while etcd fails under it (docs/benchmarks.md,
# "Cluster"). A three-member etcd on loopback, trunkrouted A and B in etcd mode, two SIPp trunks,
# a SIPp dialer at RATE calls/s through B for DURATION seconds, and a config write on A every
# 0.5 s. At 1/4 of the run etcd's leader is killed (kill -9); at 1/2 every member is killed; at
# 3/4 they are started again. Every process is bounded by a timeout and stopped by PID.
#
#   TRUNKROUTE_BUILD=build bench/cluster/calls_during_etcd_outage.sh [RATE] [DURATION_S]
#
# Prints: calls placed, answered, failed, calls with PDD > 200 ms ("delayed"), and the config
# writes on A that succeeded / failed per phase. Ports 16000-16099 and 17000-17099 on 127.0.0.1.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${TRUNKROUTE_BUILD:-$here/../../build}
trunks=${BENCH_TRUNKS:-$here/../../../shared/bench/trunks}
rate=${1:-200}
duration=${2:-40}
calls=$((rate * duration))
[ -f "$trunks/uas_ok.xml" ] || { echo "no SIPp scenarios in $trunks (set BENCH_TRUNKS to ../shared/bench/trunks)" >&2; exit 1; }
out=$(mktemp -d /tmp/trunkroute-etcd-outage-XXXXXX)
cd "$out" || exit 1
pids=()
# kill -9 a process started under `timeout`, and `timeout` itself.
kill_tree() { pkill -9 -P "$1" 2>/dev/null; kill -9 "$1" 2>/dev/null; }
cleanup() { for p in "${pids[@]}"; do kill_tree "$p"; done; }
trap cleanup EXIT

cluster="m0=http://127.0.0.1:16080,m1=http://127.0.0.1:16081,m2=http://127.0.0.1:16082"
endpoints="http://127.0.0.1:16070,http://127.0.0.1:16071,http://127.0.0.1:16072"
declare -A etcd_pid
start_member() {
  local i=$1
  timeout $((duration + 60)) etcd --name "m$i" --data-dir "etcd$i" \
    --listen-client-urls "http://127.0.0.1:1607$i" --advertise-client-urls "http://127.0.0.1:1607$i" \
    --listen-peer-urls "http://127.0.0.1:1608$i" --initial-advertise-peer-urls "http://127.0.0.1:1608$i" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token bench \
    --heartbeat-interval 50 --election-timeout 500 --logger zap --log-level error \
    >"etcd$i.log" 2>&1 &
  etcd_pid[$i]=$!
  pids+=($!)
}
for i in 0 1 2; do start_member "$i"; done
for _ in $(seq 100); do
  ETCDCTL_API=3 etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done

cat >config.json <<JSON
{"trunks": [{"id": "primary", "host": "127.0.0.1", "port": 17081, "transport": "TRANSPORT_UDP"},
            {"id": "backup", "host": "127.0.0.1", "port": 17082, "transport": "TRANSPORT_UDP"}],
 "routes": [{"id": "all", "priority": 10, "pattern": "\\\\+?\\\\d+", "trunk_ids": ["primary", "backup"]}],
 "failover_policy": {"setup_timeout_ms": 1000}}
JSON
for port in 17081 17082; do
  timeout $((duration + 30)) sipp -sf "$trunks/uas_ok.xml" -i 127.0.0.1 -p "$port" -nostdin \
    -timer_resol 1 </dev/null >"trunk$port.out" 2>&1 &
  pids+=($!)
done
common=(--etcd-endpoints "$endpoints" --etcd-prefix /bench --bootstrap-config config.json
        --http-listen 127.0.0.1:0 --log-level warn)
timeout $((duration + 30)) "$build/bin/trunkrouted" --data-dir a --instance-id a --no-sip \
  --grpc-listen 127.0.0.1:17051 "${common[@]}" </dev/null >a.log 2>&1 &
pids+=($!)
sleep 0.5
timeout $((duration + 30)) "$build/bin/trunkrouted" --data-dir b --instance-id b \
  --grpc-listen 127.0.0.1:17052 --sip-listen 127.0.0.1:17060 "${common[@]}" </dev/null >b.log 2>&1 &
B=$!
pids+=($B)
sleep 2

# Config writes on A every 0.5 s, each logged with its phase and result.
phase=normal
echo normal >phase
(
  i=0
  while [ -f phase ]; do
    p=$(cat phase 2>/dev/null)
    if timeout 5 "$build/cli/trunkroutectl" --server 127.0.0.1:17051 --timeout 3 \
         trunk drain primary >/dev/null 2>&1 &&
       timeout 5 "$build/cli/trunkroutectl" --server 127.0.0.1:17051 --timeout 3 \
         trunk enable primary >/dev/null 2>&1; then
      echo "$p ok" >>writes.log
    else
      echo "$p failed" >>writes.log
    fi
    i=$((i + 1))
    sleep 0.5
  done
) &
pids+=($!)

timeout $((duration + 30)) sipp 127.0.0.1:17060 -sf "$trunks/uac_dialer.xml" -i 127.0.0.1 -p 17070 \
  -nostdin -m "$calls" -r "$rate" -rp 1000 -d 200 -timeout $((duration + 20))s \
  -default_behaviors all,-bye -timer_resol 1 -trace_logs -log_file calls.log -max_log_size 100000000 \
  </dev/null >dialer.out 2>&1 &
D=$!
pids+=($D)

quarter=$((duration / 4))
sleep "$quarter"
leader=$(ETCDCTL_API=3 etcdctl --endpoints "$endpoints" endpoint status -w json 2>/dev/null |
  python3 -c 'import json,sys; s=json.load(sys.stdin); print([e["Endpoint"][-1] for e in s if e["Status"]["leader"]==e["Status"]["header"]["member_id"]][0])')
echo leader_killed >phase
kill_tree "${etcd_pid[$leader]}"
echo "t=${quarter}s: killed etcd leader m$leader"
sleep "$quarter"
echo all_down >phase
for i in 0 1 2; do kill_tree "${etcd_pid[$i]}"; done
echo "t=$((2 * quarter))s: killed every etcd member"
sleep "$quarter"
echo restarted >phase
for i in 0 1 2; do start_member "$i"; done
echo "t=$((3 * quarter))s: restarted every etcd member"
wait "$D"
rm -f phase
sleep 1

python3 - calls.log writes.log <<'PY'
import collections, sys
placed = ok = failed = delayed = 0
for line in open(sys.argv[1]):
    p = line.strip().split(';')
    if p[0] != 'INV':
        continue
    placed += 1
    if p[2] == 'OK':
        ok += 1
        pdd_ms = (float(p[5]) - float(p[3])) * 1000 + (float(p[6]) - float(p[4])) / 1000
        if pdd_ms > 200:
            delayed += 1
    else:
        failed += 1
print(f"calls: placed {placed}, answered {ok}, failed {failed}, PDD > 200 ms {delayed}")
writes = collections.Counter(tuple(l.split()) for l in open(sys.argv[2]) if l.strip())
for phase in ("normal", "leader_killed", "all_down", "restarted"):
    print(f"config writes on A, {phase}: {writes[(phase, 'ok')]} ok, {writes[(phase, 'failed')]} failed")
PY
echo "output in $out"
