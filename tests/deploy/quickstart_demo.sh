#!/usr/bin/env bash
# The quickstart's SIP walkthrough (docs/quickstart.md §3), run as written but on a private port
# range: the example config, the SIPp scenarios of deploy/demo/sipp/, the whole trunkrouted.
#   1. a call is answered by demo-primary;
#   2. demo-primary is killed: the next call is answered by demo-backup after one failover, and
#      the primary is ejected (transport_error: the INVITE drew an ICMP port unreachable);
#   3. the call after that goes straight to demo-backup (no second failover);
#   4. what an operator then sees: `trunkroutectl health list` and the daemon's /metrics
#      (decisions, the failover, post-dial delay, active calls back to 0, the primary DOWN),
#      which must also pass `promtool check metrics` (PROMTOOL, set by ctest).
# Usage: quickstart_demo.sh TRUNKROUTED TRUNKROUTECTL REPO_ROOT. Fails (never skips) without sipp.
# Bounded: every sipp run has a timeout; every process started here is stopped by PID.
set -euo pipefail

daemon="$1"
ctl="$2"
repo="$3"
base="${TRUNKROUTE_DEMO_PORT_BASE:-37000}"  # tests/sip uses 27000-27999 and 40000+ for media
edge_port=$((base + 60))
dialer_port=$((base + 70))
primary_port=$((base + 81))
backup_port=$((base + 82))
scenarios="$repo/deploy/demo/sipp"

fail() { echo "FAIL: $*" >&2; for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done; exit 1; }
command -v sipp >/dev/null || { echo "FAIL: sipp not found (apt-get install sip-tester)" >&2; exit 1; }
[[ -x "$daemon" ]] || { echo "FAIL: trunkrouted '$daemon' not built" >&2; exit 1; }
[[ -x "$ctl" ]] || { echo "FAIL: trunkroutectl '$ctl' not built" >&2; exit 1; }

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

sed -e "s/\"port\": 5081/\"port\": $primary_port/" -e "s/\"port\": 5082/\"port\": $backup_port/" \
  "$repo/deploy/trunkroute.example.json" >"$tmp/config.json"
grep -q "\"port\": $primary_port" "$tmp/config.json" && grep -q "\"port\": $backup_port" "$tmp/config.json" \
  || fail "could not move the example config's trunk ports (did deploy/trunkroute.example.json change?)"

trunk() {  # trunk NAME PORT MEDIA_PORT
  sipp -sf "$scenarios/trunk.xml" -i 127.0.0.1 -p "$2" -mp "$3" -trace_logs \
    -log_file "$tmp/$1-calls.log" -nostdin </dev/null >"$tmp/$1.log" 2>&1 &
  pids+=($!)
}
trunk primary "$primary_port" $((base + 100))
primary_pid=${pids[-1]}
trunk backup "$backup_port" $((base + 110))
backup_pid=${pids[-1]}

# A trunk that could not bind its port would turn the checks below into nonsense: wait for both.
udp_bound() { grep -q ":$(printf '%04X' "$1") 00000000:0000 07" /proc/net/udp; }
for port in "$primary_port" "$backup_port"; do
  for _ in $(seq 100); do udp_bound "$port" && break; sleep 0.1; done
  udp_bound "$port" || fail "no SIPp trunk listening on udp/$port within 10 s"
done
kill -0 "$primary_pid" 2>/dev/null && kill -0 "$backup_pid" 2>/dev/null \
  || fail "a SIPp trunk exited at start (its port or media port in use by another process?)"

# A fresh data dir: the daemon stores the bootstrap config on first start, as run.sh's does with
# the embedded copy of the same file.
"$daemon" --data-dir "$tmp/data" --bootstrap-config "$tmp/config.json" \
  --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --sip-listen "127.0.0.1:$edge_port" \
  --log-level info </dev/null >"$tmp/edge.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  grep -q '"trunkrouted serving"' "$tmp/edge.log" 2>/dev/null && break
  kill -0 "${pids[-1]}" 2>/dev/null || fail "trunkrouted exited at start"
  sleep 0.1
done
serving="$(grep '"trunkrouted serving"' "$tmp/edge.log" || true)"
[[ -n "$serving" ]] || fail "trunkrouted did not start within 20 s"
grpc_addr="$(sed -n 's/.* grpc=\([0-9.:]*\).*/\1/p' <<<"$serving")"
http_addr="$(sed -n 's/.* http=\([0-9.:]*\).*/\1/p' <<<"$serving")"
[[ -n "$grpc_addr" && -n "$http_addr" ]] || fail "no grpc=/http= address in: $serving"

call() {  # call N: one call through the edge; true when it was answered
  timeout 20 sipp "127.0.0.1:$edge_port" -sf "$scenarios/dialer.xml" -i 127.0.0.1 \
    -p "$dialer_port" -mp $((base + 120)) -m 1 -nostdin </dev/null >"$tmp/dialer-$1.log" 2>&1
}
invites() { grep -c '^INV;' "$tmp/$1-calls.log" 2>/dev/null || true; }

call 1 || fail "call 1 was not answered"
[[ "$(invites primary)" == 1 && "$(invites backup)" == 0 ]] \
  || fail "call 1: expected the INVITE at demo-primary only (primary $(invites primary), backup $(invites backup))"

kill "$primary_pid"
wait "$primary_pid" 2>/dev/null || true
call 2 || fail "call 2 (primary dead) was not answered"
[[ "$(invites backup)" == 1 ]] || fail "call 2: demo-backup did not get the INVITE"
grep -q 'failover .*route=nanp from=demo-primary to=demo-backup' "$tmp/edge.log" \
  || fail "call 2: no failover line from demo-primary to demo-backup"
grep -q '"trunk health state change" trunk=demo-primary from=up to=down reason=transport_error peer=127.0.0.1:'"$primary_port"' transport=udp' \
  "$tmp/edge.log" || fail "demo-primary was not ejected with transport_error (naming its address)"

call 3 || fail "call 3 was not answered"
[[ "$(invites backup)" == 2 ]] || fail "call 3: demo-backup did not get the INVITE"
[[ "$(grep -c 'failover ' "$tmp/edge.log")" == 1 ]] \
  || fail "call 3 failed over again: the ejected primary was still offered"

# What the operator sees.
"$ctl" --server "$grpc_addr" health list >"$tmp/health.txt" 2>&1 || fail "trunkroutectl health list failed"
grep -Eq '^demo-primary +down +[^ ]+ +transport_error ' "$tmp/health.txt" \
  || fail "trunkroutectl health list does not show demo-primary down (transport_error): $(cat "$tmp/health.txt")"

# /metrics, polled briefly: the last call's legs close just after sipp exits.
scrape() {
  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("http://" + sys.argv[1] + "/metrics", timeout=5).read().decode())' \
    "$http_addr" >"$tmp/metrics.txt"
}
series() { awk -v s="$1 " 'index($0, s) == 1 {print $2}' "$tmp/metrics.txt"; }
expect() {  # expect SERIES VALUE
  local got
  got="$(series "$1")"
  [[ "$got" == "$2" ]] || fail "metric $1 is '${got:-absent}', expected $2"
}
for _ in $(seq 50); do
  scrape || fail "GET http://$http_addr/metrics failed"
  [[ "$(series 'trunkroute_active_calls{trunk="demo-backup"}')" == 0 ]] && break
  sleep 0.1
done
expect 'trunkroute_route_decisions_total{route="nanp",result="routed"}' 3
expect 'trunkroute_failovers_total{route="nanp",from="demo-primary",to="demo-backup",reason="transport_error"}' 1
expect 'trunkroute_post_dial_delay_seconds_count{trunk="demo-primary"}' 1
expect 'trunkroute_post_dial_delay_seconds_count{trunk="demo-backup"}' 2
expect 'trunkroute_active_calls{trunk="demo-primary"}' 0
expect 'trunkroute_active_calls{trunk="demo-backup"}' 0
expect 'trunkroute_trunk_health_state{trunk="demo-primary",state="down"}' 1
expect 'trunkroute_trunk_ejections_total{trunk="demo-primary",reason="transport_error"}' 1
expect 'trunkroute_grpc_requests_total{method="/trunkroute.v1.HealthService/ListTrunkHealth",code="OK"}' 1
expect 'trunkroute_config_version' 1
# The daemon's own exposition, as Prometheus would read it.
if [[ -z "${PROMTOOL:-}" || ! -x "${PROMTOOL:-}" ]]; then
  fail "promtool not found at '${PROMTOOL:-}' (scripts/get-promtool.sh installs it)"
fi
"$PROMTOOL" check metrics <"$tmp/metrics.txt" >"$tmp/promtool.log" 2>&1 \
  || fail "promtool check metrics on trunkrouted's /metrics: $(cat "$tmp/promtool.log")"

echo "quickstart demo: call answered by the primary; after killing it, answered by the backup" \
  "with one failover and the primary ejected; the next call went straight to the backup;" \
  "health list and /metrics show it: OK"
