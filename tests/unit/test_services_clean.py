"""``make clean`` (``scripts/services.sh clean`` after ``scripts/apps.sh stop``) deletes all
local state, PostgreSQL's cluster included where it lives outside ``.local/`` behind the
``.local/pg`` link (issue 16: a removed ``.local/`` left it behind, and its old consumer
offsets met an empty Kafka). Run on a copy of the scripts, with no server running."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def outside_cluster(root: Path) -> Path:
    """Where services.sh puts the cluster when .local/ will not do (``cksum`` of the root)."""
    listed = subprocess.run(
        ["cksum"], input=str(root).encode(), capture_output=True, check=True
    ).stdout.split()[0]
    return Path(f"/var/tmp/realanalytics-{listed.decode()}") / "pg"


def copy_scripts(root: Path) -> None:
    (root / "scripts" / "kafka").mkdir(parents=True)
    for name in ("services.sh", "apps.sh"):
        shutil.copy(REPO / "scripts" / name, root / "scripts" / name)
    shutil.copy(REPO / "scripts" / "kafka" / "pom.xml", root / "scripts" / "kafka" / "pom.xml")


def test_clean_deletes_local_state_and_the_cluster_behind_the_link(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    copy_scripts(root)
    cluster = outside_cluster(root)
    (cluster / "data").mkdir(parents=True)
    (cluster / "data" / "PG_VERSION").write_text("15\n")
    (root / ".local" / "logs").mkdir(parents=True)
    (root / ".local" / "logs" / "worker.log").write_text("x")
    (root / ".local" / "pg").symlink_to(cluster)
    try:
        for script in ("apps.sh", "services.sh"):
            command = "stop" if script == "apps.sh" else "clean"
            done = subprocess.run(
                ["bash", str(root / "scripts" / script), command],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
        assert not (root / ".local").exists()
        assert not cluster.exists() and not cluster.parent.exists()
        assert (root / "scripts" / "services.sh").exists()  # only state goes
    finally:
        shutil.rmtree(cluster.parent, ignore_errors=True)


def test_stop_also_stops_a_server_set_kept_inside(tmp_path: Path) -> None:
    """The fault suite keeps its servers in .local/faults (RA_STATE_DIR): ``make stop`` and
    CI's exit stop them too, not only the main set (they were left running)."""
    root = tmp_path / "repo"
    copy_scripts(root)
    home = root / ".local" / "faults" / "redis"
    home.mkdir(parents=True)
    (home.parent / "ports.env").write_text("")
    pid_file = home / "redis.pid"
    # Daemonized (not this process's child, as services.sh starts it) on a socket file only.
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--pidfile", str(pid_file), "--port", "0",
         "--unixsocket", str(home / "redis.sock"), "--save", "", "--dir", str(home)],
        check=True,
        timeout=10,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    try:
        done = subprocess.run(
            ["bash", str(root / "scripts" / "services.sh"), "stop"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert not alive(pid), "the nested set's redis-server still runs"
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
