#!/usr/bin/env bash
# The main job: a one-node shoal cluster on the local Docker Engine running a sample application.
# Sets the machine up (scripts/setup.sh), starts `shoal daemon` in the background (unless one already
# answers), initialises the swarm, deploys a sample web service and shows node ls / service ls /
# service ps. The daemon keeps running afterwards; `bash scripts/demo.sh --down` stops it and removes
# the sample service and the swarm.
set -euo pipefail
cd "$(dirname "$0")/.."
SOCK=/run/shoal/shoal.sock
DATA=/var/lib/shoal
PIDFILE=/run/shoal/shoal.pid
LOG=/var/log/shoal.log
export DOCKER_HOST="unix://$SOCK"
shoal() { node bin/shoal "$@"; }

if [ "${1:-}" = "--down" ]; then
  if [ -S "$SOCK" ]; then
    shoal stack rm demo >/dev/null 2>&1 || true
    # Let the tasks go (their containers and secret tmpfs mounts) before the daemon does.
    for _ in $(seq 1 60); do
      [ -z "$(DOCKER_HOST=unix:///var/run/docker.sock docker ps -aq --filter label=com.docker.stack.namespace=demo)" ] && break
      sleep 0.5
    done
    shoal swarm leave --force >/dev/null 2>&1 || true
  fi
  if [ -f "$PIDFILE" ]; then kill "$(cat "$PIDFILE")" 2>/dev/null || true; rm -f "$PIDFILE"; fi
  echo "shoal stopped"
  exit 0
fi

bash scripts/setup.sh
mkdir -p /run/shoal
if ! docker version >/dev/null 2>&1; then
  echo "starting shoal daemon (log: $LOG)"
  nohup node bin/shoal daemon --data-root "$DATA" --host "unix://$SOCK" >"$LOG" 2>&1 &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 60); do docker version >/dev/null 2>&1 && break; sleep 0.5; done
fi

if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then
  shoal swarm init --advertise-addr 127.0.0.1
fi
echo; echo "\$ shoal stack deploy -c examples/demo-stack.yml --detach=false demo"
shoal stack deploy -c examples/demo-stack.yml --resolve-image never --detach=false demo
echo; echo "\$ docker node ls"; docker node ls
echo; echo "\$ docker stack services demo"; docker stack services demo
echo; echo "\$ docker stack ps demo"; docker stack ps demo
fetch() {
  if command -v curl >/dev/null 2>&1; then curl -s --max-time 3 "$1"; else busybox timeout 3 busybox wget -qO- "$1"; fi
}
echo; echo "\$ for i in 1 2 3 4 5 6; do curl http://127.0.0.1:8080; done    # the routing mesh, round robin"
for _ in $(seq 1 30); do fetch http://127.0.0.1:8080/ >/dev/null 2>&1 && break; sleep 1; done
for _ in 1 2 3 4 5 6; do fetch http://127.0.0.1:8080/ || echo "(no answer)"; done
cat <<TXT

shoal is running (pid $(cat "$PIDFILE" 2>/dev/null || echo '?'), log $LOG). Drive it with the docker CLI:
    export DOCKER_HOST=unix://$SOCK
    docker service scale demo_web=5
    curl http://127.0.0.1:8080/        # any replica answers, through the routing mesh
    docker stack ps demo
Stop it with: bash scripts/demo.sh --down
TXT
