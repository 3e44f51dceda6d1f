#!/usr/bin/env bash
# Builds shoal's test images locally, with no registry: a rootfs holding Debian's static busybox,
# imported with `docker import`. Idempotent: existing images are kept unless --force is given.
#   shoal-test/busybox:1  busybox applets (sh, sleep, httpd, nc, wget, nslookup, ...)
#   shoal-test/busybox:2  the same plus /VERSION containing 2 (so it differs from :1)
#   shoal-test/fail:1     default command exits 1 at once
#   shoal-test/httpd:1    default command serves /var/www on port 80 (a server that stops on SIGTERM)
set -euo pipefail
DOCKER_HOST="${RUNTIME_HOST:-unix:///var/run/docker.sock}"
export DOCKER_HOST
force="${1:-}"
busybox="$(command -v busybox || true)"
[ -n "$busybox" ] || { echo "busybox-static is not installed (apt-get install busybox-static)" >&2; exit 1; }

have() { docker image inspect "$1" >/dev/null 2>&1; }

build() { # name version cmd
  local name="$1" version="$2" cmd="$3"
  if [ "$force" != "--force" ] && have "$name"; then return; fi
  local root
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' RETURN
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/var/www" "$root/root"
  cp "$busybox" "$root/bin/busybox"
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
  echo 'nobody:x:65534:65534:nobody:/:/bin/false' >> "$root/etc/passwd"
  echo 'root:x:0:' > "$root/etc/group"
  echo 'nogroup:x:65534:' >> "$root/etc/group"
  echo "shoal test page" > "$root/var/www/index.html"
  [ -n "$version" ] && echo "$version" > "$root/VERSION"
  tar -C "$root" -c . | docker import --change "CMD $cmd" --change 'ENV PATH=/bin' - "$name" >/dev/null
  echo "built $name"
}

build shoal-test/busybox:1 "" '["sh"]'
build shoal-test/busybox:2 "2" '["sh"]'
build shoal-test/fail:1 "" '["false"]'
# PID 1 gets no default signal actions: the shell traps TERM so a stop is as quick as nginx's.
build shoal-test/httpd:1 "" '["sh","-c","trap \"exit 0\" TERM; httpd -f -p 80 -h /var/www & wait"]'
