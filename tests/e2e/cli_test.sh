#!/usr/bin/env bash
# End-to-end tests of corostorm's command line: --help, --version,
# check-config, --set, usage errors, and every bad config in
# SRC_DIR/tests/config/bad (each starts with "# expect: <part of the error>").
#
# usage: cli_test.sh BIN SRC_DIR
# Runs every case, prints one line per case and a summary; exits 1 if any
# case failed.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($# == 2)) || { echo "usage: $0 BIN SRC_DIR" >&2; exit 2; }
BIN=$1
SRC_DIR=$2
[[ -x $BIN ]] || { echo "not an executable: $BIN" >&2; exit 2; }

e2e_init

# A bad config must fail before the daemon does anything, so any of its
# commands ending on its own within this many seconds is expected; one that
# does not (a daemon that started after all) is killed and reported.
readonly CMD_TIMEOUT=30
readonly MIN_BAD_FILES=25

OUT=$E2E_TMP/out
ERR=$E2E_TMP/err
CASES=0

# cli CMD_ARGS...: runs BIN with the arguments; sets RUN_RC, OUT and ERR.
cli() { run_capture "$CMD_TIMEOUT" "$OUT" "$ERR" "$BIN" "$@"; }

# What must never reach the user, whatever they got wrong.
alarming() {
    grep -E -i -q 'terminate|aborted|exception|sanitizer|runtime error|segmentation fault|core dumped' "$1"
}

# result NAME PROBLEM...: one line per case; no PROBLEM means it passed.
result() {
    local name=$1
    shift
    CASES=$((CASES + 1))
    if (($# == 0)); then
        ok "$name"
    else
        local IFS=";"
        not_ok "$name: $*"
        echo "       stdout: $(head -c 300 "$OUT" | tr '\n' '|')"
        echo "       stderr: $(head -c 300 "$ERR" | tr '\n' '|')"
    fi
}

# expect_rc WANT: appends a problem to PROBLEMS when RUN_RC is not WANT.
expect_rc() {
    if ((RUN_RC == 124)); then
        PROBLEMS+=("still running after ${CMD_TIMEOUT}s (killed)")
    elif ((RUN_RC != $1)); then
        PROBLEMS+=("exit code $RUN_RC, want $1")
    fi
}

expect_calm_stderr() {
    if alarming "$ERR"; then PROBLEMS+=("alarming text on stderr"); fi
}

# ---------------------------------------------------------------- --help ----
PROBLEMS=()
cli --help
expect_rc 0
grep -q 'Usage' "$OUT" || PROBLEMS+=("no 'Usage' on stdout")
grep -q 'check-config' "$OUT" || PROBLEMS+=("check-config not mentioned")
grep -q -- '--set' "$OUT" || PROBLEMS+=("--set not mentioned")
result "--help" "${PROBLEMS[@]}"

# ------------------------------------------------------------- --version ----
PROBLEMS=()
cli --version
expect_rc 0
grep -E -q '^corostorm [0-9]+\.[0-9]+\.[0-9]+' "$OUT" || PROBLEMS+=("stdout is not 'corostorm X.Y.Z ...'")
result "--version" "${PROBLEMS[@]}"

# ------------------------------------------------------------ check-config ----

# check_effective NAME ARGS...: check-config ARGS must succeed and print a
# config that contains `threads:` and that check-config accepts again,
# unchanged (the printed config is the effective one, so it must round-trip).
check_effective() {
    local name=$1
    shift
    PROBLEMS=()
    cli check-config "$@"
    expect_rc 0
    expect_calm_stderr
    grep -E -q '^[[:space:]]*threads:' "$OUT" || PROBLEMS+=("no 'threads:' in the printed config")
    if ((RUN_RC == 0)); then
        local printed=$E2E_TMP/effective.yaml
        cp "$OUT" "$printed"
        cli check-config -c "$printed"
        if ((RUN_RC != 0)); then
            PROBLEMS+=("the printed config does not load again (exit $RUN_RC: $(head -n1 "$ERR"))")
        elif [[ "$(<"$printed")" != "$(<"$OUT")" ]]; then
            PROBLEMS+=("the printed config changes when loaded again")
        fi
    fi
    result "$name" "${PROBLEMS[@]}"
}

check_effective "check-config (built-in defaults)"

SHIPPED=$SRC_DIR/config/corostorm.yaml
if [[ -f $SHIPPED ]]; then
    check_effective "check-config -c config/corostorm.yaml" -c "$SHIPPED"
else
    echo "skip - check-config -c config/corostorm.yaml: $SHIPPED does not exist"
fi

PROBLEMS=()
cli check-config --set runtime.threads=1
expect_rc 0
grep -E -q '^[[:space:]]*threads: 1[[:space:]]*$' "$OUT" || PROBLEMS+=("no 'threads: 1' in the printed config")
result "check-config --set runtime.threads=1" "${PROBLEMS[@]}"

# ---------------------------------------------------------- usage errors ----
# Run mode too: a usage error must stop it before it starts serving.
for args in "--no-such-flag" "check-config --no-such-flag" "--set runtime.threads" "check-config --set runtime.threads"; do
    PROBLEMS=()
    read -r -a argv <<<"$args"
    cli "${argv[@]}"
    expect_rc 2
    expect_calm_stderr
    [[ -s $ERR ]] || PROBLEMS+=("nothing on stderr")
    if grep -q -F "$E2E_SERVING_LINE" "$ERR"; then PROBLEMS+=("started serving"); fi
    result "$args" "${PROBLEMS[@]}"
done

# ----------------------------------------------------------- bad configs ----
BAD_DIR=$SRC_DIR/tests/config/bad
shopt -s nullglob
BAD_FILES=("$BAD_DIR"/*.yaml)
shopt -u nullglob

PROBLEMS=()
((${#BAD_FILES[@]} >= MIN_BAD_FILES)) || PROBLEMS+=("found ${#BAD_FILES[@]} files in $BAD_DIR, want at least $MIN_BAD_FILES")
result "bad configs present (${#BAD_FILES[@]})" "${PROBLEMS[@]}"

for file in "${BAD_FILES[@]}"; do
    name=bad/$(basename "$file")
    first_line=$(head -n1 "$file")
    if [[ $first_line != '# expect: '* ]]; then
        PROBLEMS=("first line is not '# expect: SUBSTRING'")
        : >"$OUT"
        : >"$ERR"
        result "$name" "${PROBLEMS[@]}"
        continue
    fi
    expect=${first_line#'# expect: '}

    # check-config: exit 2, the message on stderr, nothing on stdout.
    PROBLEMS=()
    cli check-config -c "$file"
    expect_rc 2
    expect_calm_stderr
    grep -q -F -- "$expect" "$ERR" || PROBLEMS+=("stderr lacks: $expect")
    [[ ! -s $OUT ]] || PROBLEMS+=("printed something on stdout")
    result "$name: check-config" "${PROBLEMS[@]}"

    # run: the same refusal, and no server.
    PROBLEMS=()
    cli -c "$file"
    expect_rc 2
    expect_calm_stderr
    grep -q -F -- "$expect" "$ERR" || PROBLEMS+=("stderr lacks: $expect")
    if grep -q -F "$E2E_SERVING_LINE" "$ERR" "$OUT"; then PROBLEMS+=("started serving"); fi
    result "$name: run" "${PROBLEMS[@]}"
done

echo
echo "$((CASES - E2E_FAILED)) of $CASES cases passed, $E2E_FAILED failed"
((E2E_FAILED == 0))
