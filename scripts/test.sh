#!/usr/bin/env bash
# The test command of the README: prepares the machine (scripts/setup.sh), then runs every test —
# unit tests beside the code, the Raft simulator sweep, and integration tests against the real
# Docker Engine — in one node test run, ending with node's pass/fail summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent lint
mapfile -t files < <(find dist/src dist/test -name '*.test.js' 2>/dev/null | sort)
exec node --test --test-reporter=spec --test-concurrency=1 "${files[@]}"
