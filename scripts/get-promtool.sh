#!/usr/bin/env bash
# Puts Prometheus' promtool at DEST (default: ./build/tools/promtool under the repository root)
# without installing the Prometheus server package (which would register and start a service):
# downloads Debian's `prometheus` package into a temporary directory and extracts the binaries.
# The `prometheus` server binary is placed next to promtool as well, for the test that runs a
# real Prometheus scraping trunkroute (it is started by that test only, never as a service).
#
# Idempotent: does nothing when both binaries are already there and run.
# Usage: scripts/get-promtool.sh [DEST]
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$repo_root/build/tools/promtool}"
dest_dir="$(dirname "$dest")"
server="$dest_dir/prometheus"

if [[ -x "$dest" && -x "$server" ]] && "$dest" --version >/dev/null 2>&1; then
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# apt-get warns that it downloads unsandboxed as root into a private directory: harmless.
if ! apt-get download prometheus >/dev/null 2>apt.err; then
  # A machine whose package lists were never fetched: fetch them once and retry.
  apt-get update -qq >/dev/null
  apt-get download prometheus >/dev/null 2>apt.err || { cat apt.err >&2; exit 1; }
fi
deb=(prometheus_*.deb)
dpkg-deb --fsys-tarfile "${deb[0]}" | tar -x ./usr/bin/promtool ./usr/bin/prometheus

mkdir -p "$dest_dir"
# Copy then rename: a parallel run never sees a half-written binary.
install -m 0755 ./usr/bin/promtool "$dest.tmp.$$"
mv -f "$dest.tmp.$$" "$dest"
install -m 0755 ./usr/bin/prometheus "$server.tmp.$$"
mv -f "$server.tmp.$$" "$server"
"$dest" --version | head -n 1 >&2
