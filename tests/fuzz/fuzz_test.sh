#!/usr/bin/env bash
# Builds the config fuzzer (the separate CMake project in fuzz/, with clang) and runs it
# for a bounded time. Seeds: the shipped config, every file in tests/config/bad, and
# tests/fuzz/corpus (inputs that once broke the loader, kept as regressions). Fails on
# any crash, sanitizer report, leak, slow input, memory blow-up or broken contract
# (see fuzz/config_fuzzer.cpp), and prints how to replay the input.
#
# usage: fuzz_test.sh SRC_DIR WORK_DIR
#   COROSTORM_FUZZ_SECONDS  fuzzing time once the seeds have run (default 60)
#   COROSTORM_FUZZ_CXX      the clang++ to build with (default clang++)
# Exits 77 (CTest: skipped) when clang or its libFuzzer runtime is missing.
set -euo pipefail

(($# == 2)) || { echo "usage: $0 SRC_DIR WORK_DIR" >&2; exit 2; }
SRC_DIR=$(cd "$1" && pwd)
WORK_DIR=$2
FUZZ_SECONDS=${COROSTORM_FUZZ_SECONDS:-60}
CXX_FUZZ=${COROSTORM_FUZZ_CXX:-clang++}
readonly INSTALL_HINT="install the Debian packages clang and libclang-rt-14-dev (scripts/setup.sh --test does)"
# Far above what one input needs (milliseconds); a slower input is a hang.
readonly INPUT_TIMEOUT_S=10
# The loader's own limit is 1 MiB a config; inputs stay smaller so that each run is fast.
readonly MAX_INPUT_BYTES=16384
readonly RSS_LIMIT_MB=1024

skip() {
    echo "SKIP - $*"
    exit 77
}
fail() {
    echo "FAIL - $*"
    exit 1
}

[[ $FUZZ_SECONDS =~ ^[1-9][0-9]*$ ]] || fail "COROSTORM_FUZZ_SECONDS must be a whole number of seconds, got '$FUZZ_SECONDS'"
command -v "$CXX_FUZZ" >/dev/null 2>&1 || skip "$CXX_FUZZ not found; $INSTALL_HINT"
command -v cmake >/dev/null 2>&1 || fail "cmake not found"

mkdir -p "$WORK_DIR"
WORK_DIR=$(cd "$WORK_DIR" && pwd)
BUILD_DIR=$WORK_DIR/build
RUN_DIR=$WORK_DIR/run

# clang without compiler-rt (libclang-rt-14-dev on Debian 12) compiles but cannot link a
# fuzzer; find that out in a second rather than after building everything.
PROBE_DIR=$WORK_DIR/probe
rm -rf "$PROBE_DIR"
mkdir -p "$PROBE_DIR"
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
    >"$PROBE_DIR/probe.cpp"
if ! "$CXX_FUZZ" -fsanitize=fuzzer,address,undefined "$PROBE_DIR/probe.cpp" -o "$PROBE_DIR/probe" \
    2>"$PROBE_DIR/error.log"; then
    skip "$CXX_FUZZ cannot link a libFuzzer program ($(grep -m1 -i error "$PROBE_DIR/error.log" || true)); $INSTALL_HINT"
fi

echo "# building fuzz/ with $CXX_FUZZ into $BUILD_DIR"
if ! cmake -S "$SRC_DIR/fuzz" -B "$BUILD_DIR" -DCMAKE_CXX_COMPILER="$CXX_FUZZ" >"$WORK_DIR/configure.log" 2>&1; then
    tail -n 30 "$WORK_DIR/configure.log"
    fail "configuring fuzz/ failed (log: $WORK_DIR/configure.log)"
fi
if ! cmake --build "$BUILD_DIR" --parallel "${CMAKE_BUILD_PARALLEL_LEVEL:-2}" >"$WORK_DIR/build.log" 2>&1; then
    tail -n 30 "$WORK_DIR/build.log"
    fail "building fuzz/ failed (log: $WORK_DIR/build.log)"
fi
FUZZER=$BUILD_DIR/config_fuzzer
[[ -x $FUZZER ]] || fail "no fuzzer at $FUZZER after the build"

# A fresh corpus each run (the first directory is where libFuzzer writes what it finds);
# the shipped config is copied in because libFuzzer takes files as "run only these".
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR/corpus" "$RUN_DIR/artifacts"
cp "$SRC_DIR/config/corostorm.yaml" "$RUN_DIR/corpus/"
SEED_DIRS=("$SRC_DIR/tests/config/bad" "$SRC_DIR/tests/fuzz/corpus")
seed_count=1
for dir in "${SEED_DIRS[@]}"; do
    [[ -d $dir ]] || fail "no seed directory $dir"
    seed_count=$((seed_count + $(find "$dir" -type f | wc -l)))
done

# Reports name file and line when llvm-symbolizer is found; Debian's llvm-14 puts it
# next to clang, and on PATH only with its version appended.
if ! command -v llvm-symbolizer >/dev/null 2>&1 && [[ -z ${ASAN_SYMBOLIZER_PATH:-} ]]; then
    symbolizer=$(dirname "$(readlink -f "$(command -v "$CXX_FUZZ")")")/llvm-symbolizer
    [[ -x $symbolizer ]] && export ASAN_SYMBOLIZER_PATH=$symbolizer
fi

# Memory is bounded by AddressSanitizer's hard limit rather than libFuzzer's
# -rss_limit_mb: the latter first prints a heap profile, which can take minutes while
# the input keeps allocating. The sanitizer's limit stops at once and libFuzzer still
# writes the input out.
LOG=$RUN_DIR/fuzz.log
echo "# fuzzing for ${FUZZ_SECONDS}s from $seed_count seeds (log: $LOG)"
rc=0
ASAN_OPTIONS="hard_rss_limit_mb=$RSS_LIMIT_MB:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
    timeout -k 10 $((FUZZ_SECONDS + 120)) \
    "$FUZZER" -max_total_time="$FUZZ_SECONDS" -timeout="$INPUT_TIMEOUT_S" -rss_limit_mb=0 \
    -malloc_limit_mb="$RSS_LIMIT_MB" -max_len="$MAX_INPUT_BYTES" -dict="$SRC_DIR/fuzz/config.dict" \
    -print_final_stats=1 -artifact_prefix="$RUN_DIR/artifacts/" \
    "$RUN_DIR/corpus" "${SEED_DIRS[@]}" >"$LOG" 2>&1 || rc=$?

if ((rc != 0)); then
    # The report: the fuzzer's progress lines are noise here.
    grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|RELOAD)|^[[:space:]]+NEW_FUNC' "$LOG" | tail -n 60
    ((rc == 124 || rc == 137)) && echo "the fuzzer was still running $((FUZZ_SECONDS + 120))s after it started"
    shopt -s nullglob
    for artifact in "$RUN_DIR"/artifacts/*; do
        echo "input kept: $artifact"
        echo "  replay:   $FUZZER $artifact"
        echo "  once fixed, add it to $SRC_DIR/tests/fuzz/corpus as a regression seed"
    done
    fail "config_fuzzer exited $rc"
fi

# A run that read no seeds or ran nothing would pass without having tested anything.
seeds_read=$(sed -n -E 's/^INFO: seed corpus: files: ([0-9]+).*/\1/p' "$LOG" | head -n1)
runs=$(sed -n -E 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1/p' "$LOG" | tail -n1)
run_seconds=$(sed -n -E 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\2/p' "$LOG" | tail -n1)
[[ -n $seeds_read && -n $runs ]] || { tail -n 20 "$LOG"; fail "no 'seed corpus' or 'Done N runs' line in $LOG"; }
((seeds_read >= seed_count)) || fail "the fuzzer read $seeds_read seeds, want $seed_count"
((runs > seeds_read)) || fail "the fuzzer ran $runs inputs, no more than its $seeds_read seeds"

echo "ok   - config_fuzzer: $runs runs in ${run_seconds}s ($((runs / (run_seconds > 0 ? run_seconds : 1))) per second)," \
    "$seeds_read seeds, $(grep -E -o 'cov: [0-9]+' "$LOG" | tail -n1), no crash, leak, hang or broken contract"
