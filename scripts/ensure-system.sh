#!/usr/bin/env bash
# Install the Debian packages the bot's validators need, when missing: the Docker engine, debootstrap
# (to build the base image without a registry) and Chromium (web evaluation). Idempotent.
# iptables: every snapshot network gets firewall rules (validators/firewall.py); iproute2 (`ip`): the
# network tests make a network namespace to serve private and metadata addresses.
set -euo pipefail
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v git >/dev/null 2>&1 || need+=(git)
PATH="$PATH:/usr/sbin:/sbin" command -v iptables >/dev/null 2>&1 || need+=(iptables)
PATH="$PATH:/usr/sbin:/sbin" command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-system: missing ${need[*]}; run as root or install them" >&2
  exit 1
fi
echo "ensure-system: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
