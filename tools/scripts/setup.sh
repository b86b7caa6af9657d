#!/usr/bin/env bash
# Installs everything RootED builds and tests with, from Debian's packages and
# the npm registry only. Safe to run again: installed packages are skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."

# What building needs, and what the tests and deploy checks add.
# ROOTED_SETUP=build (the container build) installs only the first.
BUILD_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librdkafka-dev libhiredis-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev nlohmann-json3-dev libabsl-dev libyaml-cpp-dev libgoogle-perftools-dev tzdata
)
TEST_PACKAGES=(redis-server openssl yamllint prometheus python3-yaml python3-jsonschema curl)
BUILD_ONLY=0
[ "${ROOTED_SETUP:-all}" = "build" ] && BUILD_ONLY=1
PACKAGES=("${BUILD_PACKAGES[@]}")
[ "$BUILD_ONLY" = "1" ] || PACKAGES+=("${TEST_PACKAGES[@]}")
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere (nvm, NodeSource); only ask Debian
# for them when there is none.
if [ "$BUILD_ONLY" != "1" ]; then
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# buf (protobuf lint and breaking-change checks) from the npm registry, pinned
# by package-lock.json.
if [ "$BUILD_ONLY" != "1" ] && [ ! -x node_modules/.bin/buf ]; then
  echo "setup: installing buf from npm"
  npm ci --no-audit --no-fund --silent
fi
