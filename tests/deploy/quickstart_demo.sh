#!/usr/bin/env bash
# The quickstart's SIP walkthrough (docs/quickstart.md §3), run as written but on a private port
# range: the example config, the SIPp scenarios of deploy/demo/sipp/, the stand-alone edge.
#   1. a call is answered by demo-primary;
#   2. demo-primary is killed: the next call is answered by demo-backup after one failover, and
#      the primary is ejected (TRANSPORT_ERROR: the INVITE drew an ICMP port unreachable);
#   3. the call after that goes straight to demo-backup (no second failover).
# Usage: quickstart_demo.sh EDGE_HARNESS REPO_ROOT. Fails (never skips) without sipp.
# Bounded: every sipp run has a timeout; every process started here is stopped by PID.
set -euo pipefail

harness="$1"
repo="$2"
base="${TRUNKROUTE_DEMO_PORT_BASE:-37000}"  # tests/sip uses 27000-27999 and 40000+ for media
edge_port=$((base + 60))
dialer_port=$((base + 70))
primary_port=$((base + 81))
backup_port=$((base + 82))
scenarios="$repo/deploy/demo/sipp"

fail() { echo "FAIL: $*" >&2; for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done; exit 1; }
command -v sipp >/dev/null || { echo "FAIL: sipp not found (apt-get install sip-tester)" >&2; exit 1; }
[[ -x "$harness" ]] || { echo "FAIL: edge harness '$harness' not built" >&2; exit 1; }

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

"$harness" --config "$tmp/config.json" --sip-listen "127.0.0.1:$edge_port" --log-level info \
  </dev/null >"$tmp/edge.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  grep -q '"sip edge serving"' "$tmp/edge.log" 2>/dev/null && break
  sleep 0.1
done
grep -q '"sip edge serving"' "$tmp/edge.log" || fail "the edge did not start within 10 s"

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
grep -q '"trunk health state change" trunk=demo-primary from=UP to=DOWN reason=TRANSPORT_ERROR' \
  "$tmp/edge.log" || fail "demo-primary was not ejected with TRANSPORT_ERROR"

call 3 || fail "call 3 was not answered"
[[ "$(invites backup)" == 2 ]] || fail "call 3: demo-backup did not get the INVITE"
[[ "$(grep -c 'failover ' "$tmp/edge.log")" == 1 ]] \
  || fail "call 3 failed over again: the ejected primary was still offered"

echo "quickstart demo: call answered by the primary; after killing it, answered by the backup" \
  "with one failover and the primary ejected; the next call went straight to the backup: OK"
