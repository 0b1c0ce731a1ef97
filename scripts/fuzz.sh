#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in ./build-fuzz and runs each for a
# bounded time, starting from the committed corpus (tests/fuzz/corpus/<name>). New inputs go to
# build-fuzz/corpus/<name>, crashes to build-fuzz/crashes/. Exits non-zero if any target failed.
#   FUZZ_SECONDS  per target (default 60)      FUZZ_TARGETS  default "sdp number config sip"
# Not part of scripts/test.sh: CI replays the corpus instead (ctest -L fuzz).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${TRUNKROUTE_PACKAGES[@]}" "${TRUNKROUTE_TEST_PACKAGES[@]}" clang libclang-rt-14-dev
build="$REPO_ROOT/build-fuzz"
if [[ ! -f "$build/build.ninja" ]]; then
  log "configuring $build (clang, libFuzzer, ASan + UBSan)"
  CC=clang CXX=clang++ cmake -S "$REPO_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTRUNKROUTE_FUZZ=ON -DTRUNKROUTE_BUILD_BENCHMARKS=OFF
fi
targets=(${FUZZ_TARGETS:-sdp number config sip})
cmake --build "$build" -j "$(build_jobs)" --target "${targets[@]/#/fuzz_}"

seconds="${FUZZ_SECONDS:-60}"
status=0
mkdir -p "$build/crashes"
for name in "${targets[@]}"; do
  corpus="$build/corpus/$name"
  mkdir -p "$corpus"
  log "fuzzing $name for ${seconds}s"
  if ! "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/crashes/$name-" \
      "$corpus" "$REPO_ROOT/tests/fuzz/corpus/$name" 2>"$build/fuzz-$name.log"; then
    log "fuzz_$name FAILED: see $build/fuzz-$name.log and $build/crashes/"
    status=1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov: ' "$build/fuzz-$name.log" | tail -3
done
exit "$status"
