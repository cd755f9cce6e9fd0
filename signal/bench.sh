#!/usr/bin/env bash
# The MUC benchmark of signal/README.md: installs Prosody (Debian) when missing, builds signal
# in release, and runs muc-bench against both servers in one run. Arguments go to muc-bench
# (e.g. --n 50,200,400 --repeats 7).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v prosody >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prosody >/dev/null
fi
cargo build --release -p signal --bins
exec target/release/muc-bench "$@"
