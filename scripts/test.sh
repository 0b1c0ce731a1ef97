#!/usr/bin/env bash
# Installs what is missing, builds everything (benchmarks aside) and runs the whole test suite
# under ctest. Exits non-zero when anything fails.
# Environment:
#   SANITIZE=1      ASan+UBSan build in ./build-asan (-DTRUNKROUTE_SANITIZE=ON)
#   TSA=1           the clang thread-safety check instead (scripts/tsa.sh): nothing is run
#   LABELS          only the tests with a matching label (ctest -L regex, e.g. 'sip|health');
#                   only the targets those tests need are built (scripts/test_targets.py)
#   LABELS_EXCLUDE  not the tests with a matching label (ctest -LE regex, e.g. 'cluster|soak')
#   BUILD_DIR       build directory (default ./build, or ./build-asan with SANITIZE=1)
#   CTEST_ARGS      extra ctest arguments, e.g. CTEST_ARGS="-R config"
#   DEBUG_INFO=0    build without debug information (-DTRUNKROUTE_DEBUG_INFO=OFF; what CI does).
#                   Read when BUILD_DIR is first configured, like SANITIZE.
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
  # Allocation stacks are unwound the slow way (OpenSSL has no frame pointers), so that a leak
  # inside a library shows who called it and tests/lsan.supp can name a known one precisely.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0}"
  export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$REPO_ROOT/tests/lsan.supp}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
else
  BUILD_DIR="${BUILD_DIR:-$REPO_ROOT/build}"
fi
[[ "${DEBUG_INFO:-1}" == 0 ]] && cmake_args+=(-DTRUNKROUTE_DEBUG_INFO=OFF)
configure_build "$BUILD_DIR" "${cmake_args[@]}"
select=()
[[ -n "${LABELS:-}" ]] && select+=(-L "$LABELS")
[[ -n "${LABELS_EXCLUDE:-}" ]] && select+=(-LE "$LABELS_EXCLUDE")
targets=(all)
if ((${#select[@]} > 0)); then
  needed="$(python3 "$REPO_ROOT/scripts/test_targets.py" "$BUILD_DIR" "${select[@]}")"
  mapfile -t targets <<<"$needed"
  [[ -z "$needed" ]] && targets=()
fi
log "building in $BUILD_DIR: ${targets[*]:-(nothing: the selected tests need no build)}"
if ((${#targets[@]} > 0)); then
  cmake --build "$BUILD_DIR" -j "$(build_jobs)" --target "${targets[@]}"
fi
log "running tests${select[*]:+ (${select[*]})}"
cd "$BUILD_DIR"
# shellcheck disable=SC2086
ctest --output-on-failure --timeout 300 -j "$(build_jobs)" --no-tests=error "${select[@]}" \
  ${CTEST_ARGS:-}
