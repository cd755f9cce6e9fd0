#!/usr/bin/env bash
# Fills .env for `docker compose up`: copies env.example when .env is missing, generates any
# empty secret (BUS_SECRET, TOKEN_SECRET, WEBHOOK_SECRET) and, when ADVERTISE_IPS is empty,
# puts the host's LAN address(es) there. Existing values are kept; safe to run again.
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
  echo "set ${name}"
}

for s in BUS_SECRET TOKEN_SECRET WEBHOOK_SECRET; do
  set_if_empty "$s" "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
done

# The host's LAN addresses: global-scope IPv4 on physical-looking interfaces, not Docker's.
lan=$(ip -4 -o addr show scope global 2>/dev/null \
  | awk '$2 !~ /^(docker|br-|veth|virbr|cni|flannel|cali)/ {split($4,a,"/"); print a[1]}' \
  | paste -sd, -)
if [ -n "$lan" ]; then
  set_if_empty ADVERTISE_IPS "$lan"
else
  echo "could not find a LAN address: set ADVERTISE_IPS in .env by hand" >&2
fi
