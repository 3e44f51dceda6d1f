#!/usr/bin/env bash
# Prepares a fresh Debian machine for shoal (idempotent): system packages, a running Docker Engine,
# node modules, the build, and the local test images. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v nft >/dev/null 2>&1 || need+=(nftables)
# The Raft ENOSPC test fills a small loop-mounted ext4 filesystem.
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
command -v losetup >/dev/null 2>&1 || need+=(mount)
command -v fallocate >/dev/null 2>&1 || need+=(util-linux)
# The routing-mesh lab test builds a tiny static UDP responder (busybox's nc has no UDP).
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
# The visualizer's page tests run in real headless Chromium (playwright-core drives it).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

bash scripts/engine.sh

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
bash scripts/test-images.sh
