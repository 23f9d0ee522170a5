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
require_tools awk grep

e2e_init

# No command here should take long; one still running after this many
# seconds is killed and reported.
readonly CMD_TIMEOUT=30
readonly MIN_BAD_FILES=25

OUT=$E2E_TMP/out
ERR=$E2E_TMP/err
CASES=0

# cli ARGS...: runs BIN ARGS with stdout to $OUT, stderr to $ERR; sets RUN_RC.
# In run mode a command meant to fail could start the daemon instead, so it
# is stopped as soon as it logs that it serves (RUN_RC 125).
cli() { run_capture_unless "$CMD_TIMEOUT" "$OUT" "$ERR" "$E2E_SERVING_LINE" "$BIN" "$@"; }

# What must never reach the user, whatever they got wrong.
alarming() {
    grep -E -i -q 'terminate|aborted|exception|sanitizer|runtime error|segmentation fault|core dumped' "$1"
}

# expect_rc WANT: notes a problem when RUN_RC is not WANT.
expect_rc() {
    case $RUN_RC in
        "$1") ;;
        124) PROBLEMS+=("still running after ${CMD_TIMEOUT}s (killed)") ;;
        125) PROBLEMS+=("started serving (killed)") ;;
        *) PROBLEMS+=("exit code $RUN_RC, want $1") ;;
    esac
}

expect_calm_stderr() {
    if alarming "$ERR"; then PROBLEMS+=("alarming text on stderr"); fi
}

# ---------------------------------------------------------------- --help ----
case_start
cli --help
expect_rc 0
grep -q 'Usage' "$OUT" || PROBLEMS+=("no 'Usage' on stdout")
grep -q 'check-config' "$OUT" || PROBLEMS+=("check-config not mentioned")
grep -q -- '--set' "$OUT" || PROBLEMS+=("--set not mentioned")
case_end "--help"

# ------------------------------------------------------------- --version ----
case_start
cli --version
expect_rc 0
grep -E -q '^corostorm [0-9]+\.[0-9]+\.[0-9]+' "$OUT" || PROBLEMS+=("stdout is not 'corostorm X.Y.Z ...'")
case_end "--version"

# ---------------------------------------------------------- check-config ----

# check_effective NAME ARGS...: `check-config ARGS` must succeed and print a
# config with a `threads:` key, which check-config must accept again and
# print unchanged: it is the effective config, so it must round-trip.
check_effective() {
    local name=$1
    shift
    case_start
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
    case_end "$name"
}

check_effective "check-config (built-in defaults)"

SHIPPED=$SRC_DIR/config/corostorm.yaml
if [[ -f $SHIPPED ]]; then
    check_effective "check-config -c config/corostorm.yaml" -c "$SHIPPED"
else
    echo "skip - check-config -c config/corostorm.yaml: $SHIPPED does not exist"
fi

case_start
cli check-config --set runtime.threads=1
expect_rc 0
grep -E -q '^[[:space:]]*threads: 1[[:space:]]*$' "$OUT" || PROBLEMS+=("no 'threads: 1' in the printed config")
case_end "check-config --set runtime.threads=1"

# ----------------------------------------------------- COROSTORM_CONFIG ----
# The container image names its config through this variable; -c wins over it.
ENV_CONFIG=$E2E_TMP/env.yaml
printf 'runtime:\n  threads: 3\n' >"$ENV_CONFIG"
FLAG_CONFIG=$E2E_TMP/flag.yaml
printf 'runtime:\n  threads: 5\n' >"$FLAG_CONFIG"
for spec in "3|" "5|-c $FLAG_CONFIG" "7|--set runtime.threads=7"; do
    IFS='|' read -r want args <<<"$spec"
    read -r -a argv <<<"$args"
    case_start
    COROSTORM_CONFIG=$ENV_CONFIG cli check-config "${argv[@]}"
    expect_rc 0
    grep -E -q "^[[:space:]]*threads: $want[[:space:]]*\$" "$OUT" || PROBLEMS+=("no 'threads: $want' in the printed config")
    case_end "COROSTORM_CONFIG=env.yaml check-config ${args:-(no flags)}"
done

case_start
COROSTORM_CONFIG=$E2E_TMP/missing.yaml cli check-config
expect_rc 2
expect_calm_stderr
grep -q -F 'missing.yaml' "$ERR" || PROBLEMS+=("the message does not name the file")
grep -q -F 'COROSTORM_CONFIG' "$ERR" || PROBLEMS+=("the message does not name COROSTORM_CONFIG")
case_end "COROSTORM_CONFIG naming a missing file"

# ---------------------------------------------------------- usage errors ----
# In run mode too: a usage error must stop the daemon before it serves.
for args in "--no-such-flag" "check-config --no-such-flag" "--set runtime.threads" "check-config --set runtime.threads"; do
    case_start
    read -r -a argv <<<"$args"
    cli "${argv[@]}"
    expect_rc 2
    expect_calm_stderr
    [[ -s $ERR ]] || PROBLEMS+=("nothing on stderr")
    case_end "$args"
done

# ----------------------------------------------------------- bad configs ----
BAD_DIR=$SRC_DIR/tests/config/bad
shopt -s nullglob
BAD_FILES=("$BAD_DIR"/*.yaml)
shopt -u nullglob

case_start
((${#BAD_FILES[@]} >= MIN_BAD_FILES)) ||
    PROBLEMS+=("found ${#BAD_FILES[@]} files in $BAD_DIR, want at least $MIN_BAD_FILES")
case_end "bad configs present (${#BAD_FILES[@]})"

for file in "${BAD_FILES[@]}"; do
    name=bad/$(basename "$file")
    first_line=$(head -n1 "$file")
    if [[ $first_line != '# expect: '* ]]; then
        case_start
        PROBLEMS+=("first line is not '# expect: SUBSTRING'")
        case_end "$name"
        continue
    fi
    expect=${first_line#'# expect: '}

    # check-config: exit 2, the message on stderr, nothing on stdout.
    case_start
    cli check-config -c "$file"
    expect_rc 2
    expect_calm_stderr
    grep -q -F -- "$expect" "$ERR" || PROBLEMS+=("stderr lacks: $expect")
    [[ ! -s $OUT ]] || PROBLEMS+=("printed something on stdout")
    case_end "$name: check-config"

    # run: the same refusal, before serving anything.
    case_start
    cli -c "$file"
    expect_rc 2
    expect_calm_stderr
    grep -q -F -- "$expect" "$ERR" || PROBLEMS+=("stderr lacks: $expect")
    case_end "$name: run"
done

echo
echo "$((CASES - E2E_FAILED)) of $CASES cases passed, $E2E_FAILED failed"
((E2E_FAILED == 0))
