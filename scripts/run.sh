#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running daemon: installs the
# dependencies, builds the release binary and runs it on the shipped config.
# Extra arguments go to corostorm, e.g. scripts/run.sh --set runtime.threads=1
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target corostorm
echo "corostorm: metrics on http://localhost:9464/metrics (Ctrl-C drains and stops)"
exec build/release/src/corostorm -c config/corostorm.yaml "$@"
