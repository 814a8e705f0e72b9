"""Local stack: fetch, start, check and stop OpenSearch and Redis as plain processes.

    python -m devtools.stack up       start what is not already running, then verify it
    python -m devtools.stack down     stop the processes this script started (by pid file)
    python -m devtools.stack status   print URLs and whether each service answers

    python -m devtools.stack up --nodes 3      a local three-node cluster and its Redis
                                               (devtools/cluster.py: kill-node, start-node,
                                               env are its other commands)

Everything lives under `.stack/` (git-ignored); data is kept between runs. When
OPENSEARCH_HOSTS or REDIS_URL point somewhere other than the local defaults, the
matching local service is not started. The default (no --nodes) is the single node on
9200 and Redis on 6390 that `make services` and `make test` use; the cluster lives
under `.stack/cluster/` on ports of its own, so both can run side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
STACK = Path(os.environ.get("STACK_DIR", ROOT / ".stack"))

OPENSEARCH_VERSION = "3.8.0"
OPENSEARCH_ARTIFACT = (
    f"org.opensearch.distribution.integ-test-zip:opensearch:{OPENSEARCH_VERSION}:zip"
)
LOCAL_OPENSEARCH = "http://127.0.0.1:9200"
LOCAL_REDIS = "redis://127.0.0.1:6390/0"
OPENSEARCH_HEAP = os.environ.get("OPENSEARCH_HEAP", "2g")
# Modules that the mappings and the service rely on: analyzers (edge n-grams, folding),
# search_as_you_type, server-side _reindex, and painless (analysis-common extends it).
REQUIRED_MODULES = ("analysis-common", "mapper-extras", "reindex", "lang-painless")
# OpenSearch refuses to run as root; when we are root it runs as this system user.
SERVICE_USER = "contacts-os"


def log(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def fail(message: str) -> None:
    print(f"[stack] ERROR: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


# --- helpers -----------------------------------------------------------------


def http_json(url: str, timeout: float = 2.0) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def find_java(minimum: int = 21) -> Path:
    """A JDK home of at least `minimum`: JAVA_HOME first, then /usr/lib/jvm."""
    candidates = [os.environ.get("OPENSEARCH_JAVA_HOME"), os.environ.get("JAVA_HOME")]
    candidates += sorted(str(p) for p in Path("/usr/lib/jvm").glob("*") if p.is_dir())
    for home in filter(None, candidates):
        release = Path(home) / "release"
        if not release.exists():
            continue
        for line in release.read_text().splitlines():
            if line.startswith("JAVA_VERSION="):
                major = int(line.split("=")[1].strip('"').split(".")[0])
                if major >= minimum:
                    return Path(home)
    fail(f"OpenSearch {OPENSEARCH_VERSION} needs Java {minimum}+; set JAVA_HOME to such a JDK")
    raise AssertionError


# --- OpenSearch --------------------------------------------------------------


def opensearch_home() -> Path:
    return STACK / f"opensearch-{OPENSEARCH_VERSION}"


def fetch_opensearch() -> None:
    home = opensearch_home()
    if (home / "bin" / "opensearch").exists():
        return
    downloads = STACK / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    archive = downloads / f"opensearch-{OPENSEARCH_VERSION}.zip"
    if not archive.exists():
        log(f"fetching {OPENSEARCH_ARTIFACT} from Maven Central")
        if not shutil.which("mvn"):
            fail("mvn is required to fetch OpenSearch (apt-get install -y maven)")
        subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact={OPENSEARCH_ARTIFACT}",
                f"-DoutputDirectory={downloads}",
            ],
            check=True,
        )
    log(f"unpacking {archive.name}")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(STACK)
    for script in (home / "bin").iterdir():
        script.chmod(0o755)
    missing = [m for m in REQUIRED_MODULES if not (home / "modules" / m).is_dir()]
    if missing:
        fail(f"the distribution lacks modules {missing}; see README 'OpenSearch modules'")


def ensure_service_user() -> None:
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
        )
    # The service user must be able to walk down to .stack/ (a clone under /root is 0700).
    for parent in [*reversed(STACK.parents), STACK]:
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            parent.chmod(os.stat(parent).st_mode | 0o001)


def launch_opensearch(
    port: int, folder: Path, heap: str = OPENSEARCH_HEAP, cluster: list[str] | None = None
) -> Path:
    """Start a node on 127.0.0.1:`port` with its data under `folder`-*; its pid file.

    `cluster` (the HTTP URLs of every node, this one included) makes the node join a
    cluster of those nodes instead of running alone; node names follow their ports.
    """
    fetch_opensearch()
    home = opensearch_home()
    data, logs, run = (Path(f"{folder}-{name}") for name in ("data", "logs", "run"))
    for path in (data, logs, run):
        path.mkdir(parents=True, exist_ok=True)
    pid_file = run / "opensearch.pid"
    java = find_java()
    env = dict(
        os.environ,
        OPENSEARCH_JAVA_HOME=str(java),
        OPENSEARCH_JAVA_OPTS=f"-Xms{heap} -Xmx{heap}",
    )
    command = [
        str(home / "bin" / "opensearch"),
        "-d",
        "-p",
        str(pid_file),
        *(cluster_settings(cluster) if cluster else ["-Ediscovery.type=single-node"]),
        *([f"-Enode.name=node-{port}"] if cluster else []),
        "-Enetwork.host=127.0.0.1",
        f"-Ehttp.port={port}",
        f"-Etransport.port={port + 100}",
        f"-Epath.data={data}",
        f"-Epath.logs={logs}",
        f"-Ecluster.name=contacts-{urlparse(cluster[0]).port if cluster else port}",
        # A shared dev machine fills its disk; do not flip indices read-only at 95 %.
        "-Ecluster.routing.allocation.disk.threshold_enabled=false",
        "-Eaction.auto_create_index=false",
    ]
    if os.geteuid() == 0:
        ensure_service_user()
        for path in (home, data, logs, run):
            subprocess.run(["chown", "-R", SERVICE_USER, str(path)], check=True)
        command = ["runuser", "-u", SERVICE_USER, "--", *command]
    log(f"starting OpenSearch {OPENSEARCH_VERSION} on port {port} (Java {java.name})")
    with open(logs / "startup.log", "ab") as out:
        subprocess.run(command, env=env, cwd=home, check=True, stdout=out, stderr=out)
    return pid_file


def cluster_settings(nodes: list[str]) -> list[str]:
    """Discovery of a local multi-node cluster: every node seeds from every transport port,
    and the first start bootstraps with all of them as cluster-manager candidates (three
    eligible managers: losing any one keeps a quorum)."""
    ports = [urlparse(url).port for url in nodes]
    return [
        "-Ediscovery.seed_hosts=" + ",".join(f"127.0.0.1:{p + 100}" for p in ports),
        "-Ecluster.initial_cluster_manager_nodes=" + ",".join(f"node-{p}" for p in ports),
    ]


def wait_for_opensearch(url: str, timeout: float = 180) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        health = http_json(f"{url}/_cluster/health?wait_for_status=yellow&timeout=1s")
        if health and health.get("status") in ("yellow", "green"):
            return True
        time.sleep(1)
    return False


def start_opensearch(url: str) -> None:
    if http_json(url):
        log(f"OpenSearch already up at {url}")
        return
    launch_opensearch(urlparse(url).port or 9200, STACK / "opensearch")
    if not wait_for_opensearch(url):
        fail(f"OpenSearch did not become ready; see {STACK / 'opensearch-logs'}")


def verify_modules(url: str) -> None:
    info = http_json(f"{url}/_nodes/plugins", timeout=10) or {}
    for node in info.get("nodes", {}).values():
        loaded = {m["name"] for m in node.get("modules", [])}
        loaded |= {p["name"] for p in node.get("plugins", [])}
        missing = [m for m in REQUIRED_MODULES if m not in loaded]
        if missing:
            fail(f"OpenSearch node {node.get('name')} lacks modules {missing}")
    if not info.get("nodes"):
        fail(f"could not read {url}/_nodes/plugins")
    log(f"modules loaded: {', '.join(REQUIRED_MODULES)}")


def stop_pid(pid_file: Path, name: str) -> None:
    pid = pid_alive(pid_file)
    if not pid:
        log(f"{name} not running (no live pid in {pid_file.name})")
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(60):
        if not pid_alive(pid_file):
            break
        time.sleep(0.5)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    log(f"stopped {name} (pid {pid})")


# --- Redis -------------------------------------------------------------------


def redis_ping(url: str) -> bool:
    parsed = urlparse(url)
    cli = shutil.which("redis-cli")
    if not cli:
        return False
    result = subprocess.run(
        [cli, "-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 6379), "ping"],
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() == "PONG"


def start_redis(url: str, folder: Path | None = None, pid_file: Path | None = None) -> None:
    if not shutil.which("redis-server"):
        if os.geteuid() != 0:
            fail("redis-server is not installed (apt-get install -y redis-server)")
        log("installing redis-server from Debian packages")
        subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "redis-server"],
            check=True,
            stdout=subprocess.DEVNULL,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
        )
    if redis_ping(url):
        log(f"Redis already up at {url}")
        return
    folder = folder or STACK / "redis"
    pid_file = pid_file or STACK / "redis.pid"
    folder.mkdir(parents=True, exist_ok=True)
    port = urlparse(url).port or 6390
    subprocess.run(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(folder),
            "--daemonize",
            "yes",
            "--pidfile",
            str(pid_file),
            "--logfile",
            str(folder / "redis.log"),
            "--appendonly",
            "yes",
            "--save",
            "60 1000",
            "--protected-mode",
            "yes",
        ],
        check=True,
    )
    for _ in range(50):
        if redis_ping(url):
            log(f"started Redis on {url}")
            return
        time.sleep(0.2)
    fail(f"Redis did not start; see {folder / 'redis.log'}")


# --- commands ----------------------------------------------------------------


def targets() -> tuple[str | None, str | None]:
    """The URLs of the services to manage locally (None when configured elsewhere)."""
    hosts = os.environ.get("OPENSEARCH_HOSTS", LOCAL_OPENSEARCH).split(",")[0].strip()
    redis_url = os.environ.get("REDIS_URL", LOCAL_REDIS)
    local_os = hosts.rstrip("/") if urlparse(hosts).hostname in ("127.0.0.1", "localhost") else None
    local_redis = redis_url if urlparse(redis_url).hostname in ("127.0.0.1", "localhost") else None
    return local_os, local_redis


def up() -> None:
    STACK.mkdir(parents=True, exist_ok=True)
    os_url, redis_url = targets()
    if redis_url:
        start_redis(redis_url)
    if os_url:
        start_opensearch(os_url)
        verify_modules(os_url)
    status()


def down() -> None:
    stop_pid(STACK / "opensearch-run" / "opensearch.pid", "OpenSearch")
    stop_pid(STACK / "redis.pid", "Redis")


def status() -> None:
    os_url, redis_url = targets()
    os_url = os_url or os.environ.get("OPENSEARCH_HOSTS", "")
    redis_url = redis_url or os.environ.get("REDIS_URL", "")
    os_state = "up" if http_json(os_url) else "down"
    redis_state = "up" if redis_ping(redis_url) else "down"
    log(f"OpenSearch {os_url} {os_state}")
    log(f"Redis      {redis_url} {redis_state}")


def main() -> None:
    from devtools import cluster  # the multi-node commands (it imports this module)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", choices=["up", "down", "status", "env", "kill-node", "start-node"]
    )
    parser.add_argument("node", nargs="?", type=int, help="kill-node / start-node: 1..nodes")
    parser.add_argument(
        "--nodes", type=int, default=1, help="1: the default single node; 2+: a local cluster"
    )
    args = parser.parse_args()
    nodes = max(args.nodes, 3) if args.command in ("env", "kill-node", "start-node") else args.nodes
    if args.command in ("kill-node", "start-node"):
        if not args.node or not 1 <= args.node <= nodes:
            fail(f"name a node 1..{nodes}: kill-node 2")
        if args.command == "kill-node":
            cluster.kill_node(args.node)
        else:
            cluster.start_node(args.node, nodes)
    elif args.command == "env":
        for key, value in cluster.cluster_env(nodes).items():
            print(f"export {key}={value}")
    elif nodes > 1:
        commands = {"up": cluster.cluster_up, "down": cluster.cluster_down}
        commands.get(args.command, cluster.cluster_status)(nodes)
    else:
        {"up": up, "down": down, "status": status}[args.command]()


if __name__ == "__main__":
    main()
