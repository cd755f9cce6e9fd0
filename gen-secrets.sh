#!/usr/bin/env bash
# Fills .env for `docker-compose up` (or `docker compose up`): copies env.example when .env is
# missing, generates any empty secret (BUS_SECRET, TOKEN_SECRET, WEBHOOK_SECRET), and fills an
# empty ADVERTISE_IPS with the host's LAN address(es) and an empty PUBLIC_HOSTNAMES with the
# host's name (and <name>.local). Existing values are kept; safe to run again.
#
# To choose instead of detect, give them to this script the first time:
#   ADVERTISE_IPS=192.168.1.20 PUBLIC_HOSTNAMES=meet.example.lan ./gen-secrets.sh
set -euo pipefail
cd "$(dirname "$0")"
[ -f .env ] || cp env.example .env
chmod 600 .env

set_if_empty() { # name value
  local name=$1 value=$2
  if grep -qE "^${name}=.+" .env; then return; fi
  if grep -qE "^${name}=" .env; then
    sed -i "s|^${name}=.*|${name}=${value}|" .env
  else
    printf '%s=%s\n' "$name" "$value" >> .env
  fi
  echo "set ${name}=$([[ $name == *SECRET ]] && echo '<generated>' || echo "$value")"
}

for s in BUS_SECRET TOKEN_SECRET WEBHOOK_SECRET; do
  set_if_empty "$s" "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
done

# The host's LAN addresses: global-scope IPv4 on physical-looking interfaces, not Docker's.
lan=${ADVERTISE_IPS:-$(ip -4 -o addr show scope global 2>/dev/null \
  | awk '$2 !~ /^(docker|br-|veth|virbr|cni|flannel|cali)/ {split($4,a,"/"); print a[1]}' \
  | paste -sd, -)}
if [ -n "$lan" ]; then
  set_if_empty ADVERTISE_IPS "$lan"
elif ! grep -qE "^ADVERTISE_IPS=.+" .env; then
  echo "could not find a LAN address: set ADVERTISE_IPS in .env by hand" >&2
fi

# The names people type: this host's name, and its mDNS name when it has no domain.
names=${PUBLIC_HOSTNAMES:-}
if [ -z "$names" ]; then
  host=$(cat /proc/sys/kernel/hostname 2>/dev/null || true)
  names=$host
  [ -z "$host" ] || [[ $host == *.* ]] || names+=",$host.local"
fi
if [ -n "$names" ]; then
  set_if_empty PUBLIC_HOSTNAMES "$names"
fi
