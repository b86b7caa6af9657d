#!/usr/bin/env bash
# Stops the local stack started by run-local.sh (SIGTERM: services drain first).
set -uo pipefail
cd "$(dirname "$0")/../.."
# The broker's supervisor first, so it does not start the broker again.
for name in fund-payments directory-triage forum-scheduling risk-scoring referral-intake broker-supervisor broker redis; do
  pidfile=".run/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
  echo "stopped $name"
done
