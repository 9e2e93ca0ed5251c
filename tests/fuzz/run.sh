#!/usr/bin/env bash
# tests/fuzz/run.sh — build the libFuzzer harnesses (build-fuzz, clang,
# ATENTO_FUZZ=ON) and run each for FUZZ_SECONDS (default 60) seconds.
#
#   tests/fuzz/run.sh [harness ...]      # all when none named (npm run fuzz)
#   FUZZ_SECONDS=45 tests/fuzz/run.sh    # the .ci/run smoke
#   FUZZ_ARGS="-fork=1 -ignore_crashes=1" FUZZ_SUMMARY=lane1.txt tests/fuzz/run.sh split
#                                        # more libFuzzer flags; another summary file
#                                        # (so that two runs can go side by side)
#
# Each harness starts from its committed seeds (tests/fuzz/corpus/<name>) and
# adds what it finds to build-fuzz/corpus/<name> (kept between runs, never
# committed). The run fails only on a crash, a leak, a sanitizer report or a
# broken check (libFuzzer's crash-/leak-/oom- artifacts, in
# build-fuzz/artifacts/); a slow input (timeout-) is reported, not failed,
# so a loaded machine cannot fail it. Figures (executions per harness, and
# per second of wall clock) go to build-fuzz/fuzz-summary.txt.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS_EACH=${FUZZ_SECONDS:-60}
ALL=(model tok_spm_bpe tok_bpe tok_unigram tok_vocab template chat_json split dict)
HARNESSES=("$@")
[ ${#HARNESSES[@]} -eq 0 ] && HARNESSES=("${ALL[@]}")

CC_FUZZ=${FUZZ_CC:-clang}
if ! command -v "$CC_FUZZ" >/dev/null 2>&1; then
  echo "fuzz: $CC_FUZZ not found (apt-get install clang)" >&2
  exit 1
fi
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  CC=$CC_FUZZ cmake -S . -B build-fuzz -DATENTO_FUZZ=ON -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
fi
cmake --build build-fuzz -j2 $(printf -- '--target fuzz_%s ' "${HARNESSES[@]}") >build-fuzz/build.log 2>&1 || {
  tail -30 build-fuzz/build.log >&2
  exit 1
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$ROOT/tests/fuzz/ubsan.supp}
mkdir -p build-fuzz/artifacts
summary=${FUZZ_SUMMARY:-build-fuzz/fuzz-summary.txt}
read -r -a extra <<<"${FUZZ_ARGS:-}"
: >"$summary"
failed=0
for h in "${HARNESSES[@]}"; do
  bin=build-fuzz/tests/fuzz/fuzz_$h
  work=build-fuzz/corpus/$h
  log=build-fuzz/fuzz_$h.log
  mkdir -p "$work"
  args=(-max_total_time="$SECONDS_EACH" -timeout="${FUZZ_TIMEOUT:-60}" -rss_limit_mb=3072 -malloc_limit_mb=3072
        -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$h-")
  case $h in
    template) args+=(-dict=tests/fuzz/jinja.dict -max_len=8192) ;;
    chat_json) args+=(-dict=tests/fuzz/json.dict -max_len=8192) ;;
    model|tok_vocab) args+=(-max_len=32768) ;;
    *) args+=(-max_len=4096) ;;
  esac
  # a hard bound beyond libFuzzer's own, for an input that never returns
  t0=$SECONDS
  timeout -k 10 $((SECONDS_EACH + 120)) "$bin" "${args[@]}" "${extra[@]}" "$work" "tests/fuzz/corpus/$h" >"$log" 2>&1
  rc=$?
  took=$((SECONDS - t0))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if grep -q "ERROR: libFuzzer: timeout" "$log" && ! grep -qE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer: (deadly|out-of-memory|malloc|fuzz target))|runtime error:|fuzz check failed" "$log"; then
    status="slow input (timeout, not a failure): $(grep -o 'build-fuzz/artifacts/[^ ]*' "$log" | tail -1)"
  elif [ $rc -eq 0 ]; then
    status=ok
  else
    status="FAILED (exit $rc): $(grep -m1 -E 'ERROR:|runtime error:|fuzz check failed' "$log") $(grep -o 'build-fuzz/artifacts/[^ ]*' "$log" | tail -1)"
    failed=1
  fi
  line="fuzz_$h: ${execs:-?} executions in ${took} s ($(( ${execs:-0} / (took > 0 ? took : 1) ))/s): $status"
  echo "$line" | tee -a "$summary"
  [ "$status" = ok ] || tail -40 "$log" | grep -vE '^#[0-9]+' >&2
done
exit $failed
