#!/usr/bin/env bash
# One command that installs, builds and runs every test:
#   release  unit + end-to-end tests (real binary, real Prometheus)
#   dev      the same under AddressSanitizer + UBSan (leak checking on)
#   tsan     unit and integration tests under ThreadSanitizer
# Each preset is built once and its tests run from that build.
# scripts/test.sh PRESET... runs only those presets.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

presets=("$@")
[[ ${#presets[@]} -gt 0 ]] || presets=(release dev tsan)
for preset in "${presets[@]}"; do
  echo "=== $preset: configure and build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "=== $preset: test"
  case "$preset" in
    tsan) ctest --preset "$preset" -L 'unit|integration' ;;
    # The soak test's two minutes are spent once, on the release binary.
    dev) ctest --preset "$preset" -LE soak ;;
    *) ctest --preset "$preset" ;;
  esac
done
echo "=== all tests passed: ${presets[*]}"
