#!/usr/bin/env bash
# Configures and builds into build/ (or $ROOTED_BUILD_DIR). Extra arguments
# go to CMake, e.g. -DROOTED_SANITIZE=ON. The container build (docker/Dockerfile)
# runs this same script.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR="${ROOTED_BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja "$@" >/dev/null
# ROOTED_BUILD_TARGETS: only these targets (the container images build just the binaries they ship).
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j"$(nproc)" ${ROOTED_BUILD_TARGETS:+--target $ROOTED_BUILD_TARGETS}
