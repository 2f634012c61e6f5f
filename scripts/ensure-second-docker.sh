#!/usr/bin/env bash
# Start a second Docker engine for the multi-engine tests (DOCKER_HOSTS, issue 16) and load the base image
# into it. Idempotent; prints the engine's endpoint (unix://...) on stdout. Needs root.
#
# The engine stands for a Docker host the bot does not share a network with:
# - it runs in its own network namespace (`ip netns add codegen-bot-docker2`, entered with `nsenter --net`:
#   `ip netns exec` remounts /sys and hides the cgroup file system from dockerd). So it has its own loopback,
#   bridges and iptables, never fights the first engine over docker0, its iptables chains (its iptables stay
#   on: `--iptables=false` would leave no DOCKER-USER chain for the snapshot firewall, and both engines
#   rewriting one set of chains would break the first) or its address pools, and the bot cannot route to its
#   containers' addresses, as with a remote host. Test it as `DOCKER_HOSTS=...,unix://SOCK?remote=true`: the
#   health check and the snapshot firewall then go through containers on it (validators/engine_host.py);
# - its own socket, data root, exec root and pid file (SECOND_DOCKER_* below), and its own containerd (dockerd
#   starts one under its exec root);
# - `--bridge=none`: no default bridge (snapshots never use it); address pools in 10.213.0.0/16;
# - the namespace has no way out: snapshots on this engine reach no network but their own (enough for tests
#   that download nothing); the snapshot firewall's rules are in the namespace too;
# - the base image (and the browser image, when the first engine has it) comes from the first engine
#   (`docker save | docker load`, no registry).
# Stop it: `kill $(cat /run/codegen-bot-docker2.pid)` (the namespace may stay; it is reused).
set -euo pipefail

NS="${SECOND_DOCKER_NETNS:-codegen-bot-docker2}"
SOCK="${SECOND_DOCKER_SOCKET:-/run/codegen-bot-docker2.sock}"
ROOT_DIR="${SECOND_DOCKER_DATA_ROOT:-/var/lib/codegen-bot-docker2}"
EXEC_DIR="${SECOND_DOCKER_EXEC_ROOT:-/run/codegen-bot-docker2}"
PIDFILE="${SECOND_DOCKER_PIDFILE:-/run/codegen-bot-docker2.pid}"
IMAGE="${CODEGEN_BOT_BASE_IMAGE:-codegen-bot-base:bookworm}"
WAIT="${DOCKERD_WAIT:-60}"
LOG=/tmp/codegen-bot-docker2.log
LOCK=/tmp/codegen-bot-ensure-second-docker.lock
HOST="unix://$SOCK"

die() { echo "ensure-second-docker: $*" >&2; exit 1; }
say() { echo "ensure-second-docker: $*" >&2; }
up() { docker -H "$HOST" info >/dev/null 2>&1; }

BROWSER_IMAGE="${CODEGEN_BOT_BROWSER_IMAGE:-codegen-bot-browser:bookworm}"
has2() { docker -H "$HOST" image inspect "$1" >/dev/null 2>&1; }
if up && has2 "$IMAGE" && { has2 "$BROWSER_IMAGE" || ! docker image inspect "$BROWSER_IMAGE" >/dev/null 2>&1; }; then
  echo "$HOST"; exit 0
fi
exec 9>"$LOCK"
flock -w 600 9 || die "another ensure-second-docker.sh holds $LOCK"
[ "$(id -u)" -eq 0 ] || die "only root can start a second dockerd"
command -v dockerd >/dev/null 2>&1 || die "dockerd is not installed (scripts/ensure-docker.sh installs it)"
command -v ip >/dev/null 2>&1 || die "ip (iproute2) is not installed"
docker image inspect "$IMAGE" >/dev/null 2>&1 || die "the first engine has no $IMAGE (scripts/ensure-docker.sh)"

if ! up; then
  ip netns list | grep -qw "$NS" || ip netns add "$NS" || die "ip netns add $NS failed"
  ip netns exec "$NS" ip link set lo up
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    say "dockerd $(cat "$PIDFILE") is running but does not answer yet; waiting"
  else
    rm -f "$PIDFILE" "$SOCK"
    mkdir -p "$ROOT_DIR" "$EXEC_DIR"
    say "starting the second dockerd in network namespace $NS (log: $LOG)"
    setsid nohup nsenter --net="/run/netns/$NS" dockerd --host "$HOST" --data-root "$ROOT_DIR" --exec-root "$EXEC_DIR" \
      --pidfile "$PIDFILE" --bridge=none --default-address-pool base=10.213.0.0/16,size=24 \
      >>"$LOG" 2>&1 </dev/null 9>&- &
  fi
  for _ in $(seq 1 "$WAIT"); do up && break; sleep 1; done
  up || die "the second dockerd did not answer within ${WAIT}s; last lines of $LOG:
$(tail -n 20 "$LOG" 2>/dev/null)"
fi

if ! has2 "$IMAGE"; then
  say "loading $IMAGE into the second engine"
  docker save "$IMAGE" | docker -H "$HOST" load >/dev/null || die "docker load of $IMAGE failed"
fi
# the browser image (web evaluation on this engine), when the first engine has it: optional
if docker image inspect "$BROWSER_IMAGE" >/dev/null 2>&1 && ! has2 "$BROWSER_IMAGE"; then
  say "loading $BROWSER_IMAGE into the second engine"
  docker save "$BROWSER_IMAGE" | docker -H "$HOST" load >/dev/null || say "docker load of $BROWSER_IMAGE failed"
fi
echo "$HOST"
