#!/usr/bin/env bash
# End-to-end tests of corostorm's command line: --help, --version,
# check-config, --set, usage errors, and every bad config in
# SRC_DIR/tests/config/bad (each starts with "# expect: <part of the error>").
#
# usage: cli_test.sh BIN SRC_DIR
# Environment: COROSTORM_SANITIZED=1 for a sanitizer build (its memory cannot
# be capped with ulimit -v, so the memory bound is checked only without it).
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
readonly MIN_BAD_FILES=290
# A bad config is refused in well under a second; this only catches one that is
# parsed for far too long.
if [[ ${COROSTORM_SANITIZED:-} == 1 ]]; then REFUSE_MAX_S=20; else REFUSE_MAX_S=10; fi
# Address space for refusing a config: the largest one allowed (1 MiB) needs
# under 256 MiB, so a loader that expands its input runs out of this at once.
readonly REFUSE_MAX_KIB=524288
# Each bad file goes through check-config and run. A sanitized binary starts
# slowly and config_test already loads every file under the sanitizers, so
# there only check-config runs them (run still gets the generated ones).
if [[ ${COROSTORM_SANITIZED:-} == 1 ]]; then BAD_FILE_MODES=(check-config); else BAD_FILE_MODES=(check-config run); fi

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

# refuse ARGS...: like cli, with the address space capped (not under a
# sanitizer, which reserves terabytes of it) and the time taken checked.
refuse() {
    local started=$SECONDS
    if [[ ${COROSTORM_SANITIZED:-} == 1 ]]; then
        cli "$@"
    else
        # shellcheck disable=SC2016  # the inner bash expands them
        run_capture_unless "$CMD_TIMEOUT" "$OUT" "$ERR" "$E2E_SERVING_LINE" \
            bash -c 'ulimit -v "$1" && exec "${@:2}"' _ "$REFUSE_MAX_KIB" "$BIN" "$@"
    fi
    if ((SECONDS - started > REFUSE_MAX_S)); then
        PROBLEMS+=("took $((SECONDS - started))s, want at most ${REFUSE_MAX_S}s")
    fi
}

# expect_refusal NAME FILE [MODE...]: `check-config -c FILE` and `-c FILE`
# (run), or the MODEs given, exit 2 with a message holding $EXPECT on stderr
# and nothing on stdout.
expect_refusal() {
    local name=$1 file=$2 mode
    local modes=("${@:3}")
    ((${#modes[@]})) || modes=(check-config run)
    for mode in "${modes[@]}"; do
        case_start
        if [[ $mode == run ]]; then refuse -c "$file"; else refuse check-config -c "$file"; fi
        expect_rc 2
        expect_calm_stderr
        grep -q -F -- "$EXPECT" "$ERR" || PROBLEMS+=("stderr lacks: $EXPECT")
        [[ ! -s $OUT ]] || PROBLEMS+=("printed something on stdout")
        case_end "$name: $mode"
    done
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
    grep -E -q "^[[:space:]]*threads: ${want}[[:space:]]*\$" "$OUT" || PROBLEMS+=("no 'threads: $want' in the printed config")
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
# Each: ARGS | a part of the message, which names the flag, argument or key at
# fault. Exit 2, the message on stderr, nothing on stdout; in run mode too (the
# default, and `run`): a usage error must stop the daemon before it serves.
VALID=$E2E_TMP/valid.yaml
printf '{}\n' >"$VALID"
USAGE_CASES=(
    # unknown flags, in every mode and where a flag of another mode belongs
    "--no-such-flag | --no-such-flag"
    "run --no-such-flag | --no-such-flag"
    "check-config --no-such-flag | --no-such-flag"
    "prove --tasks 1k --no-such-flag | --no-such-flag"
    "--json | --json"
    "check-config --tasks 1k | --tasks"
    "run --against-go | --against-go"
    "check-config --c $VALID | --c"
    # missing values
    "-c | --config"
    "check-config --config | --config"
    "--set | --set"
    "run --set | --set"
    "check-config --set | --set"
    "prove --tasks | --tasks"
    "prove --tasks 1k --engine | --engine"
    "prove | --tasks is required"
    # repeated flags (only --set repeats)
    "-c $VALID -c $VALID | --config"
    "check-config -c $VALID --config $VALID | --config"
    "prove --tasks 1k --tasks 2k | --tasks"
    "prove --tasks 1k --threads 1 --threads 2 | --threads"
    "prove --tasks 1k --json --json | --json"
    "prove --tasks 1k --against-go --against-go | --against-go"
    # conflicting flags
    "prove --tasks 1k --go-peer /bin/true | --go-peer: only with --against-go"
    # bad subcommands
    "bogus | bogus"
    "check-configs | check-configs"
    "run check-config | check-config"
    "check-config prove | prove"
    "prove --tasks 1k run | run"
    "run run | run"
    # --set without =, with an empty key, of an unknown key, of a bad value or path
    "--set runtime.threads | --set: expected KEY=VALUE, got \"runtime.threads\""
    "check-config --set runtime.threads | --set: expected KEY=VALUE"
    "prove --tasks 1k --set runtime.threads | --set: expected KEY=VALUE"
    "--set =4 | --set: expected KEY=VALUE, got \"=4\""
    "--set runtime.thread=4 | runtime.thread: unknown key; did you mean \"threads\"? allowed: threads, engine, layout, hand_off, timer_tick, asio (from --set runtime.thread=4)"
    "check-config --set runtime.thread=4 | (from --set runtime.thread=4)"
    "prove --tasks 1k --set runtime.thread=4 | (from --set runtime.thread=4)"
    "check-config --set no_such_section.key=1 | no_such_section: unknown key"
    "--set runtime.threads=5000 | runtime.threads: must be between 0 and 1024, got 5000 (from --set runtime.threads=5000)"
    "check-config --set runtime..threads=1 | --set runtime..threads=1: bad key path"
    "check-config --set scenario.stages[9].tasks=1 | scenario.stages[9]: is past the end of a list of 3 items"
    "check-config --set runtime.threads=[1 | --set runtime.threads=[1: the value is not valid YAML"
    # bad values of the prove flags, and a file that is not there
    "prove --tasks 0 | --tasks: must be a count between 1 and 10G"
    "prove --tasks 1k --engine fibers | --engine: must be one of lean, asio"
    "prove --tasks 1k --workload nap | --workload: must be one of sleep, yield, ring, spawn_tree, cpu"
    "prove --tasks 1k --threads 5000 | --threads: must be between 0 and 1024"
    "prove --tasks 1k --duration 0s | --duration: must be a duration between 1s and 1d"
    "-c $E2E_TMP/missing.yaml | missing.yaml"
    "check-config -c $E2E_TMP | --config"
)
for spec in "${USAGE_CASES[@]}"; do
    args=${spec%% | *}
    expect=${spec#* | }
    read -r -a argv <<<"$args"
    case_start
    cli "${argv[@]}"
    expect_rc 2
    expect_calm_stderr
    grep -q -F -- "$expect" "$ERR" || PROBLEMS+=("stderr lacks: $expect")
    [[ ! -s $OUT ]] || PROBLEMS+=("printed something on stdout")
    case_end "${args//$E2E_TMP/TMP}"
done

# An argument that word splitting cannot carry: the empty --set.
for mode in run check-config; do
    case_start
    cli "$mode" --set ''
    expect_rc 2
    expect_calm_stderr
    grep -q -F -- '--set: expected KEY=VALUE, got ""' "$ERR" || PROBLEMS+=("stderr lacks the --set message")
    [[ ! -s $OUT ]] || PROBLEMS+=("printed something on stdout")
    case_end "$mode --set ''"
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
    EXPECT=${first_line#'# expect: '}
    expect_refusal "$name" "$file" "${BAD_FILE_MODES[@]}"
done

# ------------------------------------------------- generated bad configs ----
# Too large to keep in the repository, written here. Each: NAME | a part of the
# message; the file is $E2E_TMP/NAME.
GENERATED=$E2E_TMP/generated
mkdir -p "$GENERATED"
# 10 MB of comment lines: refused by size after reading just past 1 MiB.
awk 'BEGIN { line = "#"; for (i = 0; i < 1023; i++) line = line "x"; for (i = 0; i < 10240; i++) print line }' \
    >"$GENERATED/ten-megabytes.yaml"
# 100k nested flow lists, flow maps and block lists: refused at the parser's
# depth limit, without exhausting the stack.
awk 'BEGIN { printf "workloads: "; for (i = 0; i < 100000; i++) printf "["; print "" }' >"$GENERATED/deep-lists.yaml"
awk 'BEGIN { printf "workloads: "; for (i = 0; i < 100000; i++) printf "{a: "; print "" }' >"$GENERATED/deep-maps.yaml"
awk 'BEGIN { print "workloads:"; for (i = 1; i <= 1000; i++) { printf "%*s-\n", i, "" } }' >"$GENERATED/deep-block-lists.yaml"
# Billion laughs as large as the 1 MiB limit allows: 40 lists of 1000 aliases
# of the one before, 1000^40 items if expanded.
awk 'BEGIN {
    print "scenario:"; print "  stages:"; print "    - &l0 {name: lol, over: 1s}"
    for (l = 1; l < 40; l++) {
        printf "    - &l%d [", l
        for (i = 0; i < 1000; i++) printf "%s*l%d", (i ? ", " : ""), l - 1
        print "]"
    }
}' >"$GENERATED/alias-bomb.yaml"
# 200k commas: yaml-cpp 0.7 alone would start a document at each one, forever.
awk 'BEGIN { printf "{}"; for (i = 0; i < 200000; i++) printf " ,"; print "" }' >"$GENERATED/commas.yaml"
# One key, 70k times.
awk 'BEGIN { print "runtime:"; for (i = 0; i < 35000; i++) { print "  threads: 1"; print "  threads: 2" } }' \
    >"$GENERATED/duplicate-keys.yaml"
GENERATED_CASES=(
    "ten-megabytes.yaml | ten-megabytes.yaml: config is larger than the 1 MiB limit"
    "deep-lists.yaml | invalid YAML: nested more than"
    "deep-maps.yaml | invalid YAML: nested more than"
    "deep-block-lists.yaml | invalid YAML: nested more than"
    "alias-bomb.yaml | scenario.stages[1]: must be a map with keys name, tasks, over, got a list of 1000 items"
    "commas.yaml | commas.yaml:1:4: invalid YAML: unexpected \",\""
    "duplicate-keys.yaml | runtime.threads: duplicate key; write each key once"
)
for spec in "${GENERATED_CASES[@]}"; do
    file=${spec%% | *}
    EXPECT=${spec#* | }
    expect_refusal "generated/$file" "$GENERATED/$file"
done
echo
echo "$((CASES - E2E_FAILED)) of $CASES cases passed, $E2E_FAILED failed"
((E2E_FAILED == 0))
