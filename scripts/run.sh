#!/usr/bin/env bash
# Installs what is missing, builds trunkrouted in ./build and runs it in the foreground on
# ./data (first start: the embedded default config, deploy/trunkroute.example.json), together
# with the two demo trunks that config routes to: SIPp answering calls and OPTIONS probes
# (deploy/demo/sipp/trunk.xml) on 127.0.0.1:5081 (demo-primary) and :5082 (demo-backup). Ctrl-C
# or SIGTERM stops trunkrouted gracefully, then the demo trunks.
#
# Extra arguments go to trunkrouted, e.g. ./scripts/run.sh --grpc-listen 127.0.0.1:50052
# (--no-demo-trunks, anywhere among them, is taken by this script: same as DEMO_TRUNKS=0).
# Environment:
#   BUILD_DIR     build directory (default ./build)
#   DATA_DIR      trunkrouted's data directory (default ./data)
#   DEMO_TRUNKS   1 (default): start the demo trunks; 0: trunkrouted alone, for your own trunks
#   DEMO_DIR      the demo trunks' logs and pid files (default $BUILD_DIR/demo):
#                 demo-primary.pid, demo-backup.pid (kill one to watch a failover), *.log
#   TRUNKROUTE_DEMO_PORT_BASE
#                 unset: the documented ports (SIP 5060, trunks 5081/5082, gRPC 50051, HTTP
#                 9464). Set to N: every port of the demo moves to N + offset (SIP N+60, trunks
#                 N+81/N+82, gRPC N+51, HTTP N+64, trunk media N+100/N+110), and a first start
#                 stores the example config with the trunks on those ports; for several copies
#                 side by side (the test suite runs this script so), each with its own DATA_DIR.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD_DIR="${BUILD_DIR:-$REPO_ROOT/build}"
DATA_DIR="${DATA_DIR:-$REPO_ROOT/data}"
DEMO_TRUNKS="${DEMO_TRUNKS:-1}"
DEMO_DIR="${DEMO_DIR:-$BUILD_DIR/demo}"

daemon_args=()
for arg in "$@"; do
  if [[ "$arg" == --no-demo-trunks ]]; then
    DEMO_TRUNKS=0
  else
    daemon_args+=("$arg")
  fi
done
if [[ "$DEMO_TRUNKS" != 0 && "$DEMO_TRUNKS" != 1 ]]; then
  echo "error: DEMO_TRUNKS must be 0 or 1, not '$DEMO_TRUNKS'" >&2
  exit 2
fi

if [[ "$DEMO_TRUNKS" == 1 ]]; then
  ensure_packages "${TRUNKROUTE_PACKAGES[@]}" "${TRUNKROUTE_DEMO_PACKAGES[@]}"
else
  ensure_packages "${TRUNKROUTE_PACKAGES[@]}"
fi
configure_build "$BUILD_DIR"
log "building trunkrouted"
cmake --build "$BUILD_DIR" --target trunkrouted -j "$(build_jobs)"

primary_port=5081
backup_port=5082
primary_media=6000
backup_media=6010
port_args=()
if [[ -n "${TRUNKROUTE_DEMO_PORT_BASE:-}" ]]; then
  base="$TRUNKROUTE_DEMO_PORT_BASE"
  if ! [[ "$base" =~ ^[0-9]+$ ]] || ((base < 1024 || base > 65000)); then
    echo "error: TRUNKROUTE_DEMO_PORT_BASE must be a port number in 1024-65000, not '$base'" >&2
    exit 2
  fi
  primary_port=$((base + 81))
  backup_port=$((base + 82))
  primary_media=$((base + 100))
  backup_media=$((base + 110))
  mkdir -p "$DEMO_DIR"
  # The embedded default with the demo trunks on the moved ports; read only on a first start.
  sed -e "s/\"port\": 5081/\"port\": $primary_port/" -e "s/\"port\": 5082/\"port\": $backup_port/" \
    "$REPO_ROOT/deploy/trunkroute.example.json" >"$DEMO_DIR/bootstrap.json"
  port_args=(--sip-listen "127.0.0.1:$((base + 60))" --grpc-listen "127.0.0.1:$((base + 51))"
             --http-listen "127.0.0.1:$((base + 64))" --bootstrap-config "$DEMO_DIR/bootstrap.json")
fi

daemon=("$BUILD_DIR/bin/trunkrouted" --data-dir "$DATA_DIR" "${port_args[@]}" "${daemon_args[@]}")
if [[ "$DEMO_TRUNKS" == 0 ]]; then
  log "starting trunkrouted (data dir $DATA_DIR) without demo trunks; Ctrl-C or SIGTERM stops it"
  exec "${daemon[@]}"
fi

# ---- with the demo trunks: this shell stays, to stop them after trunkrouted ----
mkdir -p "$DEMO_DIR"
children=()
daemon_pid=""
cleanup() {
  local pid
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  for pid in "${children[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${children[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -f "$DEMO_DIR/demo-primary.pid" "$DEMO_DIR/demo-backup.pid"
}
trap cleanup EXIT

udp_bound() {  # udp_bound PORT: a socket is bound to PORT/udp (any local IPv4 address)
  grep -q ":$(printf '%04X' "$1") 00000000:0000 07" /proc/net/udp 2>/dev/null
}

start_trunk() {  # start_trunk NAME PORT MEDIA_PORT
  local name="$1" port="$2" media="$3" pid
  if udp_bound "$port"; then
    echo "error: udp 127.0.0.1:$port is in use: stop what listens there (an earlier run?)," \
      "or run without demo trunks (DEMO_TRUNKS=0)" >&2
    exit 1
  fi
  # stdin closed and no screen (-nostdin, stdout discarded): sipp runs until it is killed.
  sipp -sf "$REPO_ROOT/deploy/demo/sipp/trunk.xml" -i 127.0.0.1 -p "$port" -mp "$media" \
    -nostdin </dev/null >/dev/null 2>"$DEMO_DIR/$name.log" &
  pid=$!
  children+=("$pid")
  for _ in $(seq 100); do
    udp_bound "$port" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if ! kill -0 "$pid" 2>/dev/null || ! udp_bound "$port"; then
    echo "error: demo trunk $name did not start on udp 127.0.0.1:$port:" >&2
    cat "$DEMO_DIR/$name.log" >&2
    exit 1
  fi
  echo "$pid" >"$DEMO_DIR/$name.pid"
}

if [[ -f "$DATA_DIR/config.json" ]] && ! grep -q '"demo-primary"' "$DATA_DIR/config.json" 2>/dev/null; then
  log "note: the config stored in $DATA_DIR has no demo trunks; starting them anyway" \
    "(DEMO_TRUNKS=0 runs without them)"
fi
start_trunk demo-primary "$primary_port" "$primary_media"
start_trunk demo-backup "$backup_port" "$backup_media"
log "demo trunks: demo-primary on udp 127.0.0.1:$primary_port" \
  "(pid $(cat "$DEMO_DIR/demo-primary.pid")), demo-backup on udp 127.0.0.1:$backup_port" \
  "(pid $(cat "$DEMO_DIR/demo-backup.pid")); logs and pid files in $DEMO_DIR"

log "starting trunkrouted (data dir $DATA_DIR); Ctrl-C or SIGTERM stops it and the demo trunks"
"${daemon[@]}" &
daemon_pid=$!
# Ctrl-C reaches this shell and trunkrouted alike; a SIGTERM sent to this script only this shell:
# either way trunkrouted gets one SIGTERM and shuts down gracefully, then the trunks are stopped.
trap 'kill -TERM "$daemon_pid" 2>/dev/null || true' INT TERM HUP
status=0
while :; do
  wait "$daemon_pid" && status=0 || status=$?
  kill -0 "$daemon_pid" 2>/dev/null || break  # still running: the wait was cut by a signal
done
daemon_pid=""
exit "$status"
