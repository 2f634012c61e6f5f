#!/bin/sh
# What docker:dind's entrypoint does with DOCKER_TLS_CERTDIR, so the compose file's settings mean the same here:
#   $DOCKER_TLS_CERTDIR/ca      a CA (made once, kept on the volume),
#   $DOCKER_TLS_CERTDIR/server  the engine's certificate; its names (subjectAltName) are this container's
#                               hostname, `docker`, `localhost`, its IP addresses and $DOCKER_TLS_SAN (e.g.
#                               DNS:snapshots) -- the name clients dial must be among them,
#   $DOCKER_TLS_CERTDIR/client  ca.pem, cert.pem, key.pem for clients (key 0644: read by non-root clients),
# then dockerd on the Unix socket and on tcp://0.0.0.0:2376 with --tlsverify. Without DOCKER_TLS_CERTDIR: plain
# tcp 2375, as the image does.
# Cgroups, as docker:dind's `dind` script: on cgroup v2 this container's processes move to a child group so the
# engine can enable controllers for its own containers. Not privileged (deploy/compose.unprivileged.yml): the
# cgroup mounts Docker made read-only are made writable (needs CAP_SYS_ADMIN); privileged, they already are.
set -eu
days=825

key() { [ -s "$1" ] || openssl genrsa -out "$1" 4096 2>/dev/null; }

sans() {
  {
    ip -oneline address | awk '{ sub(/\/.*$/, "", $4); print "IP:" $4 }'
    { cat /etc/hostname; echo docker; echo localhost; hostname -f 2>/dev/null || true; hostname -s 2>/dev/null || true; } \
      | sed '/^$/d; s/^/DNS:/'
    [ -z "${DOCKER_TLS_SAN:-}" ] || echo "$DOCKER_TLS_SAN" | tr ', ' '\n\n' | sed '/^$/d'
  } | sort -u | paste -sd, -
}

sign() { # sign DIR CN EXTENSIONS
  key "$1/key.pem"
  openssl req -new -key "$1/key.pem" -out "$1/csr.pem" -subj "/CN=$2"
  printf '[ x509_exts ]\n%s\n' "$3" >"$1/openssl.cnf"
  openssl x509 -req -in "$1/csr.pem" -CA "$DIR/ca/cert.pem" -CAkey "$DIR/ca/key.pem" -CAcreateserial \
    -out "$1/cert.pem" -days "$days" -extfile "$1/openssl.cnf" -extensions x509_exts 2>/dev/null
  cp "$DIR/ca/cert.pem" "$1/ca.pem"
  openssl verify -CAfile "$1/ca.pem" "$1/cert.pem" >/dev/null
}

certs() {
  mkdir -p "$DIR/ca" "$DIR/server" "$DIR/client"
  key "$DIR/ca/key.pem"
  [ -s "$DIR/ca/cert.pem" ] \
    || openssl req -new -x509 -key "$DIR/ca/key.pem" -out "$DIR/ca/cert.pem" -days "$days" -subj '/CN=codegen-dind CA'
  # the server's certificate every start: its addresses may have changed
  sign "$DIR/server" codegen-dind "subjectAltName = $(sans)
extendedKeyUsage = serverAuth"
  [ -s "$DIR/client/cert.pem" ] || sign "$DIR/client" "codegen-dind client" "extendedKeyUsage = clientAuth"
  chmod 0644 "$DIR/client/key.pem"
  echo "codegen-dind: certificates in $DIR (server names: $(sans))"
}

cgroups() {
  awk '$3 ~ /^cgroup2?$/ && $4 ~ /(^|,)ro(,|$)/ { print $2 }' /proc/self/mounts | while read -r m; do
    mount -o remount,bind,rw "$m" 2>/dev/null || echo "codegen-dind: $m stays read-only" >&2
  done
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
    sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
  fi
}

cgroups
find /run /var/run -iname 'docker*.pid' -delete 2>/dev/null || true
if [ -n "${DOCKER_TLS_CERTDIR:-}" ]; then
  DIR="$DOCKER_TLS_CERTDIR"
  certs
  set -- --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2376 --tlsverify \
    --tlscacert "$DIR/server/ca.pem" --tlscert "$DIR/server/cert.pem" --tlskey "$DIR/server/key.pem" "$@"
else
  set -- --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 "$@"
fi
# docker-init (tini) as PID 1, as in docker:dind: it reaps what the engine's shims leave behind
exec docker-init -- dockerd "$@"
