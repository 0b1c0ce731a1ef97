#!/usr/bin/env bash
# The clang thread-safety check: every project translation unit (sources, tests, benchmarks and
# tools; not the protoc output) compiled by clang with -Wthread-safety -Werror=thread-safety, so
# that ABSL_GUARDED_BY / ABSL_EXCLUSIVE_LOCKS_REQUIRED / ABSL_LOCKS_EXCLUDED are checked, not just
# written (gcc ignores them). The analysis runs in clang's front end, so each file is only parsed
# and analysed (-fsyntax-only): no code generation, no linking. Exits non-zero on any warning of
# the thread-safety group or any compile error.
# Environment:
#   TSA_BUILD_DIR  configured clang build tree, for compile_commands.json and the generated
#                  protobuf headers (default ./build-tsa)
#   TSA_ONLY       check only the files whose path matches this regex (e.g. '^health/')
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${TRUNKROUTE_PACKAGES[@]}" clang python3
build="${TSA_BUILD_DIR:-$REPO_ROOT/build-tsa}"
if [[ ! -f "$build/build.ninja" ]]; then
  log "configuring $build (clang, for the thread-safety check)"
  CC=clang CXX=clang++ cmake -S "$REPO_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DTRUNKROUTE_BUILD_BENCHMARKS=ON -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
else
  cmake "$build" >/dev/null  # refreshes compile_commands.json after a CMakeLists.txt change
fi
# Only the generated headers are needed before the project's files can be parsed.
mapfile -t generated < <(ninja -C "$build" -t targets all |
  sed -n 's/^\([^/:][^:]*\.h\): CUSTOM_COMMAND$/\1/p')
log "generating ${#generated[@]} headers in $build"
ninja -C "$build" -j "$(build_jobs)" "${generated[@]}" >/dev/null
log "thread-safety analysis of every project translation unit"
python3 "$REPO_ROOT/scripts/tsa_check.py" "$build/compile_commands.json" "$REPO_ROOT" \
  "$(build_jobs)" "${TSA_ONLY:-}"
