#!/usr/bin/env bash
# Installs everything RootED builds and tests with, from Debian's packages and
# the npm registry only. Safe to run again: installed packages are skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librdkafka-dev libhiredis-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev nlohmann-json3-dev libabsl-dev
  libyaml-cpp-dev redis-server yamllint openssl tzdata
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere (nvm, NodeSource); only ask Debian
# for them when there is none.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# buf (protobuf lint and breaking-change checks) from the npm registry, pinned
# by package-lock.json.
if [ ! -x node_modules/.bin/buf ]; then
  echo "setup: installing buf from npm"
  npm ci --no-audit --no-fund --silent
fi
