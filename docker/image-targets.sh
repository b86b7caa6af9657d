#!/usr/bin/env bash
# The images docker/Dockerfile builds (its named stages, less build and runtime).
set -euo pipefail
cd "$(dirname "$0")"
awk 'toupper($1) == "FROM" && toupper($3) == "AS" && $4 != "build" && $4 != "runtime" { print $4 }' Dockerfile
