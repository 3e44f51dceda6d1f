#!/usr/bin/env bash
# Runs bench/rollout.ts after preparing the machine. Never runs shoal and Docker Swarm at once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/bench/rollout.js "$@"
