#!/usr/bin/env bash
# Installs what is missing, builds everything (benchmarks aside) and runs the whole test suite
# under ctest. Exits non-zero when anything fails.
# Environment:
#   SANITIZE=1   ASan+UBSan build in ./build-asan (-DTRUNKROUTE_SANITIZE=ON)
#   TSA=1        the clang thread-safety check instead (scripts/tsa.sh): no test is run
#   BUILD_DIR    build directory (default ./build, or ./build-asan with SANITIZE=1)
#   CTEST_ARGS   extra ctest arguments, e.g. CTEST_ARGS="-R config" or "-L integration"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ "${TSA:-0}" == 1 ]]; then
  exec "$REPO_ROOT/scripts/tsa.sh"
fi
ensure_packages "${TRUNKROUTE_PACKAGES[@]}" "${TRUNKROUTE_TEST_PACKAGES[@]}"
cmake_args=()
if [[ "${SANITIZE:-0}" == 1 ]]; then
  BUILD_DIR="${BUILD_DIR:-$REPO_ROOT/build-asan}"
  cmake_args+=(-DTRUNKROUTE_SANITIZE=ON)
  # Leaks are real failures; halt on the first UBSan report rather than scroll past it.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
else
  BUILD_DIR="${BUILD_DIR:-$REPO_ROOT/build}"
fi
configure_build "$BUILD_DIR" "${cmake_args[@]}"
log "building in $BUILD_DIR"
cmake --build "$BUILD_DIR" -j "$(build_jobs)"
log "running tests"
cd "$BUILD_DIR"
# shellcheck disable=SC2086
ctest --output-on-failure --timeout 300 -j "$(build_jobs)" ${CTEST_ARGS:-}
