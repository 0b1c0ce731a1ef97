#!/usr/bin/env bash
# The API-over-TLS benchmark of docs/benchmarks.md: RouteCall throughput over plaintext, TLS and
# TLS + a scoped token (same load generator, modes alternating, 5 runs each), then connection
# set-up over gRPC (routecall_loadgen --handshakes, with and without a session cache) and HTTPS
# (openssl s_time -new / -reuse, TLS 1.3 and 1.2) with ECDSA and RSA certificates, with the
# server's CPU per connection. Prints one line per run.
#
#   bench/grpc/api_tls_bench.sh [BUILD_DIR]     # default ./build-bench (Release, benchmarks on)
#
# Ports: PORT_BASE (default 50170) .. PORT_BASE+13 on 127.0.0.1. Needs openssl and bc.
set -euo pipefail
BUILD_DIR="$(cd "${1:-build-bench}" && pwd)"
LG="$BUILD_DIR/bench/grpc/routecall_loadgen"
D="$BUILD_DIR/bin/trunkrouted"
P="${PORT_BASE:-50170}"
HZ="$(getconf CLK_TCK)"
WORK="$(mktemp -d)"
trap 'for f in "$WORK"/*.pid; do kill "$(cat "$f")" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
cd "$WORK"

ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
openssl req -x509 "${ec[@]}" -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench CA" 2>/dev/null
for kind in ec rsa; do
  if [[ $kind == ec ]]; then keyargs=("${ec[@]}"); else keyargs=(-newkey rsa:2048); fi
  openssl req -x509 "${keyargs[@]}" -nodes -keyout $kind.key -out $kind.pem -days 2 \
    -subj "/CN=localhost" -CA ca.pem -CAkey ca.key \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
  chmod 600 $kind.key
done
TOKEN="bench-$(openssl rand -hex 24)"
printf 'bench route sha256:%s\n' "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" > tokens
chmod 600 tokens

start() {  # name grpc-port extra-args... (HTTP on grpc-port + 10)
  local name=$1 port=$2
  shift 2
  "$D" --data-dir "data-$name" --no-sip --grpc-listen "127.0.0.1:$port" \
    --http-listen "127.0.0.1:$((port + 10))" --log-level warn "$@" > "$name.log" 2>&1 &
  echo $! > "$name.pid"
}
cpu() { awk -v hz="$HZ" '{print ($14 + $15) / hz}' "/proc/$(cat "$1.pid")/stat"; }
# The number after a label of the load generator's report ("latency p99       1710 us").
field() { awk -v k="$1" 'index($0, k) == 1 && substr($0, length(k) + 1, 1) == " " {
  for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) { print $i; exit } }'; }
load() { cut -d' ' -f1 /proc/loadavg; }
# A key=value of the load generator's window line ("window method=route ... p99_us=1710 ...").
kv() { grep '^window ' | grep -o " $1=[^ ]*" | head -1 | cut -d= -f2; }

start plain $P
start tls $((P + 1)) --api-tls-cert ec.pem --api-tls-key ec.key
start tlstok $((P + 2)) --api-tls-cert ec.pem --api-tls-key ec.key --api-tokens-file tokens
start rsa $((P + 3)) --api-tls-cert rsa.pem --api-tls-key rsa.key
sleep 2
echo "# load average at start: $(cat /proc/loadavg)"

for rep in 1 2 3 4 5; do
  for mode in plain tls tlstok; do
    case $mode in
      plain) args=(--target 127.0.0.1:$P) ;;
      tls) args=(--target 127.0.0.1:$((P + 1)) --tls-ca ca.pem) ;;
      tlstok) args=(--target 127.0.0.1:$((P + 2)) --tls-ca ca.pem --token "$TOKEN") ;;
    esac
    out=$("$LG" "${args[@]}" --method route --duration-s 5 --warmup-s 1 --channels 2 --depth 8)
    echo "throughput rep=$rep mode=$mode calls_per_s=$(kv calls_per_s <<<"$out")" \
      "p50_us=$(kv p50_us <<<"$out") p99_us=$(kv p99_us <<<"$out")" \
      "errors=$(kv errors <<<"$out") load=$(load)"
  done
done

for rep in 1 2 3; do
  for mode in plain tls tls-cache rsa rsa-cache; do
    case $mode in
      plain) n=plain args=(--target 127.0.0.1:$P) ;;
      tls) n=tls args=(--target 127.0.0.1:$((P + 1)) --tls-ca ca.pem) ;;
      tls-cache) n=tls args=(--target 127.0.0.1:$((P + 1)) --tls-ca ca.pem --session-cache) ;;
      rsa) n=rsa args=(--target 127.0.0.1:$((P + 3)) --tls-ca ca.pem) ;;
      rsa-cache) n=rsa args=(--target 127.0.0.1:$((P + 3)) --tls-ca ca.pem --session-cache) ;;
    esac
    c0=$(cpu $n)
    out=$("$LG" "${args[@]}" --handshakes 500)
    c1=$(cpu $n)
    echo "grpc-setup rep=$rep mode=$mode per_s=$(field set-ups/s <<<"$out")" \
      "p50_us=$(field 'set-up p50' <<<"$out") errors=$(field errors <<<"$out")" \
      "server_cpu_us=$(echo "($c1 - $c0) * 1000000 / 500" | bc) load=$(load)"
  done
  for n in tls rsa; do
    port=$([[ $n == tls ]] && echo $((P + 11)) || echo $((P + 13)))
    for version in -tls1_3 -tls1_2; do
      for how in -new -reuse; do
        c0=$(cpu $n)
        t0=$(date +%s.%N)
        conns=$(openssl s_time -connect 127.0.0.1:$port -CAfile ca.pem $version $how -time 4 2>&1 |
          awk '/connections in .*real/ {print $1}' | tail -1)
        t1=$(date +%s.%N)
        c1=$(cpu $n)
        echo "https-setup rep=$rep key=$n $version $how per_s=$(echo "$conns / ($t1 - $t0)" | bc)" \
          "server_cpu_us=$(echo "($c1 - $c0) * 1000000 / $conns" | bc) load=$(load)"
      done
    done
  done
done
echo "# load average at end: $(cat /proc/loadavg)"
