#!/usr/bin/env bash
# Builds every RootED image from docker/Dockerfile: one per service, rootedctl
# and the services' Redis. Tags are <prefix>/<name>:<tag>.
#   docker/build-images.sh [--prefix=rooted] [--tag=dev] [--engine=docker|podman]
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=rooted
TAG=dev
ENGINE=$(command -v docker >/dev/null 2>&1 && echo docker || echo podman)
for arg in "$@"; do
  case "$arg" in
    --prefix=*) PREFIX="${arg#*=}" ;;
    --tag=*) TAG="${arg#*=}" ;;
    --engine=*) ENGINE="${arg#*=}" ;;
    *) echo "usage: $0 [--prefix=rooted] [--tag=dev] [--engine=docker|podman]" >&2; exit 2 ;;
  esac
done
command -v "$ENGINE" >/dev/null 2>&1 || { echo "$0: no $ENGINE here; install Docker or Podman" >&2; exit 1; }
for target in $(docker/image-targets.sh); do
  echo "== $PREFIX/$target:$TAG"
  "$ENGINE" build -f docker/Dockerfile --target "$target" -t "$PREFIX/$target:$TAG" .
done
