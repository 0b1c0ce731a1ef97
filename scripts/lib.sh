# Shared by run.sh and test.sh: Debian 12 packages and the CMake build. Sourced, not executed.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Build and run-time dependencies (docs: ../shared/platform.md). Everything comes from Debian.
TRUNKROUTE_PACKAGES=(
  cmake g++ ninja-build pkg-config libssl-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev libre2-dev libsofia-sip-ua-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # etcd's own protos, for the clustered mode's client stubs (generated in the build tree).
  golang-etcd-server-dev golang-github-gogo-protobuf-dev golang-github-grpc-ecosystem-grpc-gateway-dev
)
# run.sh's demo trunks (SIPp answering on 127.0.0.1:5081/5082); DEMO_TRUNKS=0 does without.
TRUNKROUTE_DEMO_PACKAGES=(sip-tester)
# Only the test suite needs these (SIPp drives the SIP end-to-end tests;
# openssl makes the TLS test certificates and probes TLS versions; curl is the HTTPS client of
# the API TLS tests; python3 and python3-yaml run the deploy checks; the cluster tests start
# their own etcd members and use etcdctl; the DNS tests start their own dnsmasq).
TRUNKROUTE_TEST_PACKAGES=(sip-tester openssl python3 python3-yaml curl etcd-server etcd-client dnsmasq-base)

log() { printf '==> %s\n' "$*" >&2; }

# Installs the given packages that are not installed yet. Quick when nothing is missing: one
# dpkg-query, no apt-get at all (so a rerun neither needs the network nor takes a lock).
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  log "installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then
      sudo=(sudo)
    else
      echo "error: packages missing (${missing[*]}) and not root; run as root or install them" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# configure_build BUILD_DIR [extra cmake args...]: configures once; later runs reuse the cache
# (ninja re-runs CMake itself when a CMakeLists.txt changed).
configure_build() {
  local dir="$1"
  shift
  if [[ ! -f "$dir/build.ninja" ]]; then
    log "configuring $dir"
    local launcher=()
    # ccache, when the machine has it, makes rebuilds in several checkouts cheap; never required.
    if command -v ccache >/dev/null; then
      launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    fi
    cmake -S "$REPO_ROOT" -B "$dir" -G Ninja -DTRUNKROUTE_BUILD_BENCHMARKS=OFF "${launcher[@]}" "$@"
  fi
}

build_jobs() { nproc 2>/dev/null || echo 2; }
