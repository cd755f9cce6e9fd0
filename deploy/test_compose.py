"""Static checks of the Docker deployment (no Docker engine needed; deploy/e2e runs it).

- compose.yaml is valid for Debian's docker-compose (`docker-compose config`, which checks it
  against its bundled Compose specification schema);
- only 8000/tcp, 8443/tcp and 10000/udp are published;
- every service has a healthcheck on its /health, a restart policy, and waits for the
  health of what it needs;
- every setting a service's code reads from the environment is passed to that service and
  listed in env.example, and every variable env.example lists is used by compose.yaml.
"""
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"

# Which source folders make up each service's binary (proto is linked by all of them).
SERVICE_SOURCES = {
    "signal": ["signal/src"],
    "focus": ["focus/src"],
    "bridge": ["bridge/src"],
    "filestore": ["filestore/src"],
    "web": ["web/src"],
}
# Files that are not part of the service's own binary (the all-in-one launcher, benches).
NOT_THE_SERVICE = re.compile(r"(launcher\.rs|/bin/|bench)")
# A call whose first argument is an UPPER_SNAKE literal: env::var("X"), env_parse("X", ..),
# and the crates' own small wrappers (hours("RETENTION_HOURS", ..)).
ENV_READ = re.compile(r"\b\w+\(\s*\"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\"")
# Reads that name no literal: proto's helpers, and tracing's filter from RUST_LOG.
PROTO_HELPERS = {
    "xmpp_domain(": "XMPP_DOMAIN",
    "data_dir(": "DATA_DIR",
    "from_default_env(": "RUST_LOG",
    "proto::service::main(": "RUST_LOG",  # every service's main: tracing with the RUST_LOG filter
}
# Set for the process by the build or the runtime, not settings.
NOT_SETTINGS = {"FORM_TYPE", "CARGO_MANIFEST_DIR", "OUT_DIR", "CARGO_PKG_VERSION", "HOME", "PATH"}


def docker_compose():
    """Debian's docker-compose: it validates a file without a Docker engine."""
    exe = shutil.which("docker-compose")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose (Debian package) is missing; run-tests.sh installs it")
        pytest.skip("docker-compose not installed")
    return exe


def load_compose():
    return yaml.safe_load(COMPOSE.read_text())


def env_example(active_only=True):
    """Variables env.example lists; with active_only=False also the commented-out ones
    (settings compose fixes itself, listed for those who run the binaries directly)."""
    names = []
    pattern = r"^([A-Z][A-Z0-9_]*)=" if active_only else r"^#?([A-Z][A-Z0-9_]*)="
    for line in (ROOT / "env.example").read_text().splitlines():
        m = re.match(pattern, line)
        if m:
            names.append(m.group(1))
    return names


def strip_test_modules(src: str) -> str:
    """Drops `#[cfg(test)] mod … { … }` blocks: test-only reads are not settings."""
    out, i = [], 0
    while True:
        j = src.find("#[cfg(test)]", i)
        if j < 0:
            out.append(src[i:])
            return "".join(out)
        out.append(src[i:j])
        k = src.find("{", j)
        if k < 0:
            return "".join(out)
        depth, p = 0, k
        while p < len(src):
            if src[p] == "{":
                depth += 1
            elif src[p] == "}":
                depth -= 1
                if depth == 0:
                    break
            p += 1
        i = p + 1


def settings_read_by(service):
    names = set()
    for folder in SERVICE_SOURCES[service]:
        for path in sorted((ROOT / folder).rglob("*.rs")):
            if NOT_THE_SERVICE.search(str(path.relative_to(ROOT))):
                continue
            src = strip_test_modules(path.read_text())
            names.update(ENV_READ.findall(src))
            for call, var in PROTO_HELPERS.items():
                if call in src:
                    names.add(var)
    return names - NOT_SETTINGS


def test_compose_is_valid_for_docker_compose():
    exe = docker_compose()
    with tempfile.TemporaryDirectory() as d:
        env = Path(d) / ".env"
        env.write_text("BUS_SECRET=a\nTOKEN_SECRET=b\n")
        r = subprocess.run(
            [exe, "-f", str(COMPOSE), "--env-file", str(env), "--project-directory", str(ROOT), "config", "-q"],
            capture_output=True, text=True,
        )
        assert r.returncode == 0, r.stderr
        # Without the secrets compose must refuse to start, naming the fix.
        env.write_text("")
        r = subprocess.run(
            [exe, "-f", str(COMPOSE), "--env-file", str(env), "--project-directory", str(ROOT), "config", "-q"],
            capture_output=True, text=True,
        )
        assert r.returncode != 0 and "gen-secrets.sh" in r.stderr, r.stderr


def test_second_bridge_override_is_valid_and_uses_its_own_port():
    exe = docker_compose()
    override = ROOT / "deploy" / "compose.second-bridge.yaml"
    with tempfile.TemporaryDirectory() as d:
        env = Path(d) / ".env"
        env.write_text("BUS_SECRET=a\nTOKEN_SECRET=b\n")
        r = subprocess.run(
            [exe, "-f", str(COMPOSE), "-f", str(override), "--env-file", str(env),
             "--project-directory", str(ROOT), "config"],
            capture_output=True, text=True,
        )
        assert r.returncode == 0, r.stderr
        merged = yaml.safe_load(r.stdout)["services"]
    b2 = merged["bridge2"]
    assert b2["environment"]["BRIDGE_MEDIA_ADDR"].endswith(":10001")
    assert [p["published"] for p in b2["ports"]] == [10001] or ["10001:10001/udp"] == b2["ports"]
    assert b2["environment"]["BRIDGE_ID"] != merged["bridge"]["environment"]["BRIDGE_ID"]
    # Same settings as the first bridge, apart from its id, port and volume.
    same = {k: v for k, v in b2["environment"].items() if k not in ("BRIDGE_ID", "BRIDGE_MEDIA_ADDR")}
    first = {k: v for k, v in merged["bridge"]["environment"].items() if k not in ("BRIDGE_ID", "BRIDGE_MEDIA_ADDR")}
    assert same == first


def test_only_the_three_public_ports_are_published():
    published = set()
    for name, svc in load_compose()["services"].items():
        for p in svc.get("ports", []):
            host_and_container = str(p).split(":")
            container = host_and_container[-1]
            proto = container.split("/")[1] if "/" in container else "tcp"
            published.add((name, container.split("/")[0], proto))
    assert published == {("web", "8443", "tcp"), ("web", "8000", "tcp"), ("bridge", "10000", "udp")}


def test_every_service_has_healthcheck_restart_and_health_ordering():
    services = load_compose()["services"]
    assert set(services) == set(SERVICE_SOURCES)
    for name, svc in services.items():
        hc = svc.get("healthcheck", {}).get("test", [])
        assert any("/health" in part for part in hc), f"{name} has no /health healthcheck"
        assert svc.get("restart") == "unless-stopped", name
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert cond == {"condition": "service_healthy"}, f"{name} -> {dep}"
    assert "signal" in services["focus"]["depends_on"]
    assert "signal" in services["bridge"]["depends_on"]
    assert {"signal", "filestore"} <= set(services["web"]["depends_on"])


@pytest.mark.parametrize("service", sorted(SERVICE_SOURCES))
def test_every_setting_a_service_reads_is_passed_and_documented(service):
    svc = load_compose()["services"][service]
    passed = set(svc.get("environment", {}))
    documented = set(env_example(active_only=False))
    read = settings_read_by(service)
    assert read, f"found no settings in {service}'s code: the scanner is broken"
    missing = read - passed
    assert not missing, f"{service} reads {sorted(missing)} but compose.yaml does not pass them"
    undocumented = read - documented
    assert not undocumented, f"{service} reads {sorted(undocumented)} which env.example does not list"
    dead = passed - read
    assert not dead, f"compose.yaml passes {sorted(dead)} to {service}, which never reads them"


def test_env_example_lists_nothing_compose_ignores():
    text = COMPOSE.read_text()
    unused = [v for v in env_example() if "${" + v not in text]
    assert not unused, f"env.example lists {unused} which compose.yaml never uses"


def test_gen_secrets_fills_empty_secrets_once():
    with tempfile.TemporaryDirectory() as d:
        for f in ("env.example", "gen-secrets.sh"):
            shutil.copy(ROOT / f, d)
        subprocess.run(["bash", "gen-secrets.sh"], cwd=d, check=True, capture_output=True)
        first = (Path(d) / ".env").read_text()
        subprocess.run(["bash", "gen-secrets.sh"], cwd=d, check=True, capture_output=True)
        second = (Path(d) / ".env").read_text()
        assert first == second, "a second run must keep the secrets"
        for s in ("BUS_SECRET", "TOKEN_SECRET", "WEBHOOK_SECRET"):
            m = re.search(rf"^{s}=([0-9a-f]{{64}})$", first, re.M)
            assert m, f"{s} not generated"
        assert oct(os.stat(Path(d) / ".env").st_mode & 0o777) == "0o600"
        hostname = Path("/proc/sys/kernel/hostname").read_text().strip()
        names = re.search(r"^PUBLIC_HOSTNAMES=(.+)$", first, re.M)
        assert names and hostname in names.group(1).split(","), "PUBLIC_HOSTNAMES holds the host's name"


def test_gen_secrets_takes_addresses_and_names_given_to_it():
    with tempfile.TemporaryDirectory() as d:
        for f in ("env.example", "gen-secrets.sh"):
            shutil.copy(ROOT / f, d)
        env = {**os.environ, "ADVERTISE_IPS": "192.0.2.7", "PUBLIC_HOSTNAMES": "meet.example.lan"}
        subprocess.run(["bash", "gen-secrets.sh"], cwd=d, check=True, capture_output=True, env=env)
        text = (Path(d) / ".env").read_text()
        assert re.search(r"^ADVERTISE_IPS=192\.0\.2\.7$", text, re.M), text
        assert re.search(r"^PUBLIC_HOSTNAMES=meet\.example\.lan$", text, re.M), text
        # A later run with other values keeps what .env has: the certificate depends on it.
        env["ADVERTISE_IPS"] = "192.0.2.8"
        subprocess.run(["bash", "gen-secrets.sh"], cwd=d, check=True, capture_output=True, env=env)
        assert (Path(d) / ".env").read_text() == text
