#!/usr/bin/env bash
# The container image, built and run for real: a Docker engine of its own,
# started here with a private socket, data and exec roots and no networking
# beyond the host's (no bridge, no iptables), a debian:bookworm-slim base made
# by debootstrap, `docker build` of the top-level Dockerfile, then the image
# run with --network host and checked from the host: the image's size and
# contents, /healthz, /metrics (build_info's revision), the HEALTHCHECK, the
# user it runs as, `--set` overrides after the image name, a read-only root
# filesystem, and SIGTERM ending in exit 0.
#
# usage: container_test.sh SRC_DIR CACHE_DIR
#   CACHE_DIR keeps the debootstrap tarball between runs (made when missing).
# Needs root, dockerd + docker (Debian's docker.io) and debootstrap; exits 77
# (skipped) without them. Builds with --network host: apt inside the build
# reaches the same Debian mirror the host uses.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

(($# == 2)) || { echo "usage: $0 SRC_DIR CACHE_DIR" >&2; exit 2; }
SRC_DIR=$(cd "$1" && pwd)
CACHE_DIR=$2

(($(id -u) == 0)) || skip_test "needs root (a Docker engine of its own and debootstrap)"
for tool in dockerd debootstrap; do
    command -v "$tool" >/dev/null ||
        skip_test "$tool not found: apt-get install docker.io debootstrap (scripts/setup.sh --test does)"
done
# The client that came with this dockerd, when there is one next to it.
DOCKER=$(dirname "$(command -v dockerd)")/../bin/docker
[[ -x $DOCKER ]] || DOCKER=$(command -v docker) || skip_test "no docker client: apt-get install docker.io"
require_tools curl jq tar awk grep cmp

e2e_init
OUT=$E2E_TMP/out
ERR=$E2E_TMP/err
CASES=0
PROJECT_VERSION=$(sed -n 's/^project(corostorm VERSION \([0-9.]*\).*/\1/p' "$SRC_DIR/CMakeLists.txt")
[[ -n $PROJECT_VERSION ]] || die "no project version in $SRC_DIR/CMakeLists.txt"
IMAGE=corostorm:test-$$
# The commit built (the build context has no .git): the image's revision label
# and corostorm_build_info{revision} must both say it.
REVISION=$(git -C "$SRC_DIR" rev-parse HEAD 2>/dev/null) || REVISION=unknown
# The runtime image is the binary, the shared objects it loads, bash for the
# HEALTHCHECK, the config and the dashboards: about 12 MB. A ceiling well
# below the 60 MB aimed for, so that it cannot silently regrow.
readonly IMAGE_MAX_MB=25

# ---------------------------------------------------------- the engine ----
# Socket paths must stay under 108 bytes: a short directory of its own.
ENGINE_DIR=$(mktemp -d /tmp/cs-docker.XXXXXX)
DOCKERD_PID=""
CONTAINERS=()

stop_engine() {
    local rc=$? c
    set +e
    trap - ERR  # cleanup steps may fail quietly
    for c in "${CONTAINERS[@]}"; do "$DOCKER" rm -f "$c" >/dev/null 2>&1; done
    if [[ -n $DOCKERD_PID ]] && pid_alive "$DOCKERD_PID"; then
        "$DOCKER" rmi -f "$IMAGE" >/dev/null 2>&1
        kill -TERM "$DOCKERD_PID"
        wait_pid_exit "$DOCKERD_PID" 30 || kill -KILL "$DOCKERD_PID"
        { wait "$DOCKERD_PID"; } 2>/dev/null
    fi
    # Whatever the engine left mounted under its roots goes before the files.
    awk -v dir="$ENGINE_DIR/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf --one-file-system "$ENGINE_DIR"
    return "$rc"
}
# Runs before e2e_cleanup, which reports and removes the scratch directory.
trap 'stop_engine; e2e_cleanup' EXIT

docker_() { DOCKER_HOST=unix://$ENGINE_DIR/docker.sock "$DOCKER" "$@"; }

# --------------------------------------------------- the base image ----
ROOTFS_TAR=$CACHE_DIR/debian-bookworm-minbase.tar
case_start
t0=$SECONDS
if [[ -s $ROOTFS_TAR ]]; then
    how="cached $ROOTFS_TAR"
else
    mkdir -p "$CACHE_DIR"
    rootfs=$ENGINE_DIR/rootfs
    echo "# debootstrap --variant=minbase bookworm (about a minute, about 200 MB)"
    if debootstrap --variant=minbase bookworm "$rootfs" >"$E2E_TMP/debootstrap.log" 2>&1; then
        # apt's package lists are 60 MB of a 200 MB tree and go stale anyway.
        rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
        tar -C "$rootfs" -c . >"$ROOTFS_TAR.partial" && mv "$ROOTFS_TAR.partial" "$ROOTFS_TAR"
        rm -rf --one-file-system "$rootfs"
        how="debootstrap in $((SECONDS - t0)) s"
    else
        PROBLEMS+=("debootstrap failed: $(tail -n 3 "$E2E_TMP/debootstrap.log" | tr '\n' '|')")
    fi
fi
case_end "base root filesystem: $how"
((${#PROBLEMS[@]} == 0)) || exit 1

case_start
start_bg dockerd dockerd \
    --host "unix://$ENGINE_DIR/docker.sock" \
    --data-root "$ENGINE_DIR/data" --exec-root "$ENGINE_DIR/exec" \
    --pidfile "$ENGINE_DIR/dockerd.pid" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false
DOCKERD_PID=$BG_PID
engine_up() { pid_alive "$DOCKERD_PID" && docker_ version >/dev/null 2>&1; }
poll_until 60 engine_up || PROBLEMS+=("the engine did not answer within 60 s")
case_end "dockerd on $ENGINE_DIR/docker.sock (no bridge, no iptables)"
((${#PROBLEMS[@]} == 0)) || exit 1

case_start
docker_ import "$ROOTFS_TAR" debian:bookworm-slim >"$OUT" 2>"$ERR" || PROBLEMS+=("docker import failed: $(tail -n 2 "$ERR")")
case_end "docker import the root filesystem as debian:bookworm-slim"
((${#PROBLEMS[@]} == 0)) || exit 1

# --------------------------------------------------------- the build ----
case_start
t0=$SECONDS
BUILD_LOG=$E2E_TMP/build.log
E2E_LOGS+=("$BUILD_LOG")
if DOCKER_BUILDKIT=0 docker_ build --network host --build-arg REVISION="$REVISION" -t "$IMAGE" "$SRC_DIR" >"$BUILD_LOG" 2>&1; then
    ok_build=1
else
    ok_build=0
    PROBLEMS+=("docker build failed: $(tail -n 5 "$BUILD_LOG" | tr '\n' '|')")
fi
case_end "docker build --network host ($((SECONDS - t0)) s)"
((ok_build)) || exit 1

case_start
docker_ image inspect "$IMAGE" >"$OUT"
j() { jq -r "$1" "$OUT"; }
[[ $(j '.[0].Config.User') == 10001:10001 ]] || PROBLEMS+=("USER is '$(j '.[0].Config.User')', want 10001:10001")
[[ $(j '.[0].Config.Entrypoint | join(" ")') == /usr/local/bin/corostorm ]] ||
    PROBLEMS+=("ENTRYPOINT is '$(j '.[0].Config.Entrypoint')'")
[[ $(j '.[0].Config.Cmd | join(" ")') == run ]] || PROBLEMS+=("CMD is '$(j '.[0].Config.Cmd')', want run")
[[ $(j '.[0].Config.ExposedPorts | keys | join(" ")') == 9464/tcp ]] || PROBLEMS+=("EXPOSE is not 9464/tcp")
[[ $(j '.[0].Config.Healthcheck.Test | join(" ")') == *"/healthz"* ]] || PROBLEMS+=("no HEALTHCHECK on /healthz")
[[ $(j '.[0].Config.Env[]' | grep -c '^COROSTORM_CONFIG=/etc/corostorm/corostorm.yaml$') == 1 ]] ||
    PROBLEMS+=("COROSTORM_CONFIG is not /etc/corostorm/corostorm.yaml")
[[ $(j '.[0].Config.Labels["org.opencontainers.image.version"]') == "$PROJECT_VERSION" ]] ||
    PROBLEMS+=("label org.opencontainers.image.version is not $PROJECT_VERSION (CMakeLists.txt)")
[[ $(j '.[0].Config.Labels["org.opencontainers.image.title"]') == corostorm ]] || PROBLEMS+=("no OCI title label")
[[ $(j '.[0].Config.Labels["org.opencontainers.image.revision"]') == "$REVISION" ]] ||
    PROBLEMS+=("label org.opencontainers.image.revision is '$(j '.[0].Config.Labels["org.opencontainers.image.revision"]')', want $REVISION")
case_end "image config: USER 10001, ENTRYPOINT, CMD run, EXPOSE 9464, HEALTHCHECK, OCI labels (revision $REVISION)"

# The image's size as `docker image inspect` gives it (the sum of its layers,
# uncompressed): the same figure README quotes.
case_start
IMAGE_BYTES=$(docker_ image inspect --format '{{.Size}}' "$IMAGE")
IMAGE_MB=$(awk -v b="$IMAGE_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }')
((IMAGE_BYTES > 0 && IMAGE_BYTES <= IMAGE_MAX_MB * 1000000)) ||
    PROBLEMS+=("the image is $IMAGE_BYTES bytes ($IMAGE_MB MB), want at most $IMAGE_MAX_MB MB")
case_end "image size: $IMAGE_MB MB ($IMAGE_BYTES bytes, at most $IMAGE_MAX_MB MB)"

# What the runtime stage holds, read from the container's exported filesystem
# (the image has no shell tools to ask): the binary, the shipped config and
# schema byte for byte, the dashboards, and no compiler or package manager.
case_start
ROOT_TAR=$E2E_TMP/rootfs.tar
NAME=corostorm-test-export-$$
CONTAINERS+=("$NAME")
: >"$E2E_TMP/listing"
if docker_ create --name "$NAME" "$IMAGE" >"$OUT" 2>"$ERR" && docker_ export "$NAME" >"$ROOT_TAR" 2>"$ERR"; then
    tar -tf "$ROOT_TAR" | sed 's|^\./||' >"$E2E_TMP/listing"
    for f in corostorm.yaml corostorm.schema.json; do
        if tar -xOf "$ROOT_TAR" "etc/corostorm/$f" >"$E2E_TMP/$f" 2>"$ERR"; then
            cmp -s "$E2E_TMP/$f" "$SRC_DIR/config/$f" || PROBLEMS+=("/etc/corostorm/$f differs from config/$f")
        else
            PROBLEMS+=("no /etc/corostorm/$f in the image")
        fi
    done
    for d in overview.json latency.json memory.json; do
        grep -q "^usr/share/corostorm/dashboards/$d\$" "$E2E_TMP/listing" || PROBLEMS+=("dashboards/$d missing")
    done
    grep -q '^usr/local/bin/corostorm$' "$E2E_TMP/listing" || PROBLEMS+=("no /usr/local/bin/corostorm")
    # Every shared object the build recorded is in the image, the C library among them.
    if tar -xOf "$ROOT_TAR" usr/share/corostorm/runtime-libraries >"$E2E_TMP/libs" 2>"$ERR"; then
        grep -q ' libc6:' "$E2E_TMP/libs" || PROBLEMS+=("runtime-libraries does not name libc6")
        while read -r lib _; do
            grep -qxF "${lib#/}" "$E2E_TMP/listing" || PROBLEMS+=("runtime-libraries names $lib, not in the image")
        done <"$E2E_TMP/libs"
    else
        PROBLEMS+=("no /usr/share/corostorm/runtime-libraries in the image")
    fi
    tools=$(grep -E '(^|/)(g\+\+|gcc|cc1plus|c\+\+|cc|cmake|make|ld|as|apt|apt-get|dpkg)(-[0-9.]+)?$' "$E2E_TMP/listing" || true)
    [[ -z $tools ]] || PROBLEMS+=("the runtime image carries a toolchain or package manager: $(echo "$tools" | tr '\n' ' ')")
else
    PROBLEMS+=("could not export the image's filesystem: $(tail -n 2 "$ERR")")
fi
docker_ run --rm --network host "$IMAGE" --version >"$OUT" 2>"$ERR" || PROBLEMS+=("corostorm --version failed: $(<"$ERR")")
grep -q "^corostorm $PROJECT_VERSION " "$OUT" || PROBLEMS+=("corostorm --version does not say $PROJECT_VERSION")
case_end "runtime stage: binary, shipped config and schema, dashboards, no toolchain ($(wc -l <"$E2E_TMP/listing") entries)"

# ------------------------------------------------- run: shipped config ----
# `docker run IMAGE` with nothing after it: the shipped config, on 9464.
DEFAULT_PORT=9464
if port_in_use "$DEFAULT_PORT"; then
    echo "skip - the shipped config in a container: port $DEFAULT_PORT is in use on this host"
else
    case_start
    NAME=corostorm-test-default-$$
    CONTAINERS+=("$NAME")
    docker_ run -d --name "$NAME" --network host "$IMAGE" >"$OUT" 2>"$ERR" || PROBLEMS+=("docker run failed: $(<"$ERR")")
    url=http://127.0.0.1:$DEFAULT_PORT
    healthz_200() { status_is 200 "$url/healthz"; }
    poll_until 60 healthz_200 || PROBLEMS+=("no 200 from $url/healthz within 60 s")
    http_get "$url/metrics"
    [[ $HTTP_STATUS == 200 ]] || PROBLEMS+=("/metrics answered $HTTP_STATUS")
    metric_value "$HTTP_BODY_FILE" corostorm_build_info "version=$PROJECT_VERSION" "revision=$REVISION" >/dev/null ||
        PROBLEMS+=("no corostorm_build_info{version=\"$PROJECT_VERSION\",revision=\"$REVISION\"} in /metrics: $(grep '^corostorm_build_info' "$HTTP_BODY_FILE")")
    target=$(metric_value "$HTTP_BODY_FILE" corostorm_tasks_target || echo "")
    num_cmp "${target:-0}" '>' 0 || PROBLEMS+=("corostorm_tasks_target is '$target', want > 0 (the ramp)")
    # The process as the kernel sees it: its real and effective uid.
    pid=$(docker_ inspect -f '{{.State.Pid}}' "$NAME")
    uids=$(awk '/^Uid:/ { print $2, $3 }' "/proc/$pid/status")
    [[ $uids == "10001 10001" ]] || PROBLEMS+=("the process runs as uid '$uids', want 10001")
    healthy() { [[ $(docker_ inspect -f '{{.State.Health.Status}}' "$NAME") == healthy ]]; }
    poll_until 60 healthy || PROBLEMS+=("HEALTHCHECK status is '$(docker_ inspect -f '{{.State.Health.Status}}' "$NAME")' after 60 s")
    case_end "docker run IMAGE: /healthz 200, /metrics (build_info revision), uid 10001, HEALTHCHECK healthy"

    case_start
    t0=$SECONDS
    docker_ kill --signal TERM "$NAME" >/dev/null
    rc=$(timeout 60 "$DOCKER" -H "unix://$ENGINE_DIR/docker.sock" wait "$NAME" || echo timeout)
    took=$((SECONDS - t0))
    [[ $rc == 0 ]] || PROBLEMS+=("exit code '$rc' after SIGTERM, want 0")
    ((took <= 30)) || PROBLEMS+=("took ${took}s to stop, want at most 30 s")
    docker_ logs "$NAME" >"$OUT" 2>&1
    grep -q 'starting' "$OUT" || PROBLEMS+=("no start line in the container's log")
    no_crash_reports "$OUT" || PROBLEMS+=("a crash report in the container's log")
    case_end "SIGTERM: exit 0 in ${took} s"
fi

# ----------------------------- run: overrides, read-only root filesystem ----
# As deploy/kubernetes runs it: read-only root, no capabilities, no privilege
# escalation, a tmpfs /tmp. Overrides after the image name, list items by index.
case_start
NAME=corostorm-test-overrides-$$
CONTAINERS+=("$NAME")
port=19465
while port_in_use "$port"; do port=$((port + 1)); done
docker_ run -d --name "$NAME" --network host --read-only --tmpfs /tmp --cap-drop ALL \
    --security-opt no-new-privileges "$IMAGE" \
    --set "server.listen=127.0.0.1:$port" --set 'scenario.stages[0].tasks=5k' --set 'scenario.stages[0].over=1s' \
    >"$OUT" 2>"$ERR" || PROBLEMS+=("docker run failed: $(<"$ERR")")
url=http://127.0.0.1:$port
reached_5k() {
    http_get "$url/metrics"
    [[ $HTTP_STATUS == 200 ]] || return 1
    [[ $(metric_value "$HTTP_BODY_FILE" corostorm_tasks_live || echo 0) == 5000 ]]
}
poll_until 60 reached_5k || PROBLEMS+=("tasks_live did not reach 5000 (stages[0].tasks=5k) within 60 s")
target=$(metric_value "$HTTP_BODY_FILE" corostorm_tasks_target || echo "")
[[ $target == 5000 ]] || PROBLEMS+=("corostorm_tasks_target is '$target', want 5000")
[[ $(docker_ inspect -f '{{.State.Running}}' "$NAME") == true ]] || PROBLEMS+=("the container is not running")
docker_ kill --signal TERM "$NAME" >/dev/null 2>&1 || true
rc=$(timeout 60 "$DOCKER" -H "unix://$ENGINE_DIR/docker.sock" wait "$NAME" || echo timeout)
[[ $rc == 0 ]] || PROBLEMS+=("exit code '$rc' after SIGTERM, want 0")
case_end "--read-only --cap-drop ALL, --set 'scenario.stages[0].tasks=5k' after the image name"

# A bad override is refused before anything starts: exit 2, the key named.
case_start
docker_ run --rm --network host "$IMAGE" --set 'runtime.threads=99999' >"$OUT" 2>"$ERR" && rc=0 || rc=$?
[[ $rc == 2 ]] || PROBLEMS+=("exit code $rc, want 2")
grep -q -F 'runtime.threads' "$ERR" || PROBLEMS+=("the message does not name runtime.threads")
case_end "docker run IMAGE --set runtime.threads=99999: exit 2"

echo
echo "$((CASES - E2E_FAILED)) of $CASES cases passed, $E2E_FAILED failed"
((E2E_FAILED == 0))
