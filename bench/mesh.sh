#!/usr/bin/env bash
# Runs bench/mesh.ts (routing mesh vs direct with wrk, overlay vs underlay with iperf3, in a lab)
# after preparing the machine; installs wrk and iperf3 (bench-only tools, not needed by CI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v iperf3 >/dev/null 2>&1 || need+=(iperf3)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
exec node dist/bench/mesh.js "$@"
