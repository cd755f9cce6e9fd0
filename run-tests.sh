#!/usr/bin/env bash
# The one test command (README). Installs what the tests need on a fresh Debian machine,
# builds the workspace once, then runs every test: Rust unit and integration tests, which
# start the real binaries and drive them with outside clients (Python, Node, Chromium).
# Last, the Docker Compose install of the README's admin guide, really run (a few minutes;
# SKIP_COMPOSE_TEST=1 skips it for quick local runs, CI runs it).
set -euo pipefail
cd "$(dirname "$0")"
root=$PWD

# --- system packages (root on CI; skipped when present) -----------------------------------
pkgs=()
command -v chromium >/dev/null || pkgs+=(chromium)
command -v ip >/dev/null || pkgs+=(iproute2)
command -v docker-compose >/dev/null || pkgs+=(docker-compose)   # validates compose.yaml, runs the compose test
if [ "${SKIP_COMPOSE_TEST:-0}" != 1 ]; then
  [ -x /usr/sbin/dockerd ] || pkgs+=(docker.io)                   # the engine (20.10), started by the compose test
  command -v debootstrap >/dev/null || pkgs+=(debootstrap)        # debian:bookworm-slim without a registry
fi
if ((${#pkgs[@]})); then
  echo "== apt-get install ${pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# --- Python clients (slixmpp, aiortc, tuspy) in a venv ------------------------------------
if [ ! -x .venv/bin/python ] || ! cmp -s tests/requirements.txt .venv/requirements.stamp; then
  echo "== python venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
  cp tests/requirements.txt .venv/requirements.stamp
fi
export MEET_PYTHON="$root/.venv/bin/python"

# --- Node clients (XMPP over WebSocket, browser driver) -----------------------------------
if [ -f tests/node/package.json ]; then
  if [ ! -d tests/node/node_modules ] || ! cmp -s tests/node/package-lock.json tests/node/node_modules/.lock-stamp; then
    echo "== npm ci"
    (cd tests/node && npm ci --no-audit --no-fund --silent && cp package-lock.json node_modules/.lock-stamp)
  fi
  export MEET_NODE_MODULES="$root/tests/node/node_modules"
fi

# --- build once, then test -----------------------------------------------------------------
echo "== cargo build"
cargo build --workspace --bins --tests --locked
export MEET_BIN_DIR="$root/target/debug"
echo "== cargo test"
cargo test --workspace --locked -- --test-threads="${TEST_THREADS:-2}"
echo "== bridge core on three media threads (virtual time: every conference spans them)"
# --workspace: the features of the build above, so nothing is compiled again.
BRIDGE_TEST_THREADS=3 cargo test --workspace --locked --test forwarding --test simulcast --test nack \
  --test bandwidth --test keyframe_requests --test dominant_speaker --test loudest_audio \
  --test bridge_channel --test endpoint_leaving --test bad_input --test h264 --test slots \
  -- --test-threads="${TEST_THREADS:-2}"

echo "== deployment checks (compose.yaml, env.example, gen-secrets.sh)"
"$MEET_PYTHON" -m pytest -q deploy/test_compose.py

if [ "${SKIP_COMPOSE_TEST:-0}" = 1 ]; then
  echo "== compose test skipped (SKIP_COMPOSE_TEST=1)"
else
  echo "== compose test: the admin guide on a real Docker engine (deploy/e2e)"
  start=$SECONDS
  "$MEET_PYTHON" -m pytest -q -s -p no:cacheprovider deploy/e2e   # -s: its progress lines, live
  echo "== compose test took $((SECONDS - start)) s"
fi

# --- fuzz targets: each runs FUZZ_SECONDS (default 15; 0 skips) from the committed corpus;
# a crash fails the run and leaves its input in fuzz/artifacts/<target>/ (fuzz/README.md) --
if [ "${FUZZ_SECONDS:-15}" != 0 ]; then
  echo "== fuzz (${FUZZ_SECONDS:-15} s per target)"
  fuzz/run.sh ci "${FUZZ_SECONDS:-15}"
fi
