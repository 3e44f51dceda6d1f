#!/usr/bin/env bash
# Starts the local Docker Engine in the background when none answers (CI machines have no init system).
set -euo pipefail
if docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; then exit 0; fi
echo "starting dockerd"
mkdir -p /var/log
nohup dockerd >/var/log/shoal-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  docker -H unix:///var/run/docker.sock version >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "dockerd did not start; see /var/log/shoal-dockerd.log" >&2
tail -20 /var/log/shoal-dockerd.log >&2 || true
exit 1
