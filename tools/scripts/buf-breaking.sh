#!/usr/bin/env bash
# Contracts stay wire-compatible with main: buf breaking compares the working
# tree's proto/ with proto/ on the main branch. Outside a git checkout, or in
# one without a main branch, there is nothing to compare with: exit 77 (CTest
# reports the test as skipped, not passed).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
if ! git rev-parse --verify --quiet refs/heads/main >/dev/null 2>&1; then
  echo "no main branch to compare with: skipped"
  exit 77
fi
exec node_modules/.bin/buf breaking proto --against '.git#branch=main,subdir=proto'
