#!/usr/bin/env bash
# Installs what corostorm needs from Debian 12 packages, and nothing else.
#   scripts/setup.sh          build and run dependencies
#   scripts/setup.sh --test   also what the tests need (Prometheus + promtool, jq, Go, Python
#                             with jsonschema and yaml, docker-compose, node + npm, Docker +
#                             debootstrap, clang + libFuzzer)
# The Dockerfile's build stage uses this same script: one list of dependencies.
set -euo pipefail

packages=(
  cmake g++ make pkg-config ca-certificates
  libboost1.81-dev          # Boost.Asio/Beast 1.81; never libboost-dev (that is 1.74)
  libspdlog-dev nlohmann-json3-dev prometheus-cpp-dev libyaml-cpp-dev libcli11-dev
  zlib1g-dev                # gzip for /metrics
  curl
)
test_packages=(
  libgtest-dev libgmock-dev libbenchmark-dev
  prometheus                # the real server for the end-to-end test, and promtool
  jq
  golang-go                 # Go 1.19: builds bench/peers/go for tests/peers, bench/compare and prove --against-go
  python3                   # dashboards/generate.py: the dashboard test checks its output
  python3-yaml              # deploy/kubernetes/generate.py, tests/deploy/alerts_check.py, the schema test
  python3-jsonschema        # config/corostorm.schema.json checked against the config corpus
  docker-compose            # `docker-compose config` checks deploy/compose (no engine needed)
  nodejs npm                # validate deploy/kubernetes against the Kubernetes schemas
  docker.io debootstrap     # the container test: its own engine and a debian:bookworm-slim base
  clang libclang-rt-14-dev  # the config fuzzer (tests/fuzz): clang++ and its libFuzzer, ASan and UBSan runtimes
  llvm-14                   # llvm-symbolizer: file and line in the fuzzer's crash reports
)
# npm packages for the Kubernetes manifest test, into build/npm (the test's
# default COROSTORM_NPM_DIR). Major versions pinned: the newer ones need a
# newer node than Debian 12's 18.
npm_packages=(kubernetes-models@4 @kubernetes-models/validate@4 @kubernetes-models/prometheus-operator@4 yaml@2)

want=("${packages[@]}")
with_tests=0
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${test_packages[@]}"); with_tests=1 ;;
    *) echo "usage: $0 [--test]" >&2; exit 2 ;;
  esac
done
# The test framework is also needed to configure the default build.
want+=(libgtest-dev libgmock-dev)

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi

missing=()
for p in "${want[@]}"; do
  # A nodejs that bundles its own npm (NodeSource's) conflicts with Debian's npm package.
  [[ $p == npm ]] && command -v npm >/dev/null && continue
  # An engine from elsewhere (docker-ce) conflicts with Debian's docker.io.
  [[ $p == docker.io ]] && command -v dockerd >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#want[@]} packages already installed"
else
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ((with_tests)); then
  npm_dir=$(cd "$(dirname "$0")/.." && pwd)/build/npm
  if [[ -f $npm_dir/.corostorm-installed && $(<"$npm_dir/.corostorm-installed") == "${npm_packages[*]}" ]]; then
    echo "setup: npm packages already in $npm_dir"
  else
    echo "setup: npm install into $npm_dir: ${npm_packages[*]}"
    mkdir -p "$npm_dir"
    npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error "${npm_packages[@]}" >/dev/null
    echo "${npm_packages[*]}" >"$npm_dir/.corostorm-installed"
  fi
fi
