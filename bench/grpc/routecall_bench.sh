#!/usr/bin/env bash
# The RouteCall benchmark of docs/benchmarks.md: RouteCall against gRPC's own empty
# grpc.health.v1 Check on the same trunkrouted (same channels, same calls in flight), with the
# server's CPU per call from /proc/PID/stat over a fixed number of calls, and the ratio
# RouteCall/Check. With BASELINE=/path/to/old/trunkrouted, the old and the new server run side by
# side and the repetitions alternate between them (same load generator, same minutes).
#
#   bench/grpc/routecall_bench.sh [BUILD_DIR]           # default ./build-bench (Release)
#   BASELINE=/tmp/old/trunkrouted bench/grpc/routecall_bench.sh build-bench
#   MODE=callgrind BASELINE=... bench/grpc/routecall_bench.sh   # instructions per call instead
#
# Knobs: NEW_ARGS / OLD_ARGS (more trunkrouted flags), REPEATS (3), CALLS per window (100000; callgrind: 10000), CHANNELS (4), DEPTH (8),
# PORT_BASE (50370: gRPC on PORT_BASE and +1, HTTP on +10 and +11, all 127.0.0.1).
# Every window prints one line; the end prints median (range) per server and method.
# MODE=callgrind runs each server under valgrind --tool=callgrind with instrumentation switched
# on only around the measured calls (after a warm-up), and prints the server's instructions per
# call (all its threads, user space only): repeatable on a loaded machine, unlike calls/s.
set -euo pipefail
BUILD_DIR="$(cd "${1:-build-bench}" && pwd)"
LG="$BUILD_DIR/bench/grpc/routecall_loadgen"
NEW="$BUILD_DIR/bin/trunkrouted"
OLD="${BASELINE:-}"
MODE="${MODE:-throughput}"
REPEATS="${REPEATS:-3}"
CHANNELS="${CHANNELS:-4}"
DEPTH="${DEPTH:-8}"
P="${PORT_BASE:-50370}"
WORK="$(mktemp -d)"
trap 'for f in "$WORK"/*.pid; do [[ -e $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

servers=(new)
[[ -n $OLD ]] && servers+=(old)
binary() { if [[ $1 == new ]]; then echo "$NEW"; else echo "$OLD"; fi; }
port() { if [[ $1 == new ]]; then echo "$P"; else echo $((P + 1)); fi; }
# More server flags per side, e.g. NEW_ARGS="--grpc-threads 1".
extra() { if [[ $1 == new ]]; then echo "${NEW_ARGS:-}"; else echo "${OLD_ARGS:-}"; fi; }

start() {  # name [wrapper...]
  local name=$1 port
  shift
  port=$(port "$name")
  "$@" "$(binary "$name")" --data-dir "$WORK/data-$name" --no-sip --grpc-listen "127.0.0.1:$port" \
    --http-listen "127.0.0.1:$((port + 10))" --log-level warn $(extra "$name") \
    > "$WORK/$name.log" 2>&1 &
  echo $! > "$WORK/$name.pid"
  for _ in $(seq 600); do  # valgrind starts slowly
    if (: < "/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "server $name did not start:" >&2
  cat "$WORK/$name.log" >&2
  exit 1
}

lg() {  # name args...
  local name=$1
  shift
  "$LG" --target "127.0.0.1:$(port "$name")" --channels "$CHANNELS" --depth "$DEPTH" "$@"
}

echo "# $(date -u +%FT%TZ) load average at start: $(cat /proc/loadavg)"
echo "# new: $NEW${OLD:+  old: $OLD}  channels x depth: $CHANNELS x $DEPTH"

if [[ $MODE == callgrind ]]; then
  CALLS="${CALLS:-10000}"
  for rep in $(seq "$REPEATS"); do
    for name in "${servers[@]}"; do
      out="$WORK/cg-$name-$rep"
      start "$name" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out.%p"
      pid=$(cat "$WORK/$name.pid")
      lg "$name" --method both --reps 1 --calls 2000 --warmup-s 0 --duration-s 120 > /dev/null
      callgrind_control -i on "$pid" > /dev/null
      for method in route health; do
        # Each dump also zeroes the counters: the next window starts from 0.
        lg "$name" --method "$method" --calls "$CALLS" --warmup-s 0 --duration-s 300 > /dev/null
        callgrind_control -d "$method" "$pid" > /dev/null
        file=$(grep -l "Trigger: dump $method" "$out".* | tail -1)
        ir=$(awk '/^summary:/ {print $2}' "$file")
        echo "callgrind rep=$rep server=$name method=$method calls=$CALLS" \
          "server_instructions_per_call=$((ir / CALLS)) load=$(cut -d' ' -f1 /proc/loadavg)"
      done
      kill "$pid"
      wait "$pid" 2>/dev/null || true
      rm -f "$WORK/$name.pid" "$out".*
    done
  done | tee "$WORK/lines"
  summary_keys=(server_instructions_per_call)
else
  CALLS="${CALLS:-100000}"
  for name in "${servers[@]}"; do start "$name"; done
  for rep in $(seq "$REPEATS"); do
    for name in "${servers[@]}"; do
      # One RouteCall window and one Check window per invocation: the ratio is in every run.
      lg "$name" --method both --reps 1 --calls "$CALLS" --warmup-s 1 --duration-s 60 \
        --server-pid "$(cat "$WORK/$name.pid")" |
        awk -v s="$name" -v r="$rep" '/^window / {sub(/rep=1/, "rep=" r); print "server=" s, $0}
          /^ratio / {print "server=" s, "rep=" r, $0}'
    done
  done | tee "$WORK/lines"
  summary_keys=(calls_per_s p50_us p99_us server_cpu_us_per_call)
fi

# Median (range) per server and method of each key.
echo "# load average at end: $(cat /proc/loadavg)"
for name in "${servers[@]}"; do
  for method in route health; do
    line="summary server=$name method=$method"
    for key in "${summary_keys[@]}"; do
      vals=$(grep "server=$name" "$WORK/lines" | grep "method=$method " |
        grep -o " $key=[0-9.]*" | cut -d= -f2 | sort -g)
      [[ -z $vals ]] && continue
      n=$(wc -l <<<"$vals")
      med=$(sed -n "$(((n + 1) / 2))p" <<<"$vals")
      line+=" $key=$med ($(head -1 <<<"$vals")-$(tail -1 <<<"$vals"))"
    done
    echo "$line"
  done
done
