"""The Docker Compose install, really run: the admin guide of the README, step for step, on a
real Docker engine, then the checks of issue 12 against the running containers.

Set-up (the `deployment` fixture): start dockerd when none answers (and stop it after);
make `debian:bookworm-slim` with debootstrap when it is missing (no registry is reachable
here); build the image from the Dockerfile with the host's binaries (`MEET_BIN_DIR`, since
crates.io is not reachable from a container here) through `--build-arg BINARIES`, so that
the runtime stage users get is the one tested. Then, in a copy of the tree (the developer's
own `.env` stays untouched), exactly the guide: `./gen-secrets.sh`, `docker-compose up -d`,
wait until every service is healthy.

What this test creates it removes: its compose project (containers, network, volumes), its
image tag, the dockerd it started. `debian:bookworm-slim` stays when it made it (a base
image, like one pulled). It publishes 8000/tcp, 8443/tcp, 10000/udp and 10001/udp as the
guide does, so it refuses to start when something else holds them. Media goes to
127.0.0.1 only (`ADVERTISE_IPS=127.0.0.1`): the pages reach the bridge through the
published 10000/udp, and no test traffic leaves the machine.
"""
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROWSER = ROOT / "web" / "tests" / "browser"
SERVICES = ["signal", "focus", "bridge", "filestore", "web"]
OVERLAY = ["-f", "compose.yaml", "-f", "deploy/compose.second-bridge.yaml"]
BASE_URL = "https://127.0.0.1:8443"
ACCOUNT = ("ada", "correct horse battery staple")
TIMES = {}


def log(*args):
    print(f"[compose-e2e {time.strftime('%H:%M:%S')}]", *args, file=sys.stderr, flush=True)


def run(cmd, check=True, timeout=600, **kw):
    log("$", " ".join(map(str, cmd)))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


def docker_cli():
    """Debian's docker CLI (20.10, BuildKit built in); a newer CLI without buildx cannot build
    with BuildKit."""
    for path in ("/usr/bin/docker", shutil.which("docker")):
        if path and os.path.exists(path):
            return path
    pytest.fail("no docker CLI: run-tests.sh installs Debian's docker.io")


def ports_free():
    """The ports the guide publishes, which the test needs on this host."""
    busy = []
    for kind, port in ((socket.SOCK_STREAM, 8443), (socket.SOCK_STREAM, 8000), (socket.SOCK_DGRAM, 10000),
                       (socket.SOCK_DGRAM, 10001)):
        s = socket.socket(socket.AF_INET, kind)
        # As servers bind (docker-proxy too): a closed connection in TIME_WAIT is no holder.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            busy.append(f"{port}/{'tcp' if kind == socket.SOCK_STREAM else 'udp'}")
        finally:
            s.close()
    return busy


class Engine:
    """The Docker engine: the running one, or a dockerd this test starts and stops."""

    def __init__(self, workdir):
        self.docker = docker_cli()
        self.started = None
        if self.answers():
            return
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        if not os.path.exists(dockerd):
            pytest.fail("no dockerd: run-tests.sh installs Debian's docker.io")
        self.log_path = Path(workdir) / "dockerd.log"
        log("starting dockerd, log in", self.log_path)
        self.started = subprocess.Popen([dockerd], stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while not self.answers():
            if self.started.poll() is not None or time.time() > deadline:
                pytest.fail(f"dockerd did not come up:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.5)

    def answers(self):
        return subprocess.run([self.docker, "info"], capture_output=True).returncode == 0

    def stop(self):
        if self.started is None:
            return
        log("stopping the dockerd this test started")
        self.started.send_signal(signal.SIGTERM)
        try:
            self.started.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.started.kill()
            self.started.wait()

    def has_image(self, ref):
        return subprocess.run([self.docker, "image", "inspect", ref], capture_output=True).returncode == 0

    def make_base_image(self, workdir):
        """`debian:bookworm-slim` without a registry: debootstrap, trimmed like the official
        slim image (no apt lists, debs, docs, man pages or locales), then `docker import`."""
        if self.has_image("debian:bookworm-slim"):
            return
        t0 = time.time()
        rootfs = Path(workdir) / "rootfs"
        run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), "http://deb.debian.org/debian"],
            timeout=900)
        for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "usr/share/doc/*",
                        "usr/share/man/*", "usr/share/info/*"):
            for p in rootfs.glob(pattern):
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        for p in (rootfs / "usr/share/locale").iterdir():
            if p.name != "locale.alias":
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        run([self.docker, "import", "-", "debian:bookworm-slim"], stdin=tar.stdout)
        assert tar.wait() == 0
        shutil.rmtree(rootfs)
        TIMES["base image (debootstrap + import)"] = time.time() - t0

    def build_image(self, tag, bin_dir, workdir):
        """The Dockerfile's runtime stage with the host's binaries: they are imported as an
        image whose /out/ holds the five, named by `--build-arg BINARIES`."""
        t0 = time.time()
        stage = Path(workdir) / "bins"
        (stage / "out").mkdir(parents=True)
        for name in SERVICES:
            shutil.copy2(Path(bin_dir) / name, stage / "out" / name)
        bins_tag = f"{tag}-binaries"
        tar = subprocess.Popen(["tar", "-C", str(stage), "-c", "out"], stdout=subprocess.PIPE)
        run([self.docker, "import", "-", bins_tag], stdin=tar.stdout)
        assert tar.wait() == 0
        shutil.rmtree(stage)
        try:
            run([self.docker, "build", "--build-arg", f"BINARIES={bins_tag}", "-t", tag, str(ROOT)],
                env={**os.environ, "DOCKER_BUILDKIT": "1"}, timeout=900)
        finally:
            run([self.docker, "rmi", bins_tag], check=False)
        TIMES["image build"] = time.time() - t0
        size = run([self.docker, "image", "inspect", "-f", "{{.Size}}", tag]).stdout.strip()
        log(f"image {tag}: {int(size) / 1e6:.0f} MB")


class Deployment:
    """The project as an admin has it: a folder with the tree, `.env`, and docker-compose."""

    def __init__(self, engine, folder, project):
        self.engine = engine
        self.dir = Path(folder)
        self.env = {**os.environ, "COMPOSE_PROJECT_NAME": project}
        self.files = []

    def compose(self, *args, check=True, timeout=600):
        return run(["docker-compose", *self.files, *args], check=check, timeout=timeout, cwd=self.dir, env=self.env)

    def container(self, service):
        cid = self.compose("ps", "-q", service).stdout.strip()
        assert cid, f"{service} has no container"
        return cid

    def health(self):
        """Each service's health, from the containers `docker-compose ps` lists."""
        ids = self.compose("ps", "-q").stdout.split()
        if not ids:
            return {}
        fmt = '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Health.Status}}'
        out = run([self.engine.docker, "inspect", "-f", fmt, *ids], check=False).stdout
        return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)

    def wait_healthy(self, services, timeout=180):
        """What the guide says: wait until `docker-compose ps` shows every service healthy."""
        t0 = time.time()
        while True:
            states = self.health()
            if all(states.get(s) == "healthy" for s in services):
                log(f"healthy after {time.time() - t0:.1f} s")
                return
            if time.time() - t0 > timeout:
                ps = self.compose("ps", check=False).stdout
                logs = self.compose("logs", "--tail", "30", check=False).stdout
                raise AssertionError(f"not healthy in {timeout} s: {states}\n{ps}\n{logs}")
            time.sleep(1)

    def set_env(self, name, value):
        """Edits one line of `.env`, as an admin would."""
        path = self.dir / ".env"
        lines = path.read_text().splitlines()
        lines = [f"{name}={value}" if line.startswith(f"{name}=") else line for line in lines]
        if f"{name}={value}" not in lines:
            lines.append(f"{name}={value}")
        path.write_text("\n".join(lines) + "\n")

    def env_value(self, name):
        for line in (self.dir / ".env").read_text().splitlines():
            if line.startswith(f"{name}="):
                return line.split("=", 1)[1]
        return None


@pytest.fixture(scope="module")
def deployment():
    bin_dir = os.environ.get("MEET_BIN_DIR") or str(ROOT / "target" / "debug")
    for name in SERVICES:
        if not (Path(bin_dir) / name).exists():
            pytest.fail(f"{bin_dir}/{name} is missing: build the binaries first (run-tests.sh does)")
    busy = ports_free()
    if busy:
        pytest.fail(f"the compose test publishes these ports, which something on this host holds: {busy}")
    with contextlib.ExitStack() as cleanup:
        work = tempfile.mkdtemp(prefix="meet-compose-e2e-")
        cleanup.callback(shutil.rmtree, work, True)
        engine = Engine(work)
        cleanup.callback(engine.stop)
        engine.make_base_image(work)
        run_id = f"{os.getpid()}{int(time.time()) % 100000}"
        tag = f"meet-lan:e2e-{run_id}"
        project = f"meete2e{run_id}"
        cleanup.callback(run, [engine.docker, "rmi", "-f", tag], check=False)
        engine.build_image(tag, bin_dir, work)

        # The admin's clone: the tracked tree (what a checkout has), in its own folder.
        folder = Path(work) / "meet-lan"
        files = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout
        for rel in filter(None, files.split("\0")):
            src = ROOT / rel
            if src.is_file():
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, folder / rel)
        d = Deployment(engine, folder, project)
        # Whatever happens below, the project goes, with the second bridge and all volumes.
        cleanup.callback(run, ["docker-compose", *OVERLAY, "down", "-v", "--remove-orphans", "-t", "10"],
                         check=False, cwd=folder, env=d.env)

        # The guide, step 1: secrets and addresses (given, so that media stays on loopback),
        # the image to run (this test's tag), then up and wait for health.
        t0 = time.time()
        run(["./gen-secrets.sh"], cwd=folder, env={**os.environ, "ADVERTISE_IPS": "127.0.0.1"})
        d.set_env("MEET_IMAGE", tag)
        d.compose("up", "-d")
        d.wait_healthy(SERVICES)
        TIMES["first up -> all healthy"] = time.time() - t0
        yield d
    log("times:", json.dumps({k: round(v, 1) for k, v in TIMES.items()}))
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "compose-e2e-times.json").write_text(json.dumps(TIMES, indent=1))


def served_certificate():
    """web's certificate as served on 127.0.0.1:8443 (PEM) and its SHA-256 fingerprint."""
    pem = ssl.get_server_certificate(("127.0.0.1", 8443), timeout=10)
    return pem, hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def verifies_as(pem, name):
    """Whether a client that trusts only `pem` accepts it for `name` (hostname or IP SAN)."""
    ctx = ssl.create_default_context(cadata=pem)
    try:
        with socket.create_connection(("127.0.0.1", 8443), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=name):
                return True
    except ssl.SSLCertVerificationError:
        return False


def browser(script, cwd=None, **env):
    """Runs a scenario of web/tests/browser against the deployment; fails with its output."""
    modules = os.environ.get("MEET_NODE_MODULES") or str(ROOT / "tests" / "node" / "node_modules")
    full = {**os.environ, "MEET_NODE_MODULES": modules, "BASE_URL": BASE_URL,
            "ARTIFACTS_DIR": str(ROOT / "artifacts" / "compose"), **env}
    t0 = time.time()
    r = run(["node", str(BROWSER / script)], check=False, timeout=900, env=full, cwd=cwd)
    TIMES[f"browser {script}"] = time.time() - t0
    assert r.returncode == 0, f"{script} failed:\n{r.stdout[-20000:]}\n{r.stderr[-5000:]}"
    log(r.stdout.strip().splitlines()[-1])


def login(pem, password):
    """SASL sign-in of the test account through web's /xmpp-websocket; True when accepted."""
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as ca:
        ca.write(pem)
        ca.flush()
        modules = os.environ.get("MEET_NODE_MODULES") or str(ROOT / "tests" / "node" / "node_modules")
        r = run(["node", "--experimental-websocket", str(Path(__file__).parent / "xmpp_login.mjs"),
                 "wss://127.0.0.1:8443/xmpp-websocket", "meet.lan", ACCOUNT[0], password],
                check=False, timeout=60, env={**os.environ, "MEET_NODE_MODULES": modules, "NODE_EXTRA_CA_CERTS": ca.name})
    log("login:", (r.stdout + r.stderr).strip())
    return r.returncode == 0 and r.stdout.startswith("OK")


STATE = {}


def kept(d):
    """What must survive restarts: the certificate, the account, the chat history and files."""
    pem, fingerprint = served_certificate()
    assert fingerprint == STATE["fingerprint"], "the certificate is the one browsers accepted before"
    assert login(pem, ACCOUNT[1]), "the account is still there"
    browser("chat_kept.mjs", CHAT_ROOM=STATE["chat_room"])


def test_certificate_names_what_people_use_not_the_container(deployment):
    pem, fingerprint = served_certificate()
    STATE["fingerprint"] = fingerprint
    hostnames = deployment.env_value("PUBLIC_HOSTNAMES")
    assert hostnames, "gen-secrets.sh filled PUBLIC_HOSTNAMES"
    for name in ["127.0.0.1", "localhost", *hostnames.split(",")]:
        assert verifies_as(pem, name), f"the certificate names {name}"
    container_name = run([deployment.engine.docker, "inspect", "-f", "{{.Config.Hostname}}",
                          deployment.container("web")]).stdout.strip()
    assert not verifies_as(pem, container_name), "not the container's own hostname"
    volume_names = deployment.compose("exec", "-T", "web", "cat", "/data/tls/names.txt").stdout
    assert "127.0.0.1" in volume_names and container_name not in volume_names, volume_names


def test_every_service_runs_as_the_unprivileged_user(deployment):
    for svc in SERVICES:
        uid = deployment.compose("exec", "-T", svc, "id", "-u").stdout.strip()
        assert uid == "10001", f"{svc} runs as uid {uid}, not the image's user meet"


def test_three_pages_meet_through_the_published_ports(deployment):
    # The bridge offers only 127.0.0.1:10000 (ADVERTISE_IPS), which reaches its container
    # through the published port and nothing else.
    published = deployment.compose("port", "--protocol=udp", "bridge", "10000").stdout.strip()
    assert published.endswith(":10000"), published
    browser("conference.mjs")
    metrics = deployment.compose("exec", "-T", "bridge", "curl", "-fsS", "http://127.0.0.1:8080/metrics").stdout
    forwarded = int(re.search(r"rtp_forwarded_total\S* (\d+)", metrics).group(1))
    log(f"the bridge container forwarded {forwarded} RTP packets")
    assert forwarded > 1000, "the meeting's media went through the bridge container"


def test_chat_and_files_through_the_web_container(deployment):
    STATE["chat_room"] = f"kept-{int(time.time())}"
    browser("chat.mjs", CHAT_ROOM=STATE["chat_room"])
    # The guide's way to add an account: the password on standard input.
    run(["docker-compose", "exec", "-T", "signal", "signal", "add-account", ACCOUNT[0]],
            input=ACCOUNT[1] + "\n", cwd=deployment.dir, env=deployment.env)
    pem, _ = served_certificate()
    assert login(pem, ACCOUNT[1]), "the new account signs in through web"
    assert not login(pem, "wrong password"), "a wrong password is refused"


def test_restart_keeps_certificate_accounts_chat_and_files(deployment):
    deployment.compose("restart")
    deployment.wait_healthy(SERVICES)
    kept(deployment)


def test_down_and_up_keep_certificate_accounts_chat_and_files(deployment):
    t0 = time.time()
    deployment.compose("down")
    TIMES["down"] = time.time() - t0
    log(f"down took {TIMES['down']:.1f} s")
    assert not deployment.compose("ps", "-q").stdout.strip(), "down removed the containers"
    t0 = time.time()
    deployment.compose("up", "-d")
    deployment.wait_healthy(SERVICES)
    TIMES["up after down -> healthy"] = time.time() - t0
    kept(deployment)


def test_env_change_and_up_recreates_web_with_the_same_certificate(deployment):
    before = deployment.container("web")
    # Two settings an admin changes: web's log filter (every service is recreated) and
    # peer-to-peer off (the bridge overlay below wants two pages on a bridge).
    deployment.set_env("RUST_LOG", "info,web=debug")
    deployment.set_env("P2P_ENABLED", "false")
    deployment.compose("up", "-d")
    deployment.wait_healthy(SERVICES)
    assert deployment.container("web") != before, "web was recreated: a new container, hostname and address"
    _, fingerprint = served_certificate()
    assert fingerprint == STATE["fingerprint"], "the certificate stays"


def test_second_bridge_takes_over_a_meeting_when_the_first_is_killed(deployment):
    deployment.files = OVERLAY
    deployment.compose("up", "-d")
    deployment.wait_healthy(SERVICES + ["bridge2"])
    compose = json.dumps(["docker-compose", *OVERLAY])
    browser("bridge_failover.mjs", cwd=deployment.dir, COMPOSE=compose, BRIDGES="bridge,bridge2",
            COMPOSE_PROJECT_NAME=deployment.env["COMPOSE_PROJECT_NAME"])
