#!/usr/bin/env bash
# Make sure a Docker daemon answers and the snapshot base image exists. Idempotent; called by
# `make test`, `make run` and the test fixtures.
#
#   1. docker.io and debootstrap are installed with apt when missing (needs root);
#   2. when no daemon answers, dockerd is started in the background (log: /tmp/dockerd.log) and the
#      socket is awaited for at most DOCKERD_WAIT seconds (default 60);
#   3. when the image codegen-bot-base:bookworm is missing it is built without any registry:
#      `debootstrap --variant=minbase` (python3, venv, pip, git, ca-certificates, curl) then `docker import`;
#   4. when the image codegen-bot-browser:bookworm (web evaluation's browser) is missing it is built from
#      the base image, again without any registry: a container apt-installs Debian's `chromium`,
#      `fonts-liberation` and `iptables` (from the suite, its -updates and its -security archive, so
#      Chromium carries Debian's security updates), adds the unprivileged user `browser` (uid 10001), and is
#      kept with `docker commit`.
#
# Decisions:
# - A lock (flock) serialises concurrent callers (parallel test sessions, `make run` beside `make test`),
#   so the image is built once and dockerd is started once.
# - The image sets PIP_BREAK_SYSTEM_PACKAGES=1: the container is throw-away, so a plain
#   `pip install -r requirements.txt` must work as it does in the python:* images (Debian's PEP 668
#   marker would refuse it otherwise). LANG=C.UTF-8 and PYTHONUNBUFFERED=1 make logs readable at once.
# - The default command sleeps forever: snapshots run their steps with `docker exec`.
# - Proxy variables of this shell (http_proxy, https_proxy, no_proxy) are passed to apt/debootstrap as
#   they are; nothing is baked into the image.
# - The browser image is made with `docker run` + `docker commit`, not `docker build`: no builder (BuildKit
#   or buildx) is needed and nothing tries to resolve the base image on a registry. Its build container
#   carries no snapshot label (a concurrent `cleanup_leftovers` must not remove it mid-build); it is removed
#   by name when the build ends, however it ends. Rebuild: `docker rmi codegen-bot-browser:bookworm`.
set -euo pipefail

IMAGE="${CODEGEN_BOT_BASE_IMAGE:-codegen-bot-base:bookworm}"
SUITE="${CODEGEN_BOT_BASE_SUITE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
WAIT="${DOCKERD_WAIT:-60}"
BROWSER_IMAGE="${CODEGEN_BOT_BROWSER_IMAGE:-codegen-bot-browser:bookworm}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
LOG=/tmp/dockerd.log
LOCK=/tmp/codegen-bot-ensure-docker.lock

die() { echo "ensure-docker: $*" >&2; exit 1; }
say() { echo "ensure-docker: $*" >&2; }

# Fast path, no lock: a daemon answers and both images are there (the usual case).
if docker info >/dev/null 2>&1 && docker image inspect "$IMAGE" "$BROWSER_IMAGE" >/dev/null 2>&1; then
  exit 0
fi

exec 9>"$LOCK"
flock -w 900 9 || die "another ensure-docker.sh holds $LOCK for more than 15 minutes"

# --- 1. packages ------------------------------------------------------------------------------
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing ${need[*]}; run as root or install them"
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  # shellcheck disable=SC2046
  apt-get install -y -qq $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null || die "apt-get install ${need[*]} failed"
fi

# --- 2. daemon --------------------------------------------------------------------------------
daemon_up() { docker info >/dev/null 2>&1; }

if ! daemon_up; then
  [ "$(id -u)" -eq 0 ] || die "no Docker daemon answers and only root can start one"
  if pgrep -x dockerd >/dev/null 2>&1; then
    say "dockerd is running but does not answer yet; waiting"
  else
    say "starting dockerd (log: $LOG)"
    # setsid: the daemon outlives this script and the make/pytest process that called it
    # fd 9 (the lock) is closed for the daemon: it must not hold the lock for the rest of its life
    setsid nohup dockerd >>"$LOG" 2>&1 </dev/null 9>&- &
  fi
  for _ in $(seq 1 "$WAIT"); do
    daemon_up && break
    sleep 1
  done
  daemon_up || die "dockerd did not answer within ${WAIT}s; last lines of $LOG:
$(tail -n 20 "$LOG" 2>/dev/null)"
fi

# --- 3. base image ----------------------------------------------------------------------------
build_base() {
  [ "$(id -u)" -eq 0 ] || die "image $IMAGE is missing and debootstrap needs root"
  ROOT="$(mktemp -d /tmp/codegen-bot-rootfs.XXXXXX)"
  trap 'rm -rf "$ROOT"' EXIT
  say "building $IMAGE with debootstrap ($SUITE from $MIRROR; about a minute)"
  if ! debootstrap --variant=minbase \
        --include=python3,python3-venv,python3-pip,git,ca-certificates,curl \
        "$SUITE" "$ROOT" "$MIRROR" >/tmp/codegen-bot-debootstrap.log 2>&1; then
    die "debootstrap failed; last lines of /tmp/codegen-bot-debootstrap.log:
$(tail -n 20 /tmp/codegen-bot-debootstrap.log)"
  fi
  # smaller image: package lists and caches are not needed at run time
  rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/tmp/* 2>/dev/null || true
  tar --numeric-owner -C "$ROOT" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PYTHONUNBUFFERED=1' \
    --change 'ENV PIP_BREAK_SYSTEM_PACKAGES=1' \
    --change 'ENV DEBIAN_FRONTEND=noninteractive' \
    --change 'WORKDIR /workspace' \
    --change 'LABEL org.opencontainers.image.title=codegen-bot-base' \
    --change 'CMD ["sleep", "infinity"]' \
    - "$IMAGE" >/dev/null || die "docker import of $IMAGE failed"
  docker image inspect "$IMAGE" >/dev/null 2>&1 || die "image $IMAGE missing after import"
  rm -rf "$ROOT"
  trap - EXIT
  say "built $IMAGE"
}

docker image inspect "$IMAGE" >/dev/null 2>&1 || build_base

# --- 4. browser image (web evaluation) ---------------------------------------------------------
build_browser() {
  local name="codegen-bot-browser-build-$$" log=/tmp/codegen-bot-browser-build.log
  say "building $BROWSER_IMAGE (Debian's chromium on $IMAGE; a minute or two)"
  docker rm -f "$name" >/dev/null 2>&1 || true
  trap 'docker rm -f '"$name"' >/dev/null 2>&1 || true' EXIT
  # shellcheck disable=SC2016
  if ! docker run --name "$name" -e http_proxy -e https_proxy -e no_proxy \
        -e SUITE="$SUITE" -e MIRROR="$MIRROR" -e SECURITY_MIRROR="$SECURITY_MIRROR" "$IMAGE" sh -ec '
      printf "deb %s %s-updates main\ndeb %s %s-security main\n" "$MIRROR" "$SUITE" "$SECURITY_MIRROR" "$SUITE" \
        > /etc/apt/sources.list.d/codegen-bot-updates.list
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends chromium fonts-liberation iptables >/dev/null
      useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin browser
      rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /tmp/* /root/.cache
      chromium --version' >"$log" 2>&1; then
    die "building $BROWSER_IMAGE failed; last lines of $log:
$(tail -n 20 "$log")"
  fi
  docker commit \
    --change 'USER browser' \
    --change 'WORKDIR /home/browser' \
    --change 'LABEL org.opencontainers.image.title=codegen-bot-browser' \
    --change 'CMD ["sleep", "infinity"]' \
    "$name" "$BROWSER_IMAGE" >/dev/null || die "docker commit of $BROWSER_IMAGE failed"
  docker rm -f "$name" >/dev/null 2>&1 || true
  trap - EXIT
  say "built $BROWSER_IMAGE ($(tail -n 1 "$log"))"
}

docker image inspect "$BROWSER_IMAGE" >/dev/null 2>&1 || build_browser
