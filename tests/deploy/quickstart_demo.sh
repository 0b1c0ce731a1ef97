#!/usr/bin/env bash
# docs/quickstart.md as a test: the README's ./scripts/run.sh, run as a user runs it (with its
# demo trunks), on a private port range (TRUNKROUTE_DEMO_PORT_BASE) and data directory.
#   §2  both demo trunks answer probes and are UP; `route explain` shows them in order; drain and
#       enable demo-primary;
#   §3  a SIPp call through the edge is answered by demo-primary; demo-primary is killed (its pid
#       file): the next call fails over to demo-backup (transport_error, the primary ejected,
#       the log line naming its address), the one after goes straight to demo-backup;
#       a number without '+' gets the E.164 hint over gRPC and HTTP;
#       /metrics says the same and passes `promtool check metrics` (PROMTOOL, set by ctest);
#   end SIGTERM stops run.sh, trunkrouted and the demo trunks; `health watch` says the server went
#       away (exit 3); run.sh --no-demo-trunks starts no trunk.
# Usage: quickstart_demo.sh BUILD_DIR TRUNKROUTECTL REPO_ROOT. Fails (never skips) without sipp.
# Bounded: every wait has a deadline; every process started here is stopped by its PID (run.sh
# runs in a session of its own, so its whole process group is ours to stop).
set -euo pipefail

build="$1"
ctl="$2"
repo="$3"
base="${TRUNKROUTE_DEMO_PORT_BASE:-37000}"  # tests/sip uses 27000-27999 and 40000+ for media
grpc="127.0.0.1:$((base + 51))"
http="127.0.0.1:$((base + 64))"
edge_port=$((base + 60))
dialer_port=$((base + 70))
primary_port=$((base + 81))
backup_port=$((base + 82))

tmp="$(mktemp -d)"
run_pid=""
watch_pid=""
fail() {
  echo "FAIL: $*" >&2
  for f in "$tmp"/*.log "$tmp"/*.out "$tmp"/*.err "$tmp"/demo/*.log; do
    [[ -f "$f" ]] && { echo "--- $f" >&2; tail -n 25 "$f" >&2; }
  done
  exit 1
}
cleanup() {
  if [[ -n "$run_pid" ]] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM -- "-$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  [[ -n "$watch_pid" ]] && kill "$watch_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
command -v sipp >/dev/null || { echo "FAIL: sipp not found (apt-get install sip-tester)" >&2; exit 1; }
[[ -x "$build/bin/trunkrouted" ]] || { echo "FAIL: trunkrouted not built in '$build'" >&2; exit 1; }
[[ -x "$ctl" ]] || { echo "FAIL: trunkroutectl '$ctl' not built" >&2; exit 1; }
[[ -n "${PROMTOOL:-}" && -x "${PROMTOOL:-}" ]] \
  || { echo "FAIL: promtool not found at '${PROMTOOL:-}' (scripts/get-promtool.sh)" >&2; exit 1; }

wait_until() {  # wait_until SECONDS COMMAND...: true once COMMAND succeeds, polled every 0.1 s
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }
udp_bound() { grep -q ":$(printf '%04X' "$1") 00000000:0000 07" /proc/net/udp; }
serving() { grep -q '"trunkrouted serving"' "$tmp/run.log" 2>/dev/null; }

start_run() {  # start_run LOG [run.sh arguments...]: run.sh in a session of its own
  local log="$1"
  shift
  DATA_DIR="$tmp/data" DEMO_DIR="$tmp/demo" BUILD_DIR="$build" TRUNKROUTE_DEMO_PORT_BASE="$base" \
    setsid bash "$repo/scripts/run.sh" "$@" </dev/null >"$log" 2>&1 &
  run_pid=$!
}
stop_run() {  # stop_run: SIGTERM to run.sh, as a supervisor sends it; true when it exits 0
  kill -TERM "$run_pid"
  wait_until 30 dead "$run_pid" || fail "run.sh did not stop within 30 s of SIGTERM"
  local rc=0
  wait "$run_pid" || rc=$?
  run_pid=""
  [[ $rc == 0 ]] || fail "run.sh exited $rc after SIGTERM"
}

scrape() {
  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("http://" + sys.argv[1] + "/metrics", timeout=5).read().decode())' \
    "$http" >"$tmp/metrics.txt"
}
series() { awk -v s="$1 " 'index($0, s) == 1 {print $2}' "$tmp/metrics.txt"; }
expect() {  # expect SERIES VALUE
  local got
  got="$(series "$1")"
  [[ "$got" == "$2" ]] || fail "metric $1 is '${got:-absent}', expected $2"
}
probed_alive() {  # probed_alive TRUNK: the trunk answered at least one OPTIONS probe
  scrape 2>/dev/null || return 1
  local n
  n="$(series "trunkroute_probes_total{trunk=\"$1\",result=\"alive\"}")"
  [[ -n "$n" && "$n" != 0 ]]
}
call() {  # call N: one SIPp call through the edge; true when it was answered
  timeout 20 sipp "127.0.0.1:$edge_port" -sf "$repo/deploy/demo/sipp/dialer.xml" -i 127.0.0.1 \
    -p "$dialer_port" -mp $((base + 120)) -m 1 -nostdin </dev/null >"$tmp/dialer-$1.log" 2>&1
}

# ---- §1: ./scripts/run.sh starts trunkrouted and the two demo trunks ----
start_run "$tmp/run.log" --log-level info
wait_until 120 serving || fail "trunkrouted did not start within 120 s"
grep -q "demo trunks: demo-primary on udp 127.0.0.1:$primary_port" "$tmp/run.log" \
  || fail "run.sh did not report the demo trunks"
for trunk in demo-primary demo-backup; do
  [[ -s "$tmp/demo/$trunk.pid" ]] || fail "no pid file for $trunk"
  pid="$(cat "$tmp/demo/$trunk.pid")"
  alive "$pid" && grep -q sipp "/proc/$pid/cmdline" || fail "$trunk (pid $pid) is not a running sipp"
done
primary_pid="$(cat "$tmp/demo/demo-primary.pid")"
backup_pid="$(cat "$tmp/demo/demo-backup.pid")"

# ---- §2: both trunks are UP, and stay so: they answer the probes ----
wait_until 10 probed_alive demo-primary || fail "demo-primary never answered an OPTIONS probe"
wait_until 10 probed_alive demo-backup || fail "demo-backup never answered an OPTIONS probe"
"$ctl" --server "$grpc" health list >"$tmp/health-start.out" 2>&1 || fail "health list failed"
for trunk in demo-primary demo-backup; do
  grep -Eq "^$trunk +up +[^ ]+ +configured +0 +[0-9.]+ms +0 " "$tmp/health-start.out" \
    || fail "health list does not show $trunk up with no ejection: $(cat "$tmp/health-start.out")"
done
"$ctl" --server "$grpc" route explain +15551234567 >"$tmp/explain.out" 2>&1 || fail "route explain failed"
grep -Eq "^1  demo-primary  up     1000        sip:\+15551234567@127.0.0.1:$primary_port$" "$tmp/explain.out" \
  && grep -Eq "^2  demo-backup   up     1000        sip:\+15551234567@127.0.0.1:$backup_port$" "$tmp/explain.out" \
  || fail "route explain does not offer demo-primary then demo-backup, both up: $(cat "$tmp/explain.out")"

"$ctl" --server "$grpc" health watch >"$tmp/watch.out" 2>"$tmp/watch.err" &
watch_pid=$!
"$ctl" --server "$grpc" trunk drain demo-primary >/dev/null || fail "trunk drain failed"
"$ctl" --server "$grpc" route call +15551234567 >"$tmp/drained.out" 2>&1 || fail "route call failed"
grep -Eq '^1  demo-backup ' "$tmp/drained.out" && ! grep -Eq '^2  ' "$tmp/drained.out" \
  && grep -Eq '^demo-primary +draining +DRAINING \(admin\)' "$tmp/drained.out" \
  || fail "a drained demo-primary is still offered: $(cat "$tmp/drained.out")"
"$ctl" --server "$grpc" trunk enable demo-primary >/dev/null || fail "trunk enable failed"

# ---- §3: calls through the edge ----
call 1 || fail "call 1 was not answered"
scrape
expect 'trunkroute_call_attempts_total{trunk="demo-primary",outcome="success"}' 1
expect 'trunkroute_call_attempts_total{trunk="demo-backup",outcome="success"}' 0

kill "$primary_pid"
wait_until 10 dead "$primary_pid" || fail "demo-primary (pid $primary_pid) did not stop"
call 2 || fail "call 2 (primary dead) was not answered"
grep -q 'failover .*route=nanp from=demo-primary to=demo-backup reason=transport_error' "$tmp/run.log" \
  || fail "call 2: no failover line from demo-primary to demo-backup"
grep -q "\"trunk health state change\" trunk=demo-primary from=up to=down reason=transport_error peer=127.0.0.1:$primary_port transport=udp" \
  "$tmp/run.log" || fail "demo-primary's ejection line does not say transport_error and its address"
call 3 || fail "call 3 was not answered"
[[ "$(grep -c 'failover ' "$tmp/run.log")" == 1 ]] \
  || fail "call 3 failed over again: the ejected primary was still offered"
"$ctl" --server "$grpc" health list >"$tmp/health.out" 2>&1 || fail "health list failed"
grep -Eq '^demo-primary +down +[^ ]+ +transport_error ' "$tmp/health.out" \
  || fail "health list does not show demo-primary down (transport_error): $(cat "$tmp/health.out")"

# A number without '+': the same hint from RouteCall (trunkroutectl) and POST /v1/route.
hint="routes match E.164 numbers: did you mean +15551234567 (route 'nanp') or +5551234567 (route 'catch-all')?"
rc=0
"$ctl" --server "$grpc" route call 5551234567 >/dev/null 2>"$tmp/national.err" || rc=$?
[[ $rc == 4 ]] && grep -qF "$hint" "$tmp/national.err" \
  || fail "route call 5551234567: exit $rc, no E.164 hint: $(cat "$tmp/national.err")"
python3 - "$http" "$hint" <<'EOF' || fail "POST /v1/route of 5551234567 gave no 404 with the hint"
import json, sys, urllib.error, urllib.request
req = urllib.request.Request("http://" + sys.argv[1] + "/v1/route", method="POST",
                             data=json.dumps({"dialedNumber": "5551234567"}).encode(),
                             headers={"Content-Type": "application/json"})
try:
    urllib.request.urlopen(req, timeout=5)
    sys.exit("answered 200")
except urllib.error.HTTPError as e:
    body = json.loads(e.read().decode())
    assert e.code == 404, e.code
    assert sys.argv[2] in body["error"]["message"], body
EOF

# /metrics, polled briefly: the last call's legs close just after sipp exits.
for _ in $(seq 50); do
  scrape || fail "GET http://$http/metrics failed"
  [[ "$(series 'trunkroute_active_calls{trunk="demo-backup"}')" == 0 ]] && break
  sleep 0.1
done
expect 'trunkroute_route_decisions_total{route="nanp",result="routed"}' 4  # 3 calls + route call
expect 'trunkroute_route_decisions_total{route="",result="no_route"}' 2
expect 'trunkroute_failovers_total{route="nanp",from="demo-primary",to="demo-backup",reason="transport_error"}' 1
expect 'trunkroute_call_attempts_total{trunk="demo-backup",outcome="success"}' 2
expect 'trunkroute_post_dial_delay_seconds_count{trunk="demo-primary"}' 1
expect 'trunkroute_post_dial_delay_seconds_count{trunk="demo-backup"}' 2
expect 'trunkroute_active_calls{trunk="demo-primary"}' 0
expect 'trunkroute_active_calls{trunk="demo-backup"}' 0
expect 'trunkroute_trunk_health_state{trunk="demo-primary",state="down"}' 1
expect 'trunkroute_trunk_health_state{trunk="demo-backup",state="up"}' 1
expect 'trunkroute_trunk_ejections_total{trunk="demo-primary",reason="transport_error"}' 1
expect 'trunkroute_trunk_health_transitions_total{trunk="demo-primary",from="up",to="down"}' 1
expect 'trunkroute_edge_rejections_total{code="403",reason="source_not_allowed"}' 0
expect 'trunkroute_config_version' 3  # 1 + drain + enable
[[ -n "$(series 'trunkroute_probe_rtt_seconds_bucket{trunk="demo-backup",le="0.0005"}')" ]] \
  || fail "probe RTT has no 0.5 ms bucket"
"$PROMTOOL" check metrics <"$tmp/metrics.txt" >"$tmp/promtool.log" 2>&1 \
  || fail "promtool check metrics on trunkrouted's /metrics: $(cat "$tmp/promtool.log")"

# ---- the end: SIGTERM stops everything run.sh started; the watcher is told ----
stop_run
dead "$backup_pid" || fail "demo-backup (pid $backup_pid) still runs after run.sh stopped"
[[ ! -e "$tmp/demo/demo-backup.pid" ]] || fail "run.sh left its pid files behind"
grep -q 'info stopped' "$tmp/run.log" || fail "trunkrouted did not shut down gracefully"
wait_until 10 dead "$watch_pid" || fail "health watch still runs after the server stopped"
rc=0
wait "$watch_pid" || rc=$?
watch_pid=""
[[ $rc == 3 ]] && grep -q "health watch ended after .* went away (UNAVAILABLE: server shutting down)" "$tmp/watch.err" \
  || fail "health watch exited $rc when the server stopped: $(cat "$tmp/watch.err")"
grep -q ' trunk=demo-primary state=down prev=up reason=transport_error' "$tmp/watch.out" \
  || fail "health watch did not print demo-primary's ejection"

# Without demo trunks: trunkrouted alone, nothing on the trunk ports, nothing to stop but it.
start_run "$tmp/alone.log" --no-demo-trunks --log-level info
wait_until 60 grep -q '"trunkrouted serving"' "$tmp/alone.log" \
  || fail "run.sh --no-demo-trunks: trunkrouted did not start"
! udp_bound "$primary_port" && ! udp_bound "$backup_port" && [[ ! -e "$tmp/demo/demo-primary.pid" ]] \
  || fail "run.sh --no-demo-trunks started demo trunks"
[[ "$(cat "/proc/$run_pid/comm")" == trunkrouted ]] \
  || fail "run.sh --no-demo-trunks should exec trunkrouted, not wait beside it"
stop_run

echo "run.sh demo: both demo trunks UP, route explain and drain as documented; the call was" \
  "answered by demo-primary, then by demo-backup after one failover with demo-primary ejected;" \
  "the E.164 hint over gRPC and HTTP; /metrics agrees; SIGTERM stopped everything: OK"
