#!/usr/bin/env bash
# Runs bench/raft/bench.ts: shoal's Raft vs a 3-member etcd (Debian's etcd-server, installed here
# when missing). Needs no Docker Engine.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v etcd >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq etcd-server >/dev/null
fi
[ -d node_modules ] || npm ci --silent
npm run --silent build
exec node dist/bench/raft/bench.js "$@"
