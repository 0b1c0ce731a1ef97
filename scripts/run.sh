#!/usr/bin/env bash
# Installs what is missing, builds trunkrouted in ./build and runs it in the foreground on
# ./data (first start: the embedded default config, deploy/trunkroute.example.json).
# Extra arguments go to trunkrouted, e.g. ./scripts/run.sh --grpc-listen 127.0.0.1:50052
# Environment: BUILD_DIR (default ./build), DATA_DIR (default ./data).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${TRUNKROUTE_PACKAGES[@]}"
BUILD_DIR="${BUILD_DIR:-$REPO_ROOT/build}"
DATA_DIR="${DATA_DIR:-$REPO_ROOT/data}"
configure_build "$BUILD_DIR"
log "building trunkrouted"
cmake --build "$BUILD_DIR" --target trunkrouted -j "$(build_jobs)"
log "starting trunkrouted (data dir $DATA_DIR); Ctrl-C or SIGTERM stops it"
exec "$BUILD_DIR/bin/trunkrouted" --data-dir "$DATA_DIR" "$@"
