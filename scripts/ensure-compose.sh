#!/usr/bin/env bash
# Make sure `docker compose` (Compose v2) and `docker buildx` work, without any image registry or GitHub
# download. Idempotent; called by `make test` (target `compose`) and by tests/e2e/test_compose_up.py.
#
#   When `docker compose version` does not answer, the Compose v2 and buildx CLI plugins are taken from
#   Debian's `docker-compose` and `docker-buildx` packages of trixie (bookworm's `docker-compose` is Compose v1
#   1.29, which knows neither `configs: content:` nor `!override`), and only their plugin binaries are
#   installed into PLUGIN_DIR (default /usr/local/lib/docker/cli-plugins, which the docker CLI searches). A
#   plugin that already answers is kept.
#
# Decisions:
# - apt itself downloads the packages (signatures and hashes checked against the host's Debian keyring), but
#   with its own sources list, lists and cache under STATE (default /tmp/codegen-compose-apt): the host's apt
#   configuration never sees trixie, so no later `apt-get upgrade` mixes suites. Only the two plugin binaries
#   are unpacked (`dpkg-deb -x`, not `dpkg -i`): nothing else of trixie lands on the host. They are Go binaries
#   that need only libc, so bookworm's glibc runs them.
# - buildx is installed as well: Compose builds `build:` services with BuildKit, and the bot's Dockerfile
#   passes the TLS-inspecting proxy's CA bundle as a build secret (`RUN --mount=type=secret`), which the
#   legacy builder cannot do.
# - A lock (flock) serialises concurrent callers, like scripts/ensure-docker.sh.
# - Proxy variables of this shell are used by apt as they are.
set -euo pipefail

PLUGIN_DIR="${DOCKER_CLI_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}"
SUITE="${CODEGEN_COMPOSE_SUITE:-trixie}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
STATE="${CODEGEN_COMPOSE_APT_DIR:-/tmp/codegen-compose-apt}"
LOCK=/tmp/codegen-bot-ensure-compose.lock

die() { echo "ensure-compose: $*" >&2; exit 1; }
say() { echo "ensure-compose: $*" >&2; }

# the plugins that do not answer yet (one that does is left alone, whatever its version)
missing() {
  docker compose version >/dev/null 2>&1 || echo docker-compose
  docker buildx version >/dev/null 2>&1 || echo docker-buildx
}
ready() { [ -z "$(missing)" ]; }

ready && exit 0

exec 9>"$LOCK"
flock -w 600 9 || die "another ensure-compose.sh holds $LOCK for more than 10 minutes"
ready && exit 0

[ "$(id -u)" -eq 0 ] || die "docker compose (v2) or docker buildx is missing; run as root or install them"
command -v docker >/dev/null 2>&1 || die "no docker CLI (run scripts/ensure-docker.sh first)"
arch="$(dpkg --print-architecture)"
mapfile -t plugins < <(missing)
say "installing ${plugins[*]} from Debian $SUITE ($MIRROR) into $PLUGIN_DIR"

mkdir -p "$STATE/lists/partial" "$STATE/cache/archives/partial" "$STATE/debs"
echo "deb $MIRROR $SUITE main" >"$STATE/sources.list"
: >"$STATE/status"
apt_opts=(
  -o "Dir::Etc::SourceList=$STATE/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$STATE/lists" -o "Dir::State::status=$STATE/status" -o "Dir::Cache=$STATE/cache"
  -o "APT::Architecture=$arch" -o APT::Sandbox::User=root
)
apt-get "${apt_opts[@]}" update -qq >"$STATE/update.log" 2>&1 \
  || die "apt-get update ($SUITE) failed; $(tail -n 5 "$STATE/update.log")"
(cd "$STATE/debs" && rm -f ./*.deb && apt-get "${apt_opts[@]}" download "${plugins[@]}") \
  >"$STATE/download.log" 2>&1 || die "downloading ${plugins[*]} failed; $(tail -n 5 "$STATE/download.log")"

root="$(mktemp -d /tmp/codegen-compose-unpack.XXXXXX)"
trap 'rm -rf "$root"' EXIT
for deb in "$STATE"/debs/*.deb; do
  dpkg-deb -x "$deb" "$root"
done
mkdir -p "$PLUGIN_DIR"
for plugin in "${plugins[@]}"; do  # Debian's package names are the plugins' names
  src="$root/usr/libexec/docker/cli-plugins/$plugin"
  [ -x "$src" ] || die "$plugin is not in the package where expected ($src)"
  install -m 0755 "$src" "$PLUGIN_DIR/$plugin.tmp.$$"
  mv -f "$PLUGIN_DIR/$plugin.tmp.$$" "$PLUGIN_DIR/$plugin"   # atomic: a concurrent `docker compose` never sees half a file
done
ready || die "installed, but 'docker compose version' or 'docker buildx version' still fails"
say "$(docker compose version) / $(docker buildx version)"
